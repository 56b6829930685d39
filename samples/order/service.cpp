#include "service.hpp"

#include <libpq-fe.h>
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <random>
#include <thread>

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

const char* kUsage =
    "usage: %s --dsn DSN [--endpoint tcp://127.0.0.1:5555] [--id ID] [--capacity N]\n"
    "  fault knobs (for scripts/faults; all off by default):\n"
    "  [--crash-in-handler P] [--hang-every N --hang-ms MS] [--flaky-compensations N] [--seed S]\n";

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
            std::fprintf(stderr, "fault: %s hangs %d ms in %s of saga %s\n", worker_id.c_str(), k.hang_ms,
                         ctx.action().c_str(), ctx.saga_id().c_str());
            std::this_thread::sleep_for(std::chrono::milliseconds(k.hang_ms));  // the injected fault itself
        }
        double roll = 1.0;
        if (k.crash_in_handler > 0) {
            std::lock_guard lock(rng->first);
            roll = std::uniform_real_distribution<double>(0.0, 1.0)(rng->second);
        }
        if (roll < k.crash_in_handler) {
            std::fprintf(stderr, "fault: %s SIGKILLs itself inside %s of saga %s, before commit\n",
                         worker_id.c_str(), ctx.action().c_str(), ctx.saga_id().c_str());
            raise(SIGKILL);
        }
        return r;
    };
}

bool Number(const std::string& text, double& out) {
    try {
        std::size_t used = 0;
        out = std::stod(text, &used);
        return used == text.size() && out >= 0;
    } catch (const std::exception&) {
        return false;
    }
}

}  // namespace

int RunService(int argc, char** argv, const std::string& name, const std::string& queue,
               const std::string& schema_sql, sagaflow::worker::Handler handler) {
    sagaflow::worker::WorkerOptions o;
    o.worker_id = name + "-1";
    o.capacity = 32;
    FaultKnobs knobs;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--help") {
            std::printf(kUsage, argv[0]);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", argv[0], k.c_str());
            return 2;
        }
        const std::string v = argv[++i];
        double n = 0;
        const bool numeric = Number(v, n);
        if (k == "--endpoint") o.endpoint = v;
        else if (k == "--dsn") o.dsn = v;
        else if (k == "--id") o.worker_id = v;
        else if (k == "--capacity" && numeric && n >= 1) o.capacity = static_cast<int>(n);
        else if (k == "--crash-in-handler" && numeric && n <= 1) knobs.crash_in_handler = n;
        else if (k == "--hang-every" && numeric) knobs.hang_every = static_cast<int>(n);
        else if (k == "--hang-ms" && numeric) knobs.hang_ms = static_cast<int>(n);
        else if (k == "--flaky-compensations" && numeric) knobs.flaky_compensations = static_cast<int>(n);
        else if (k == "--seed" && numeric) knobs.seed = static_cast<std::uint64_t>(n);
        else {
            std::fprintf(stderr, "%s: unknown option %s or bad value '%s'\n", argv[0], k.c_str(), v.c_str());
            std::fprintf(stderr, kUsage, argv[0]);
            return 2;
        }
    }
    if (o.dsn.empty()) {
        std::fprintf(stderr, "%s: --dsn is required\n", argv[0]);
        return 2;
    }
    // The service's own tables, in its own schema; retried while the database starts.
    for (int attempt = 1;; ++attempt) {
        PGconn* c = PQconnectdb(o.dsn.c_str());
        if (PQstatus(c) == CONNECTION_OK) {
            // One statement string is one transaction: the lock serialises instances
            // that start together (concurrent CREATE SCHEMA IF NOT EXISTS can collide).
            const std::string ddl = "SELECT pg_advisory_xact_lock(hashtext('sagaflow sample schema'));" +
                                    schema_sql + LedgerSql(name);
            PGresult* r = PQexec(c, ddl.c_str());
            const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok) std::fprintf(stderr, "%s: schema: %s", argv[0], PQerrorMessage(c));
            PQclear(r);
            PQfinish(c);
            if (!ok) return 1;
            break;
        }
        std::fprintf(stderr, "%s: database not reachable yet: %s", argv[0], PQerrorMessage(c));
        PQfinish(c);
        if (attempt == 30) return 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));  // start-up backoff
    }
    sagaflow::worker::Worker w(o);
    w.Register(queue, WithFaultsAndLedger(std::move(handler), name, o.worker_id, knobs));
    g_worker = &w;
    signal(SIGTERM, OnSignal);
    signal(SIGINT, OnSignal);
    std::fprintf(stderr, "%s: serving queue '%s' as %s on %s\n", argv[0], queue.c_str(), o.worker_id.c_str(),
                 o.endpoint.c_str());
    w.Run();
    return 0;
}

}  // namespace sample
