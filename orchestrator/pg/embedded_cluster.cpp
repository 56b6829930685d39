#include "embedded_cluster.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "sagaflow/core/error.hpp"

namespace sagaflow::pg {
namespace {

std::string ReadFile(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

std::string FindBindir() {
    if (const char* env = std::getenv("SAGAFLOW_PG_BINDIR")) return env;
    if (FILE* p = popen("pg_config --bindir 2>/dev/null", "r")) {
        char buf[512] = {};
        const bool got = fgets(buf, sizeof buf, p) != nullptr;
        pclose(p);
        std::string s = got ? buf : "";
        while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
        if (!s.empty() && std::filesystem::exists(s + "/initdb")) return s;
    }
    return "/usr/lib/postgresql/15/bin";
}

}  // namespace

EmbeddedCluster::EmbeddedCluster(EmbeddedOptions options) : options_(std::move(options)) {
    bindir_ = FindBindir();
    std::filesystem::create_directories(options_.dir);
    options_.dir = std::filesystem::canonical(options_.dir).string();
    if (geteuid() == 0) {
        const passwd* pw = getpwnam("postgres");
        if (pw == nullptr) {
            throw Error(ErrorCode::kFailedPrecondition, "running as root needs a 'postgres' user");
        }
        if (chown(options_.dir.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            throw Error(ErrorCode::kFailedPrecondition, "cannot chown " + options_.dir + " to postgres");
        }
        as_user_ = "runuser -u postgres -- ";
    }
    dsn_ = "host=" + options_.dir + " port=5432 user=postgres dbname=postgres connect_timeout=5";
}

EmbeddedCluster::~EmbeddedCluster() {
    if (pid_ == 0) return;
    try {
        Stop(true);
    } catch (...) {
        // The server is told to stop; nothing more to do in a destructor.
    }
}

void EmbeddedCluster::Run(const std::string& command) const {
    const std::string log = options_.dir + "/setup.log";
    const std::string full = as_user_ + command + " >>" + log + " 2>&1";
    if (std::system(full.c_str()) != 0) {
        throw Error(ErrorCode::kUnavailable, "command failed: " + command + "\n" + ReadFile(log) +
                                                 ReadFile(options_.dir + "/server.log"));
    }
}

void EmbeddedCluster::Start() {
    const std::string data = options_.dir + "/data";
    if (!std::filesystem::exists(data + "/PG_VERSION")) {
        Run(bindir_ + "/initdb -D " + data + " -A trust -U postgres -E UTF8 --locale=C" +
            (options_.durable ? "" : " --no-sync"));
    }
    // A sagad killed with SIGKILL leaves its server running: adopt it rather than fail.
    const std::string status = as_user_ + bindir_ + "/pg_ctl -D " + data + " status >/dev/null 2>&1";
    if (std::filesystem::exists(data + "/postmaster.pid") && std::system(status.c_str()) == 0) {
        std::istringstream pidfile(ReadFile(data + "/postmaster.pid"));
        pidfile >> pid_;
        return;
    }
    std::string settings = "-k " + options_.dir + " -c listen_addresses='' -c max_connections=" +
                           std::to_string(options_.max_connections);
    if (!options_.durable) settings += " -c fsync=off";
    Run(bindir_ + "/pg_ctl -D " + data + " -l " + options_.dir + "/server.log -w -t 60 -o \"" +
        settings + "\" start");
    std::istringstream pidfile(ReadFile(data + "/postmaster.pid"));
    pidfile >> pid_;
}

void EmbeddedCluster::Stop(bool fast) {
    if (pid_ == 0) return;
    pid_ = 0;
    Run(bindir_ + "/pg_ctl -D " + options_.dir + "/data -m " + (fast ? "fast" : "immediate") +
        " -w stop");
}

}  // namespace sagaflow::pg
