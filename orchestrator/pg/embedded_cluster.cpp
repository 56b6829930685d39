#include "embedded_cluster.hpp"

#include <libpq-fe.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "connection.hpp"
#include "os/process.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::pg {
namespace {

namespace fs = std::filesystem;

// The first line of a pg_hba.conf this class wrote: how a locked cluster is recognised.
constexpr const char* kHbaMarker = "# sagaflow: locked (scram-sha-256 for every connection)";

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string Tail(const std::string& text, std::size_t bytes = 4000) {
    return text.size() <= bytes ? text : text.substr(text.size() - bytes);
}

std::string FindBindir() {
    if (const char* env = std::getenv("SAGAFLOW_PG_BINDIR")) return env;
    try {
        if (auto out = os::Capture({"pg_config", "--bindir"})) {
            std::string s = *out;
            while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
            if (!s.empty() && fs::exists(s + "/initdb")) return s;
        }
    } catch (const Error&) {
        // No pg_config on PATH: the Debian default below.
    }
    return "/usr/lib/postgresql/15/bin";
}

// 192 bits from the kernel, as hex: nothing in it needs quoting anywhere.
std::string RandomPassword() {
    std::ifstream urandom("/dev/urandom", std::ios::binary);
    unsigned char bytes[24];
    if (!urandom.read(reinterpret_cast<char*>(bytes), sizeof bytes)) {
        throw Error(ErrorCode::kUnavailable, "cannot read /dev/urandom");
    }
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    for (unsigned char b : bytes) {
        out += kHex[b >> 4];
        out += kHex[b & 15];
    }
    return out;
}

// Writes `content` to `path` with mode 0600 (owned by `owner` when set), replacing it whole.
void WritePrivate(const std::string& path, const std::string& content,
                  const std::optional<os::RunAs>& owner) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << content;
        if (!out) throw Error(ErrorCode::kUnavailable, "cannot write " + tmp);
    }
    if (chmod(tmp.c_str(), 0600) != 0 ||
        (owner && chown(tmp.c_str(), owner->uid, owner->gid) != 0) ||
        std::rename(tmp.c_str(), path.c_str()) != 0) {
        throw Error(ErrorCode::kUnavailable, "cannot set up " + path);
    }
}

// A value for a postgresql.conf list (unix_socket_directories): double quotes, doubled.
std::string ConfListQuote(const std::string& value) {
    std::string out = "\"";
    for (char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

bool Alive(int pid) { return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM); }

}  // namespace

std::string ConninfoQuote(const std::string& value) {
    std::string out = "'";
    for (char c : value) {
        if (c == '\'' || c == '\\') out += '\\';
        out += c;
    }
    return out + "'";
}

EmbeddedCluster::EmbeddedCluster(EmbeddedOptions options) : options_(std::move(options)) {
    if (options_.dir.find('\n') != std::string::npos || options_.dir.find('\0') != std::string::npos) {
        throw Error(ErrorCode::kFailedPrecondition, "the data directory's name must not contain a newline");
    }
    bindir_ = FindBindir();
    fs::create_directories(options_.dir);
    options_.dir = fs::canonical(options_.dir).string();
    // The directory holds the socket and the password file: the owner's alone.
    if (chmod(options_.dir.c_str(), 0700) != 0) {
        throw Error(ErrorCode::kFailedPrecondition, "cannot chmod 0700 " + options_.dir);
    }
    if (geteuid() == 0) {
        const auto postgres = os::LookUpUser("postgres");
        if (!postgres) throw Error(ErrorCode::kFailedPrecondition, "running as root needs a 'postgres' user");
        if (chown(options_.dir.c_str(), postgres->uid, postgres->gid) != 0) {
            throw Error(ErrorCode::kFailedPrecondition, "cannot chown " + options_.dir + " to postgres");
        }
        owner_ = postgres;
    }
    data_ = options_.dir + "/data";
    pgpass_ = options_.dir + "/pgpass";
    dsn_ = "host=" + ConninfoQuote(options_.dir) + " port=5432 user=postgres dbname=postgres passfile=" +
           ConninfoQuote(pgpass_) + " connect_timeout=5";
}

EmbeddedCluster::~EmbeddedCluster() {
    if (pid_ == 0) return;
    try {
        Stop(true);
    } catch (...) {
        // The server is told to stop; nothing more to do in a destructor.
    }
}

void EmbeddedCluster::Init() {
    const std::string password = RandomPassword();
    // The password file first: a crash after initdb must not leave a password nobody has.
    WritePassword(password);
    const std::string pwfile = options_.dir + "/initdb.pw";
    WritePrivate(pwfile, password + "\n", owner_);
    std::vector<std::string> argv{bindir_ + "/initdb", "-D", data_, "-U", "postgres", "-E", "UTF8",
                                  "--locale=C", "--auth=scram-sha-256", "--pwfile=" + pwfile};
    if (!options_.durable) argv.emplace_back("--no-sync");
    const int rc = os::Run(argv, {options_.dir + "/setup.log", options_.dir, owner_});
    fs::remove(pwfile);
    if (rc != 0) {
        throw Error(ErrorCode::kUnavailable, "initdb failed (exit " + std::to_string(rc) + "):\n" +
                                                 Tail(ReadFile(options_.dir + "/setup.log")));
    }
    WriteHba();
}

void EmbeddedCluster::WritePassword(const std::string& password) const {
    WritePrivate(pgpass_, "*:*:*:postgres:" + password + "\n", owner_);
}

void EmbeddedCluster::WriteHba() const {
    WritePrivate(data_ + "/pg_hba.conf",
                 std::string(kHbaMarker) +
                     "\n# Unix socket only (no TCP listener), in a 0700 directory.\n"
                     "local all all scram-sha-256\n",
                 owner_);
}

int EmbeddedCluster::RunningPid() const {
    std::istringstream pidfile(ReadFile(data_ + "/postmaster.pid"));
    int pid = 0;
    pidfile >> pid;
    return Alive(pid) ? pid : 0;
}

void EmbeddedCluster::Launch() {
    std::vector<std::string> argv{bindir_ + "/postgres",
                                  "-D", data_,
                                  "-c", "unix_socket_directories=" + ConfListQuote(options_.dir),
                                  "-c", "unix_socket_permissions=0700",
                                  "-c", "listen_addresses=",
                                  "-c", "max_connections=" + std::to_string(options_.max_connections)};
    if (!options_.durable) {
        argv.emplace_back("-c");
        argv.emplace_back("fsync=off");
    }
    os::SpawnDetached(argv, {options_.dir + "/server.log", options_.dir, owner_});
}

void EmbeddedCluster::WaitUntil(bool accepting, int pid) const {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
        if (accepting) {
            if (PQping(dsn_.c_str()) == PQPING_OK) return;
        } else if (!Alive(pid)) {
            return;
        }
        if (std::chrono::steady_clock::now() > deadline) {
            throw Error(ErrorCode::kUnavailable,
                        std::string("PostgreSQL did not ") + (accepting ? "start" : "stop") +
                            " within 60 s:\n" + Tail(ReadFile(options_.dir + "/server.log")));
        }
        // Polling an external process, as pg_ctl does; not test synchronisation.
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void EmbeddedCluster::Tighten() {
    // Reached over the old trust rules, on a socket in a directory that is 0700 by now.
    Connection conn(dsn_);
    const std::string password = RandomPassword();
    WritePassword(password);
    conn.Exec("SET password_encryption = 'scram-sha-256'");
    conn.Exec("ALTER ROLE postgres PASSWORD '" + password + "'");
    WriteHba();
    conn.Exec("SELECT pg_reload_conf()");
    tightened_ = true;
}

void EmbeddedCluster::Start() {
    if (!fs::exists(data_ + "/PG_VERSION")) Init();
    // A sagad killed with SIGKILL leaves its server running: adopt it rather than fail.
    if (RunningPid() == 0) Launch();
    WaitUntil(true, 0);
    pid_ = RunningPid();
    const bool locked = ReadFile(data_ + "/pg_hba.conf").rfind(kHbaMarker, 0) == 0 && fs::exists(pgpass_);
    if (!locked) Tighten();
}

void EmbeddedCluster::Stop(bool fast) {
    if (pid_ == 0) return;
    const int pid = std::exchange(pid_, 0);
    if (kill(pid, fast ? SIGINT : SIGQUIT) != 0 && errno == ESRCH) return;
    WaitUntil(false, pid);
}

}  // namespace sagaflow::pg
