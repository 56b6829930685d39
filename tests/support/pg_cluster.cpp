#include "pg_cluster.hpp"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "migrate.hpp"
#include "test_cluster_options.hpp"
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

}  // namespace

PgCluster::PgCluster() {
    if (const char* env = std::getenv("SAGAFLOW_TEST_PG_DSN"); env && *env) {
        dsn_ = env;
        return;
    }
    // The server ctest's `pg` fixture started for the whole run (sagaflow-test-pg).
    if (const char* file = std::getenv("SAGAFLOW_TEST_PG_DSN_FILE"); file && *file) {
        std::ifstream in(file);
        std::getline(in, dsn_);
        if (dsn_.empty()) throw std::runtime_error(std::string("no DSN in ") + file);
        return;
    }
    char templ[] = "/tmp/sagaflow-pg-XXXXXX";
    if (mkdtemp(templ) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = templ;
    cluster_ = std::make_unique<pg::EmbeddedCluster>(TestClusterOptions(dir_));
    Start();
    dsn_ = cluster_->dsn();
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

void PgCluster::Start() {
    if (!cluster_) return;
    cluster_->Start();
    g_postmaster = cluster_->postmaster_pid();
    for (int sig : {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTERM, SIGINT}) {
        signal(sig, OnFatalSignal);
    }
}

void PgCluster::Stop() {
    if (!cluster_) return;
    g_postmaster = 0;
    cluster_->Stop(/*fast=*/false);
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
