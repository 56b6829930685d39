#include "os/process.hpp"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "sagaflow/core/error.hpp"

extern char** environ;

namespace sagaflow::os {
namespace {

// PATH lookup before fork: the child calls only async-signal-safe functions.
std::string Resolve(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    const char* path = std::getenv("PATH");
    std::string dirs = path != nullptr ? path : "/usr/local/bin:/usr/bin:/bin";
    std::size_t begin = 0;
    while (begin <= dirs.size()) {
        std::size_t end = dirs.find(':', begin);
        if (end == std::string::npos) end = dirs.size();
        std::string candidate = dirs.substr(begin, end - begin);
        candidate = (candidate.empty() ? "." : candidate) + "/" + program;
        if (access(candidate.c_str(), X_OK) == 0) return candidate;
        begin = end + 1;
    }
    throw Error(ErrorCode::kUnavailable, "cannot start '" + program + "': not found in PATH");
}

class Fd {
public:
    explicit Fd(int fd = -1) : fd_(fd) {}
    ~Fd() { Reset(); }
    Fd(const Fd&) = delete;
    Fd& operator=(const Fd&) = delete;
    void Reset(int fd = -1) {
        if (fd_ >= 0) close(fd_);
        fd_ = fd;
    }
    [[nodiscard]] int get() const { return fd_; }

private:
    int fd_;
};

// What the child needs, prepared before fork.
struct Prepared {
    std::string path;
    std::vector<std::string> args;
    std::vector<char*> argv;
    std::vector<char*> envp;
    Fd in{open("/dev/null", O_RDONLY | O_CLOEXEC)};
    Fd out;
    Fd report_read, report_write;  // exec failure: the child writes errno here
};

void Prepare(Prepared& p, const std::vector<std::string>& argv, const SpawnOptions& o) {
    if (argv.empty()) throw Error(ErrorCode::kInvalidArgument, "no program to run");
    p.path = Resolve(argv[0]);
    p.args = argv;
    for (std::string& a : p.args) p.argv.push_back(a.data());
    p.argv.push_back(nullptr);
    // systemd's notification socket is sagad's own: a child that inherits it (the embedded
    // PostgreSQL does sd_notify too) would say READY=1 before sagad is ready.
    for (char** e = environ; *e != nullptr; ++e) {
        if (std::strncmp(*e, "NOTIFY_SOCKET=", 14) != 0) p.envp.push_back(*e);
    }
    p.envp.push_back(nullptr);
    if (!o.output_file.empty()) {
        p.out.Reset(open(o.output_file.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600));
        if (p.out.get() < 0) {
            throw Error(ErrorCode::kUnavailable, "cannot open " + o.output_file + ": " + std::strerror(errno));
        }
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(ErrorCode::kUnavailable, "pipe failed");
    p.report_read.Reset(fds[0]);
    p.report_write.Reset(fds[1]);
}

// In the child: only async-signal-safe calls until exec.
[[noreturn]] void ExecChild(const Prepared& p, const SpawnOptions& o, int stdout_fd) {
    auto fail = [&](int err) {
        (void)!write(p.report_write.get(), &err, sizeof err);
        _exit(127);
    };
    if (p.in.get() >= 0 && dup2(p.in.get(), STDIN_FILENO) < 0) fail(errno);
    if (stdout_fd >= 0 && dup2(stdout_fd, STDOUT_FILENO) < 0) fail(errno);
    if (p.out.get() >= 0 && dup2(p.out.get(), STDERR_FILENO) < 0) fail(errno);
    if (!o.cwd.empty() && chdir(o.cwd.c_str()) != 0) fail(errno);
    if (o.run_as) {
        const gid_t gid = o.run_as->gid;
        if (setgroups(1, &gid) != 0 || setgid(gid) != 0 || setuid(o.run_as->uid) != 0) fail(errno);
    }
    execve(p.path.c_str(), p.argv.data(), p.envp.data());
    fail(errno);
    _exit(127);
}

// After fork in the parent: did exec succeed? Throws with the child's errno if not.
void ExpectExec(Prepared& p, const std::string& program) {
    p.report_write.Reset();
    int err = 0;
    ssize_t n;
    do {
        n = read(p.report_read.get(), &err, sizeof err);
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof err)) {
        throw Error(ErrorCode::kUnavailable, "cannot start '" + program + "': " + std::strerror(err));
    }
}

int WaitFor(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return 127;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return 127;
}

pid_t Fork() {
    const pid_t pid = fork();
    if (pid < 0) throw Error(ErrorCode::kUnavailable, std::string("fork failed: ") + std::strerror(errno));
    return pid;
}

}  // namespace

int Run(const std::vector<std::string>& argv, const SpawnOptions& options) {
    Prepared p;
    Prepare(p, argv, options);
    const pid_t pid = Fork();
    if (pid == 0) ExecChild(p, options, p.out.get());
    try {
        ExpectExec(p, argv[0]);
    } catch (...) {
        WaitFor(pid);
        throw;
    }
    return WaitFor(pid);
}

std::optional<std::string> Capture(const std::vector<std::string>& argv, const SpawnOptions& options) {
    Prepared p;
    Prepare(p, argv, options);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) throw Error(ErrorCode::kUnavailable, "pipe failed");
    Fd read_end(fds[0]);
    Fd write_end(fds[1]);
    const pid_t pid = Fork();
    if (pid == 0) ExecChild(p, options, write_end.get());
    write_end.Reset();
    try {
        ExpectExec(p, argv[0]);
    } catch (...) {
        WaitFor(pid);
        throw;
    }
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t n = read(read_end.get(), buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        out.append(buf, static_cast<std::size_t>(n));
    }
    if (WaitFor(pid) != 0) return std::nullopt;
    return out;
}

void SpawnDetached(const std::vector<std::string>& argv, const SpawnOptions& options) {
    Prepared p;
    Prepare(p, argv, options);
    const pid_t pid = Fork();
    if (pid == 0) {
        // The middle child: a new session, then the daemon, then gone, so init adopts it.
        if (setsid() < 0) _exit(127);
        const pid_t daemon = fork();
        if (daemon < 0) _exit(127);
        if (daemon == 0) ExecChild(p, options, p.out.get());
        _exit(0);
    }
    WaitFor(pid);
    ExpectExec(p, argv[0]);
}

std::optional<RunAs> LookUpUser(const std::string& name) {
    const passwd* pw = getpwnam(name.c_str());
    if (pw == nullptr) return std::nullopt;
    return RunAs{pw->pw_uid, pw->pw_gid};
}

}  // namespace sagaflow::os
