#include "pg_cluster.hpp"

#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "migrate.hpp"
#include "sagaflow/core/ids.hpp"

namespace sagaflow::testing {
namespace {

std::unique_ptr<PgCluster> g_cluster;
std::atomic<pid_t> g_postmaster{0};

// If the test binary dies on a signal, take the server down with it. kill() is
// async-signal-safe; the temp dir is left behind in that case, the server is not.
void OnFatalSignal(int sig) {
    const pid_t pid = g_postmaster.load();
    if (pid > 0) kill(pid, SIGQUIT);
    signal(sig, SIG_DFL);
    raise(sig);
}

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

PgCluster::PgCluster() {
    if (const char* env = std::getenv("SAGAFLOW_TEST_PG_DSN"); env && *env) {
        dsn_ = env;
        return;
    }
    bindir_ = FindBindir();
    char templ[] = "/tmp/sagaflow-pg-XXXXXX";
    if (mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    if (geteuid() == 0) {
        const passwd* pw = getpwnam("postgres");
        if (pw == nullptr) throw std::runtime_error("running as root needs a 'postgres' user");
        if (chown(dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
            throw std::runtime_error("chown of " + dir_ + " failed");
        }
        as_user_ = "runuser -u postgres -- ";
    }
    Run(bindir_ + "/initdb -D " + dir_ + "/data -A trust -U postgres --no-sync -E UTF8 --locale=C");
    Start();
    dsn_ = "host=" + dir_ + " port=5432 user=postgres dbname=postgres connect_timeout=5";
}

PgCluster::~PgCluster() {
    if (dir_.empty()) return;
    try {
        Stop();
    } catch (...) {
        // Best effort: the directory goes anyway.
    }
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
}

void PgCluster::Run(const std::string& command) const {
    const std::string log = dir_ + "/setup.log";
    const std::string full = as_user_ + command + " >>" + log + " 2>&1";
    if (std::system(full.c_str()) != 0) {
        throw std::runtime_error("command failed: " + command + "\n" + ReadFile(log));
    }
}

void PgCluster::Start() {
    if (dir_.empty()) return;
    // fsync off: the cluster is thrown away; crash tests kill processes, not the OS.
    Run(bindir_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -t 60 -o \"-k " +
        dir_ + " -c listen_addresses='' -c fsync=off -c max_connections=200\" start");
    std::istringstream pidfile(ReadFile(dir_ + "/data/postmaster.pid"));
    pid_t pid = 0;
    pidfile >> pid;
    g_postmaster = pid;
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT}) {
        signal(sig, OnFatalSignal);
    }
}

void PgCluster::Stop() {
    if (dir_.empty()) return;
    g_postmaster = 0;
    Run(bindir_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop");
}

void PgEnvironment::SetUp() { g_cluster = std::make_unique<PgCluster>(); }

void PgEnvironment::TearDown() { g_cluster.reset(); }

PgCluster& PgEnvironment::cluster() {
    if (!g_cluster) throw std::runtime_error("PgEnvironment is not set up");
    return *g_cluster;
}

FreshSchema::FreshSchema() {
    std::string id = NewUuid();
    std::erase(id, '-');
    name_ = "t_" + id;
    pg::Connection admin(dsn());
    admin.Exec("CREATE SCHEMA " + name_);
    auto conn = Connect();
    pg::Migrate(*conn);
}

FreshSchema::~FreshSchema() {
    try {
        pg::Connection admin(dsn());
        admin.Exec("DROP SCHEMA IF EXISTS " + name_ + " CASCADE");
    } catch (...) {
        // The cluster may be down on purpose; it is discarded at the end anyway.
    }
}

std::unique_ptr<pg::Connection> FreshSchema::Connect() const {
    return std::make_unique<pg::Connection>(dsn(), name_);
}

}  // namespace sagaflow::testing
