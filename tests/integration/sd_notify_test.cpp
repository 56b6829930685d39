// sagad tells systemd (Type=notify) when it serves and when it stops: a real sagad, with
// NOTIFY_SOCKET naming a datagram socket this test reads, as systemd would.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace sagaflow::testing {
namespace {

// Reads datagrams until one contains `want` or `within` passes; returns what came.
std::string AwaitNotice(int fd, const std::string& want, std::chrono::seconds within) {
    std::string all;
    const auto until = std::chrono::steady_clock::now() + within;
    while (all.find(want) == std::string::npos) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
        char buf[512];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n > 0) all.append(buf, static_cast<std::size_t>(n)).append("\n");
    }
    return all;
}

TEST(SdNotify, SagadSaysReadyWhenItServesAndStoppingOnSigterm) {
    char tmpl[] = "/tmp/sagaflow-notify-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string dir = tmpl;
    ::chmod(dir.c_str(), 0755);  // the embedded cluster runs as postgres under it
    const std::string sock = dir + "/notify.sock";
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sock.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ::chmod(sock.c_str(), 0777);

    const std::vector<std::string> args{SAGAFLOW_SAGAD, "--data-dir", dir + "/data", "--worker-endpoint",
                                        "tcp://127.0.0.1:*", "--http-listen", "127.0.0.1:0", "--log-level", "warn"};
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const std::string env = "NOTIFY_SOCKET=" + sock;
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::putenv(const_cast<char*>(env.c_str()));
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ASSERT_GT(pid, 0);
    const std::string ready = AwaitNotice(fd, "READY=1", std::chrono::seconds(90));
    EXPECT_NE(ready.find("READY=1"), std::string::npos) << ready;
    EXPECT_NE(ready.find("STATUS=active"), std::string::npos) << ready;
    ::kill(pid, SIGTERM);
    const std::string stopping = AwaitNotice(fd, "STOPPING=1", std::chrono::seconds(30));
    EXPECT_NE(stopping.find("STOPPING=1"), std::string::npos) << stopping;
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    ::close(fd);
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
}

}  // namespace
}  // namespace sagaflow::testing
