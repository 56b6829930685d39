#include "service.hpp"

#include <libpq-fe.h>
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

#include "sagaflow/core/error.hpp"
#include "sagaflow/core/numbers.hpp"
#include "sagaflow/log.hpp"

namespace sample {
namespace {
sagaflow::worker::Worker* g_worker = nullptr;
void OnSignal(int) {
    if (g_worker != nullptr) g_worker->Stop();  // sets an atomic flag: async-signal-safe
}
}  // namespace

long long Int(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_number_integer()) {
        throw std::invalid_argument(std::string("order field '") + key + "' must be an integer");
    }
    return j.at(key).get<long long>();
}

namespace {

// Faults a fault run asks of this service (scripts/faults); all off by default.
struct FaultKnobs {
    double crash_in_handler = 0;  // probability: SIGKILL after the business writes, before commit
    int hang_every = 0;           // every Nth handler run sleeps hang_ms first, holding the step
    int hang_ms = 0;
    int flaky_compensations = 0;  // a compensation throws (answers retry) on its first N attempts
    std::uint64_t seed = 1;
};

// Every handler run that commits leaves one row in <service>.effects, in the same
// transaction: the exactly-once audit the fault suite counts (the business tables'
// own guards would hide a duplicate run).
std::string LedgerSql(const std::string& schema) {
    return "CREATE TABLE IF NOT EXISTS " + schema +
           ".effects (saga_id uuid NOT NULL, step_index int NOT NULL, phase smallint NOT NULL,"
           " action text NOT NULL, msg_id uuid NOT NULL, worker_id text NOT NULL,"
           " at timestamptz NOT NULL DEFAULT now());";
}

sagaflow::worker::Handler WithFaultsAndLedger(sagaflow::worker::Handler inner, const std::string& schema,
                                              const std::string& worker_id, const FaultKnobs& k) {
    auto runs = std::make_shared<std::atomic<long>>(0);
    auto rng = std::make_shared<std::pair<std::mutex, std::mt19937_64>>();
    rng->second.seed(k.seed);
    const std::string insert = "INSERT INTO " + schema +
                               ".effects (saga_id, step_index, phase, action, msg_id, worker_id)"
                               " VALUES ($1::uuid, $2::int, $3::smallint, $4, $5::uuid, $6)";
    return [=](sagaflow::worker::StepContext& ctx) {
        const bool compensation = ctx.phase() == sagaflow::Phase::kCompensate;
        if (compensation && ctx.attempt() <= k.flaky_compensations) {
            throw std::runtime_error("compensation glitch " + std::to_string(ctx.attempt()) + " of " +
                                     std::to_string(k.flaky_compensations));
        }
        sagaflow::worker::StepResult r = inner(ctx);
        if (!r.ok) return r;
        ctx.tx().Exec(insert, {ctx.saga_id(), std::to_string(ctx.step_index()),
                               std::to_string(static_cast<int>(ctx.phase())), ctx.action(), ctx.msg_id(), worker_id});
        if (k.hang_every > 0 && ++*runs % k.hang_every == 0) {
            sagaflow::log::Warn("fault_hang", {{"worker", worker_id}, {"hang_ms", k.hang_ms},
                                               {"action", ctx.action()}, {"saga_id", ctx.saga_id()}});
            std::this_thread::sleep_for(std::chrono::milliseconds(k.hang_ms));  // the injected fault itself
        }
        double roll = 1.0;
        if (k.crash_in_handler > 0) {
            std::lock_guard lock(rng->first);
            roll = std::uniform_real_distribution<double>(0.0, 1.0)(rng->second);
        }
        if (roll < k.crash_in_handler) {
            sagaflow::log::Warn("fault_sigkill", {{"worker", worker_id}, {"action", ctx.action()},
                                                  {"saga_id", ctx.saga_id()}, {"detail", "before commit"}});
            raise(SIGKILL);
        }
        return r;
    };
}

}  // namespace

int RunService(int argc, char** argv, const std::string& name, const std::string& queue,
               const std::string& schema_sql, sagaflow::worker::Handler handler) {
    sagaflow::worker::WorkerOptions o;
    o.worker_id = name + "-1";
    o.capacity = 32;
    FaultKnobs knobs;
    std::string log_level = "info", log_format = "text";
    CLI::App app{"The " + name + " service of the order demo: serves queue '" + queue + "'."};
    app.add_option("--dsn", o.dsn, "the service's PostgreSQL (with passfile= for the embedded cluster)")->required();
    app.add_option("--endpoint", o.endpoint, "sagad's worker endpoint")->capture_default_str();
    app.add_option("--id", o.worker_id, "worker id (its routing id at sagad)")->capture_default_str();
    app.add_option("--key-file", o.key_file, "CURVE: this worker's secret key file (sagactl keygen)");
    app.add_option("--server-key-file", o.server_key_file, "CURVE: sagad's public key file");
    app.add_option("--capacity", o.capacity, "commands in flight at most")->check(CLI::Range(1, 100000))->capture_default_str();
    const CLI::Validator duration(
        [](std::string& v) {
            return sagaflow::ParseDuration(v) ? std::string() : "a positive duration such as 7d, 12h, 30m or 90s";
        },
        "DURATION");
    std::string inbox_retention = sagaflow::FormatDuration(o.inbox_retention);
    std::string inbox_retention_interval = sagaflow::FormatDuration(o.inbox_retention_interval);
    app.add_option("--inbox-retention", inbox_retention, "inbox rows older than this are deleted (keep it longer than "
                                                         "any resend and than sagad's retention_completed)")
        ->check(duration)->capture_default_str();
    app.add_option("--inbox-retention-interval", inbox_retention_interval, "how often the inbox is pruned")
        ->check(duration)->capture_default_str();
    app.add_option("--log-level", log_level, "debug, info, warn or error")
        ->check(CLI::IsMember({"debug", "info", "warn", "error"}))->capture_default_str();
    app.add_option("--log-format", log_format, "text or json")->check(CLI::IsMember({"text", "json"}))->capture_default_str();
    auto* faults = app.add_option_group("fault knobs", "for scripts/faults; all off by default");
    faults->add_option("--crash-in-handler", knobs.crash_in_handler, "probability of SIGKILL before commit")
        ->check(CLI::Range(0.0, 1.0));
    faults->add_option("--hang-every", knobs.hang_every, "every Nth handler run hangs")->check(CLI::NonNegativeNumber);
    faults->add_option("--hang-ms", knobs.hang_ms, "how long it hangs")->check(CLI::NonNegativeNumber);
    faults->add_option("--flaky-compensations", knobs.flaky_compensations, "first N compensation attempts fail")
        ->check(CLI::NonNegativeNumber);
    faults->add_option("--seed", knobs.seed, "seed of the crash roll");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    sagaflow::log::Configure(*sagaflow::log::ParseLevel(log_level), *sagaflow::log::ParseFormat(log_format));
    o.inbox_retention = *sagaflow::ParseDuration(inbox_retention);
    o.inbox_retention_interval = *sagaflow::ParseDuration(inbox_retention_interval);
    // The service's own tables, in its own schema; retried while the database starts.
    for (int attempt = 1;; ++attempt) {
        PGconn* c = PQconnectdb(o.dsn.c_str());
        // Server notices ("schema exists, skipping") go through the logger, not raw stderr.
        PQsetNoticeProcessor(c, [](void*, const char* m) { sagaflow::log::Debug("postgres_notice", {{"message", m}}); },
                             nullptr);
        if (PQstatus(c) == CONNECTION_OK) {
            // One statement string is one transaction: the lock serialises instances
            // that start together (concurrent CREATE SCHEMA IF NOT EXISTS can collide).
            const std::string ddl = "SELECT pg_advisory_xact_lock(hashtext('sagaflow sample schema'));" +
                                    schema_sql + LedgerSql(name);
            PGresult* r = PQexec(c, ddl.c_str());
            const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok) sagaflow::log::Error("schema_failed", {{"service", name}, {"error", PQerrorMessage(c)}});
            PQclear(r);
            PQfinish(c);
            if (!ok) return 1;
            break;
        }
        sagaflow::log::Warn("database_unavailable", {{"service", name}, {"error", PQerrorMessage(c)}, {"attempt", attempt}});
        PQfinish(c);
        if (attempt == 30) return 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));  // start-up backoff
    }
    sagaflow::worker::Worker w(o);
    w.Register(queue, WithFaultsAndLedger(std::move(handler), name, o.worker_id, knobs));
    g_worker = &w;
    signal(SIGTERM, OnSignal);
    signal(SIGINT, OnSignal);
    sagaflow::log::Info("serving", {{"service", name}, {"queue", queue}, {"worker", o.worker_id}, {"endpoint", o.endpoint}});
    try {
        w.Run();
    } catch (const sagaflow::Error& e) {  // bad options: a key file that does not read, say
        sagaflow::log::Error("cannot_serve", {{"service", name}, {"error", e.what()}});
        return 2;
    }
    return 0;
}

}  // namespace sample
