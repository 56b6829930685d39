// The one composition root: settings, database, node, admin API, signals.
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <future>
#include <thread>

#include "admin.hpp"
#include "config.hpp"
#include "embedded_cluster.hpp"
#include "log.hpp"
#include "migrate.hpp"
#include "node.hpp"
#include "pg_saga_store.hpp"
#include "sagaflow/daemon.hpp"

namespace sagaflow {
namespace sagad {

int Log::Rank(const std::string& level) {
    if (level == "debug") return 0;
    if (level == "info") return 1;
    if (level == "warn") return 2;
    return 3;
}

void Log::Write(const std::string& level, const std::string& event, const nlohmann::json& fields) {
    if (Rank(level) < min_) return;
    const auto now = std::chrono::system_clock::now();
    const std::time_t t = std::chrono::system_clock::to_time_t(now);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char ts[32];
    std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", &tm);
    std::string line;
    if (json_) {
        nlohmann::json j = fields.is_object() ? fields : nlohmann::json::object();
        j["ts"] = ts;
        j["level"] = level;
        j["event"] = event;
        line = j.dump();
    } else {
        line = std::string(ts) + " " + level + " " + event;
        if (fields.is_object()) {
            for (const auto& [k, v] : fields.items()) line += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
        }
    }
    std::lock_guard lock(mu_);
    std::fprintf(stderr, "%s\n", line.c_str());
}

namespace {

// Waits for SIGTERM/SIGINT on a thread of its own; the second one exits at once.
class Signals {
public:
    Signals() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set_, nullptr);  // before any thread: all inherit it
    }
    void WaitFirst() {
        int sig = 0;
        sigwait(&set_, &sig);
        std::thread([set = set_] {
            int again = 0;
            sigwait(&set, &again);
            std::fprintf(stderr, "sagad: second signal, exiting at once\n");
            _exit(1);
        }).detach();
    }

private:
    sigset_t set_;
};

std::unique_ptr<pg::Connection> ConnectWithBackoff(const std::string& dsn, Log& log) {
    auto delay = std::chrono::milliseconds(100);
    for (int attempt = 1;; ++attempt) {
        try {
            return std::make_unique<pg::Connection>(dsn);
        } catch (const Error& e) {
            if (attempt >= 20) throw;
            log.Write("warn", "database_unavailable", {{"error", e.what()}, {"retry_in_ms", delay.count()}});
            std::this_thread::sleep_for(delay);  // start-up backoff, not test synchronisation
            delay = std::min(delay * 2, std::chrono::milliseconds(3000));
        }
    }
}

}  // namespace
}  // namespace sagad

int RunDaemon(int argc, char** argv, const WorkflowRegistry& registry) {
    using namespace sagad;
    std::vector<std::string> args(argv + 1, argv + argc);
    auto loaded = LoadConfig(args);
    if (!loaded.ok()) {
        std::fprintf(stderr, "sagad: %s\n", loaded.status().message.c_str());
        return 2;
    }
    const Config cfg = *loaded;
    if (cfg.help) {
        std::fputs(HelpText().c_str(), stdout);
        return 0;
    }
    Log log(cfg.log_level, cfg.log_format == "json");
    Signals signals;
    try {
        std::unique_ptr<pg::EmbeddedCluster> embedded;
        std::string dsn = cfg.dsn;
        if (dsn.empty()) {
            embedded = std::make_unique<pg::EmbeddedCluster>(pg::EmbeddedOptions{cfg.data_dir + "/pg", true, 200});
            embedded->Start();
            dsn = embedded->dsn();
            log.Write("info", "embedded_postgres_started", {{"dir", cfg.data_dir + "/pg"}, {"dsn", dsn}});
        }
        {
            auto conn = ConnectWithBackoff(dsn, log);
            const auto m = pg::Migrate(*conn);
            log.Write("info", "migrated", {{"from", m.from_version}, {"to", m.to_version}, {"applied", m.applied}});
        }
        if (cfg.command == "migrate") return 0;

        store::PgSagaStore store({dsn, "", 8});
        SystemClock clock;
        runtime::NodeOptions node_options;
        node_options.worker_endpoint = cfg.worker_endpoint;
        node_options.dispatcher.heartbeat_timeout = std::chrono::milliseconds(cfg.heartbeat_timeout_ms);
        runtime::Node node(registry, store, clock, node_options);
        const std::string workers_at = node.Start();
        AdminHandler handler(
            registry, node,
            [&](const std::string& event, const nlohmann::json& fields) { log.Write("info", event, fields); },
            static_cast<std::size_t>(cfg.max_running_sagas));
        AdminServer admin(handler, cfg.admin_endpoint);
        const std::string admin_at = admin.Start();
        log.Write("info", "sagad_ready", {{"workers", workers_at}, {"admin", admin_at},
                                          {"workflows", registry.All().size()}});

        signals.WaitFirst();
        log.Write("info", "stopping", {{"timeout_ms", cfg.shutdown_timeout_ms}});
        // Bounded: if the loop does not stop in time, leave anyway (the outbox keeps it all).
        auto stopped = std::async(std::launch::async, [&] {
            admin.Stop();
            node.Stop();
        });
        if (stopped.wait_for(std::chrono::milliseconds(cfg.shutdown_timeout_ms)) != std::future_status::ready) {
            log.Write("error", "stop_timed_out");
            _exit(1);
        }
        if (embedded) embedded->Stop(true);
        log.Write("info", "stopped");
        return 0;
    } catch (const Error& e) {
        log.Write("error", "cannot_start", {{"code", ToString(e.code())}, {"error", e.what()}});
        return 1;
    }
}

}  // namespace sagaflow
