// The one composition root: settings, database, node, HTTP API, signals.
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <future>
#include <thread>

#include "alerts.hpp"
#include "retention.hpp"
#include "allow_list.hpp"
#include "api.hpp"
#include "config.hpp"
#include "embedded_cluster.hpp"
#include "migrate.hpp"
#include "node.hpp"
#include "leader_lock.hpp"
#include "pg_saga_store.hpp"
#include "sagaflow/daemon.hpp"
#include "sagaflow/log.hpp"
#include "keys.hpp"
#include "telemetry.hpp"
#include "tokens.hpp"

namespace sagaflow {
namespace sagad {

namespace {

// How often a standby asks for the leader lock: the bound on takeover after the active
// node's session ends.
constexpr int kStandbyPollMs = 200;

// Waits for SIGTERM/SIGINT on a thread of its own; the second one exits at once.
// SIGHUP is blocked here too, for the `Reloader`'s thread to wait on.
class Signals {
public:
    Signals() {
        sigemptyset(&set_);
        sigaddset(&set_, SIGTERM);
        sigaddset(&set_, SIGINT);
        sigset_t all = set_;
        sigaddset(&all, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &all, nullptr);  // before any thread: all inherit it
    }
    void WaitFirst() {
        int sig = 0;
        sigwait(&set_, &sig);
        ArmSecond();
    }
    /// As `WaitFirst`, for at most `timeout`; true when a signal came.
    bool WaitFirstFor(std::chrono::milliseconds timeout) {
        const timespec ts{static_cast<time_t>(timeout.count() / 1000),
                          static_cast<long>(timeout.count() % 1000) * 1'000'000};
        if (sigtimedwait(&set_, nullptr, &ts) < 0) return false;
        ArmSecond();
        return true;
    }

private:
    void ArmSecond() {
        std::thread([set = set_] {
            int again = 0;
            sigwait(&set, &again);
            log::Warn("second_signal", {{"detail", "exiting at once"}});
            _exit(1);
        }).detach();
    }

    sigset_t set_;
};

// While active: every second, is the leader lock still ours? Another node holding it
// means this one must stop running sagas at once; the outbox keeps everything.
class Watchdog {
public:
    explicit Watchdog(store::LeaderLock& leader)
        : thread_([this, &leader] {
              std::unique_lock lock(mu_);
              while (!cv_.wait_for(lock, std::chrono::seconds(1) + pause_, [this] { return stop_; })) {
                  lock.unlock();
                  try {
                      if (leader.Confirm() == store::LeaderLock::State::kTaken) {
                          log::Error("leadership_lost",
                                     {{"detail", "another sagad holds the leader lock; exiting so it runs alone"}});
                          _exit(1);
                      }
                      guard_.Succeeded();
                      pause_ = std::chrono::milliseconds(0);
                  } catch (const std::exception& e) {
                      pause_ = guard_.Failed(e);
                  }
                  lock.lock();
              }
          }) {}
    ~Watchdog() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

private:
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    runtime::LoopGuard guard_{"watchdog"};
    std::chrono::milliseconds pause_{0};
    std::thread thread_;
};

// What sagad trusts, read from the files the settings name. A file that does not parse
// stops the start (exit 2, naming its line).
struct Trust {
    std::optional<transport::CurveKeyPair> curve;
    std::unique_ptr<security::KeyRing> keys;
    std::unique_ptr<security::Reloadable<security::TokenSet>> tokens;
};

Result<Trust> LoadTrust(const Config& cfg) {
    Trust t;
    if (!cfg.curve_key.empty()) {
        auto pair = security::ReadSecretKeyFile(cfg.curve_key);
        if (!pair.ok()) return pair.status();
        auto list = security::AllowList::Load(cfg.curve_allow_list);
        if (!list.ok()) return list.status();
        t.curve = *pair;
        t.keys = std::make_unique<security::KeyRing>(std::move(*list));
    }
    if (!cfg.tls_key.empty()) {
        if (Status st = security::CheckSecretFile(cfg.tls_key); !st.ok()) return st;
    }
    if (!cfg.api_tokens.empty()) {
        auto tokens = security::TokenSet::Load(cfg.api_tokens);
        if (!tokens.ok()) return tokens.status();
        t.tokens = std::make_unique<security::Reloadable<security::TokenSet>>(std::move(*tokens));
    }
    return t;
}

// On SIGHUP, reads the allow-list and the tokens file again; one that does not parse
// leaves the one in force. Connected workers whose keys remain stay: each heartbeat is
// judged by the list in force.
class Reloader {
public:
    Reloader(const Config& cfg, Trust& trust) : thread_([&cfg, &trust] {
        sigset_t hup;
        sigemptyset(&hup);
        sigaddset(&hup, SIGHUP);
        while (true) {
            int sig = 0;
            if (sigwait(&hup, &sig) != 0) return;
            if (stopping_) return;
            if (trust.keys) Reload(trust.keys.get(), [&] { return security::AllowList::Load(cfg.curve_allow_list); },
                                   "curve_allow_list", cfg.curve_allow_list);
            if (trust.tokens) Reload(trust.tokens.get(), [&] { return security::TokenSet::Load(cfg.api_tokens); },
                                     "api_tokens", cfg.api_tokens);
        }
    }) {}
    ~Reloader() {
        stopping_ = true;
        pthread_kill(thread_.native_handle(), SIGHUP);
        thread_.join();
    }
    Reloader(const Reloader&) = delete;
    Reloader& operator=(const Reloader&) = delete;

private:
    template <class T, class Load>
    static void Reload(security::Reloadable<T>* into, Load load, const char* setting, const std::string& path) {
        auto loaded = load();
        if (!loaded.ok()) {
            log::Error("reload_refused", {{"setting", setting}, {"error", loaded.status().message},
                                          {"detail", "the one loaded before stays in force"}});
            return;
        }
        const std::size_t n = loaded->size();
        into->Set(std::move(*loaded));
        log::Info("reloaded", {{"setting", setting}, {"file", path}, {"entries", n}});
    }

    static inline std::atomic<bool> stopping_{false};
    std::thread thread_;
};

void WarnInsecure(const Config& cfg) {
    if (cfg.insecure_transport && cfg.curve_key.empty() && !IsLocalEndpoint(cfg.worker_endpoint)) {
        log::Warn("insecure_transport", {{"worker_endpoint", cfg.worker_endpoint},
                                         {"detail", "plain ZeroMQ beyond this host: anyone who reaches it can serve "
                                                    "any queue and answer its commands"}});
    }
    if (cfg.insecure_api && cfg.api_tokens.empty() && !IsLoopbackHost(cfg.http_host)) {
        log::Warn("insecure_api", {{"http", cfg.http_host},
                                   {"detail", "the API takes no tokens beyond this host: anyone who reaches it can "
                                              "start and compensate sagas"}});
    }
    if (!cfg.api_tokens.empty() && cfg.tls_cert.empty() && !IsLoopbackHost(cfg.http_host)) {
        log::Warn("api_without_tls", {{"http", cfg.http_host},
                                      {"detail", "tokens cross the network in clear: set tls_cert and tls_key, or "
                                                 "serve the API behind a TLS proxy on loopback"}});
    }
}

std::unique_ptr<pg::Connection> ConnectWithBackoff(const std::string& dsn) {
    auto delay = std::chrono::milliseconds(100);
    for (int attempt = 1;; ++attempt) {
        try {
            return std::make_unique<pg::Connection>(dsn);
        } catch (const Error& e) {
            if (attempt >= 20) throw;
            log::Warn("database_unavailable", {{"error", e.what()}, {"retry_in_ms", delay.count()}});
            std::this_thread::sleep_for(delay);  // start-up backoff, not test synchronisation
            delay = std::min(delay * 2, std::chrono::milliseconds(3000));
        }
    }
}

void StartEmbedded(pg::EmbeddedCluster& embedded, const std::string& dir) {
    embedded.Start();
    if (embedded.tightened()) {
        log::Warn("embedded_postgres_tightened",
                  {{"dir", dir},
                   {"detail", "an earlier release's cluster (trust authentication, open directory) is now 0700 "
                              "with scram-sha-256; workers connect with passfile=" + embedded.password_file()}});
    }
    log::Info("embedded_postgres_started",
              {{"dir", dir}, {"dsn", embedded.dsn()}, {"password_file", embedded.password_file()}});
}

// Waits as a hot standby until the leader lock is ours; false when a signal came first.
bool AwaitLeadership(store::LeaderLock& leader, Signals& signals, const std::string& http_at) {
    if (leader.TryAcquire() == store::LeaderLock::State::kHeld) return true;
    (void)sd_notify(0, "READY=1\nSTATUS=standby: another sagad is active on this database");
    log::Info("standby", {{"http", http_at},
                          {"detail", "another sagad is active on this database; taking over when it stops"}});
    const auto since = std::chrono::steady_clock::now();
    while (leader.TryAcquire() != store::LeaderLock::State::kHeld) {
        if (signals.WaitFirstFor(std::chrono::milliseconds(kStandbyPollMs))) {
            log::Info("stopped", {{"role", "standby"}});
            return false;
        }
    }
    const auto waited = std::chrono::steady_clock::now() - since;
    log::Info("took_over", {{"waited_ms", std::chrono::duration_cast<std::chrono::milliseconds>(waited).count()}});
    return true;
}

// Binds the worker endpoint (once), waiting a bounded time for a node this one replaces
// to let go of it (up to a watchdog period); nullopt when a signal came first.
std::optional<std::string> BindWorkers(runtime::Node& node, Signals& signals) {
    for (const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);;) {
        try {
            return node.Bind();
        } catch (const Error& e) {
            if (e.code() != ErrorCode::kUnavailable || std::chrono::steady_clock::now() > until) throw;
            if (signals.WaitFirstFor(std::chrono::milliseconds(100))) return std::nullopt;
        }
    }
}

// Each HTTP connection and each worker is a descriptor: take the hard limit, not the
// soft default of 1024, so a crowd of clients meets http_max_connections first.
void RaiseDescriptorLimit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &lim);
    }
}

}  // namespace
}  // namespace sagad

int RunDaemon(int argc, char** argv, const WorkflowRegistry& registry) {
    using namespace sagad;
    std::vector<std::string> args(argv + 1, argv + argc);
    auto loaded = LoadConfig(args);
    if (!loaded.ok()) {
        // Reported in the format asked for, even when another setting is what is wrong.
        bool json = std::getenv("SAGAD_LOG_FORMAT") != nullptr && std::string(std::getenv("SAGAD_LOG_FORMAT")) == "json";
        for (std::size_t i = 0; i < args.size(); ++i) {
            if (args[i] == "--log-format=json" || (args[i] == "--log-format" && i + 1 < args.size() && args[i + 1] == "json")) {
                json = true;
            }
        }
        log::Configure(log::Level::kInfo, json ? log::Format::kJson : log::Format::kText);
        log::Error("bad_config", {{"error", loaded.status().message}, {"exit", 2}});
        return 2;
    }
    const Config cfg = *loaded;
    if (cfg.help) {
        std::fputs(HelpText().c_str(), stdout);
        return 0;
    }
    if (cfg.version) {
        std::printf("sagad %s\n", SAGAFLOW_VERSION);
        return 0;
    }
    log::Configure(*log::ParseLevel(cfg.log_level), *log::ParseFormat(cfg.log_format));
    auto trust = LoadTrust(cfg);
    if (!trust.ok()) {
        log::Error("bad_config", {{"error", trust.status().message}, {"exit", 2}});
        return 2;
    }
    WarnInsecure(cfg);
    Signals signals;
    Reloader reloader(cfg, *trust);
    try {
        std::unique_ptr<pg::EmbeddedCluster> embedded;
        std::string dsn = cfg.dsn;
        if (dsn.empty()) {
            // Only the directory for now: initdb waits until the ports are ours.
            embedded = std::make_unique<pg::EmbeddedCluster>(pg::EmbeddedOptions{cfg.data_dir + "/pg", true, 200});
            dsn = embedded->dsn();
        }
        store::LeaderLock leader(dsn);
        store::PgStoreOptions store_options{dsn, "", 8, {}};
        store_options.on_connect = [&leader] {
            if (leader.Confirm() != store::LeaderLock::State::kHeld) {
                throw Error(ErrorCode::kUnavailable, "this sagad does not hold the database's leader lock");
            }
        };
        store::PgSagaStore store(store_options);
        SystemClock clock;
        Telemetry telemetry(SAGAFLOW_VERSION);
        runtime::NodeOptions node_options;
        node_options.worker_endpoint = cfg.worker_endpoint;
        node_options.link.heartbeat_timeout = std::chrono::milliseconds(cfg.heartbeat_timeout_ms);
        Awaits awaits;  // before the node, whose engine tells it, and the server, that sends its answers
        engine::Observers observers({&telemetry, &awaits});
        node_options.engine.observer = &observers;
        node_options.engine.record_alerts = !cfg.alert_webhook.empty();
        if (trust->curve) node_options.curve = runtime::WorkerCurve{trust->curve->secret_key, trust->keys.get()};
        runtime::Node node(registry, store, clock, node_options);
        engine::Queries queries(store);
        ApiOptions api_options;
        api_options.max_running = static_cast<std::size_t>(cfg.max_running_sagas);
        api_options.tokens = trust->tokens.get();
        api_options.awaits = &awaits;
        api_options.max_await = std::chrono::milliseconds(cfg.max_await_ms);
        BulkOptions bulk_options;
        bulk_options.confirm_over = cfg.bulk_confirm_over;
        bulk_options.default_rate = std::min(cfg.bulk_rate, cfg.bulk_max_rate);
        bulk_options.max_rate = cfg.bulk_max_rate;
        BulkJobs bulk(store, node, clock, bulk_options);  // outlives the server that reads it
        api_options.bulk = &bulk;
        Api api(registry, node, queries, telemetry, api_options);
        http::ServerOptions http_options;
        http_options.host = cfg.http_host;
        http_options.port = static_cast<std::uint16_t>(cfg.http_port);
        http_options.read_timeout = std::chrono::milliseconds(cfg.http_read_timeout_ms);
        http_options.max_connections = static_cast<std::size_t>(cfg.http_max_connections);
        http_options.tls_cert = cfg.tls_cert;
        http_options.tls_key = cfg.tls_key;
        RetentionOptions retention_options;
        retention_options.completed = cfg.retention_completed;
        retention_options.compensated = cfg.retention_compensated;
        retention_options.interval = cfg.retention_interval;
        RetentionJob retention(store, clock, retention_options);  // outlives the server that reads it
        telemetry.WatchRetention([&retention] { return retention.counts(); });
        http::Server http([&api](const http::Request& r) { return api.Handle(r); }, http_options);
        telemetry.Watch(SnapshotOf(node, clock, [&api] { return api.Active(); }), [&http] { return http.counters(); });
        if (cfg.command == "run") {
            RaiseDescriptorLimit();
            // Bind first: a second sagad on taken ports stops here, before initdb or
            // migrations. A taken worker port may be the active node's: a standby binds
            // it when it takes over.
            try {
                (void)http.Bind();
            } catch (const Error& e) {
                if (e.code() != ErrorCode::kInvalidArgument) throw;
                log::Error("bad_config", {{"error", e.what()}, {"exit", 2}});  // a certificate that does not load
                return 2;
            }
            try {
                (void)node.Bind();
            } catch (const Error& e) {
                if (e.code() != ErrorCode::kUnavailable) throw;
            }
        }
        if (embedded) StartEmbedded(*embedded, cfg.data_dir + "/pg");
        {
            auto conn = ConnectWithBackoff(dsn);
            const auto m = pg::Migrate(*conn);
            log::Info("migrated", {{"from", m.from_version}, {"to", m.to_version}, {"applied", m.applied}});
        }
        if (cfg.command == "migrate") return 0;

        // A standby answers stats, health and metrics too.
        const std::string http_at = (cfg.tls_cert.empty() ? "http://" : "https://") + http.Start();
        std::optional<std::string> bound;
        if (!AwaitLeadership(leader, signals, http_at) || !(bound = BindWorkers(node, signals))) {
            if (embedded) embedded->Detach();  // a standby leaves the active node's server running
            return 0;
        }
        std::unique_ptr<AlertSender> alerts;
        if (!cfg.alert_webhook.empty()) {
            // Only the active node sends: its store's connections hold the leader lock.
            alerts = std::make_unique<AlertSender>(store, clock, AlertOptions{cfg.alert_webhook, http_at});
            AlertSender* sender = alerts.get();
            telemetry.OnFailed([sender] { sender->Wake(); });  // before the loop runs: no race
            telemetry.WatchAlerts([sender] {
                return Telemetry::AlertCounts{sender->sent(), sender->failed_attempts(), sender->pending()};
            });
        }
        node.Start();  // recovers every unacknowledged command first
        api.SetActive([&leader] { return leader.Confirm() == store::LeaderLock::State::kHeld; });
        if (alerts) alerts->Start();
        retention.Start();  // the active node only
        bulk.Start();       // after the node: it goes on with the jobs a restart interrupted
        Watchdog watchdog(leader);
        (void)sd_notify(0, "READY=1\nSTATUS=active");
        log::Info("sagad_ready", {{"workers", *bound}, {"http", http_at},
                                  {"workflows", registry.All().size()}, {"role", "active"},
                                  {"curve", trust->curve ? security::Fingerprint(trust->curve->public_key) : "off"},
                                  {"api_tokens", trust->tokens ? std::to_string(trust->tokens->Get()->size()) : "off"}});

        signals.WaitFirst();
        (void)sd_notify(0, "STOPPING=1");
        log::Info("stopping", {{"timeout_ms", cfg.shutdown_timeout_ms}});
        // Bounded: if the loop does not stop in time, leave anyway (the outbox keeps it all).
        auto stopped = std::async(std::launch::async, [&] {
            awaits.Stop();  // its callers are told to await again, while the server can still answer
            http.Stop();
            retention.Stop();
            bulk.Stop();  // before the node: its pages go through the node's loop
            node.Stop();
            if (alerts) alerts->Stop();
        });
        if (stopped.wait_for(std::chrono::milliseconds(cfg.shutdown_timeout_ms)) != std::future_status::ready) {
            log::Error("stop_timed_out");
            _exit(1);
        }
        if (embedded) embedded->Stop(true);
        log::Info("stopped");
        return 0;
    } catch (const Error& e) {
        log::Error("cannot_start", {{"code", ToString(e.code())}, {"error", e.what()}});
        return 1;
    } catch (const std::exception& e) {
        log::Error("cannot_start", {{"code", "internal"}, {"error", e.what()}});
        return 1;
    }
}

}  // namespace sagaflow
