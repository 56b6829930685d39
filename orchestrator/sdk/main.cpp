// sagaflow::worker::Main: the scaffolding every worker service needs, in one place.
#include "sagaflow/worker/main.hpp"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <thread>

#include "connection.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/core/numbers.hpp"
#include "sagaflow/log.hpp"

namespace sagaflow::worker {
namespace {

std::atomic<Worker*> g_running{nullptr};
void OnSignal(int) {
    if (Worker* w = g_running.load()) w->Stop();  // sets an atomic flag: async-signal-safe
}

// The service's DDL, once the database answers. Every worker of a database takes the
// same lock, so services starting together do not collide on CREATE SCHEMA IF NOT EXISTS.
// False when the database did not come up (about 80 s) or the DDL failed.
bool PrepareDatabase(const Service& s, const WorkerOptions& o) {
    constexpr int kAttempts = 40;
    for (int attempt = 1;; ++attempt) {
        try {
            pg::Connection c(o.dsn, o.schema);
            if (!s.schema_sql.empty()) {
                c.Exec("BEGIN; SELECT pg_advisory_xact_lock(hashtext('sagaflow worker schema'));" + s.schema_sql +
                       ";COMMIT");
            }
            return true;
        } catch (const Error& e) {
            if (e.code() != ErrorCode::kUnavailable) {
                log::Error("schema_failed", {{"service", s.name}, {"error", e.what()}});
                return false;
            }
            log::Warn("database_unavailable", {{"service", s.name}, {"error", e.what()}, {"attempt", attempt}});
            if (attempt == kAttempts) return false;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));  // start-up backoff, ~80 s in all
    }
}

}  // namespace

int Main(int argc, char** argv, const Service& s) {
    WorkerOptions o;
    o.worker_id = s.name + "-1";
    o.capacity = s.default_capacity;
    std::string log_level = "info", log_format = "text";
    std::string inbox_retention = FormatDuration(o.inbox_retention);
    std::string inbox_retention_interval = FormatDuration(o.inbox_retention_interval);
    CLI::App app{s.description.empty() ? "The " + s.name + " worker service." : s.description};
    app.add_option("--dsn", o.dsn, "this service's PostgreSQL")->envname("SAGAFLOW_DSN")->required();
    app.add_option("--endpoint", o.endpoint, "sagad's worker socket")->envname("SAGAFLOW_ENDPOINT")->capture_default_str();
    app.add_option("--id", o.worker_id, "worker id, unique among workers")->envname("SAGAFLOW_WORKER_ID")->capture_default_str();
    app.add_option("--schema", o.schema, "search_path of the handlers' transactions, and where the inbox lives");
    app.add_option("--capacity", o.capacity, "commands in flight here at most")->check(CLI::Range(1, 100000))->capture_default_str();
    app.add_option("--threads", o.threads, "handler threads, each with a connection (0: min(capacity, 4))")
        ->check(CLI::Range(0, 1024))->capture_default_str();
    app.add_option("--key-file", o.key_file, "CURVE: this worker's secret key file (sagactl keygen)")->envname("SAGAFLOW_KEY_FILE");
    app.add_option("--server-key-file", o.server_key_file, "CURVE: sagad's public key file")->envname("SAGAFLOW_SERVER_KEY_FILE");
    const CLI::Validator duration(
        [](std::string& v) { return ParseDuration(v) ? std::string() : "a positive duration such as 7d, 12h, 30m or 90s"; },
        "DURATION");
    app.add_option("--inbox-retention", inbox_retention,
                   "inbox rows older than this are deleted (longer than any resend and than sagad's retention_completed)")
        ->check(duration)->capture_default_str();
    app.add_option("--inbox-retention-interval", inbox_retention_interval, "how often the inbox is pruned")
        ->check(duration)->capture_default_str();
    app.add_option("--log-level", log_level, "debug, info, warn or error")->envname("SAGAFLOW_LOG_LEVEL")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))->capture_default_str();
    app.add_option("--log-format", log_format, "text or json")->envname("SAGAFLOW_LOG_FORMAT")
        ->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    for (const ServiceFlag& f : s.flags) {
        app.add_option_function<std::string>(f.name, [&f](const std::string& v) {
               if (std::string error = f.set(v); !error.empty()) throw CLI::ValidationError(f.name, error);
           }, f.help);
    }
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    log::Configure(*log::ParseLevel(log_level), *log::ParseFormat(log_format));
    o.inbox_retention = *ParseDuration(inbox_retention);
    o.inbox_retention_interval = *ParseDuration(inbox_retention_interval);
    if (!PrepareDatabase(s, o)) return 1;

    try {
        Worker w(o);
        if (s.setup) s.setup(w, o);
        g_running.store(&w);
        signal(SIGTERM, OnSignal);
        signal(SIGINT, OnSignal);
        log::Info("serving", {{"service", s.name}, {"worker", o.worker_id}, {"endpoint", o.endpoint}});
        w.Run();
        g_running.store(nullptr);
    } catch (const Error& e) {  // bad options: a key file that does not read, a handler registered twice
        g_running.store(nullptr);
        log::Error("cannot_serve", {{"service", s.name}, {"error", e.what()}});
        return 2;
    }
    log::Info("stopped", {{"service", s.name}, {"worker", o.worker_id}});
    return 0;
}

}  // namespace sagaflow::worker
