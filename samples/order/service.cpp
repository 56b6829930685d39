#include "service.hpp"

#include <signal.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

#include "sagaflow/log.hpp"
#include "sagaflow/worker/main.hpp"

namespace sample {

long long Int(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_number_integer()) {
        throw std::invalid_argument(std::string("order field '") + key + "' must be an integer");
    }
    return j.at(key).get<long long>();
}

sagaflow::worker::HandlerOptions MalformedIsPermanent() {
    return sagaflow::worker::HandlerOptions{}.PermanentOn<std::invalid_argument>();
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
                                               {"action", ctx.action()}, {"saga_id", ctx.saga_id().str()}});
            std::this_thread::sleep_for(std::chrono::milliseconds(k.hang_ms));  // the injected fault itself
        }
        double roll = 1.0;
        if (k.crash_in_handler > 0) {
            std::lock_guard lock(rng->first);
            roll = std::uniform_real_distribution<double>(0.0, 1.0)(rng->second);
        }
        if (roll < k.crash_in_handler) {
            sagaflow::log::Warn("fault_sigkill", {{"worker", worker_id}, {"action", ctx.action()},
                                                  {"saga_id", ctx.saga_id().str()}, {"detail", "before commit"}});
            raise(SIGKILL);
        }
        return r;
    };
}

}  // namespace

// A number flag of the fault knobs: the text must read whole as a number in [lo, hi].
template <typename T>
sagaflow::worker::ServiceFlag Knob(std::string name, std::string help, T& target, T lo, T hi) {
    return {std::move(name), std::move(help), [&target, lo, hi](const std::string& v) -> std::string {
                std::istringstream in(v);
                T x{};
                if (!(in >> x) || !in.eof() || x < lo || x > hi) {
                    return "must be a number from " + std::to_string(lo) + " to " + std::to_string(hi);
                }
                target = x;
                return {};
            }};
}

namespace {

// Registers on the worker each handler given to it, wrapped with the faults and the ledger.
class FaultyLedgered final : public sagaflow::worker::Handlers {
public:
    FaultyLedgered(sagaflow::worker::Worker& w, std::string schema, std::string worker_id, const FaultKnobs& knobs)
        : w_(w), schema_(std::move(schema)), worker_id_(std::move(worker_id)), knobs_(knobs) {}

private:
    void Add(const std::string& queue, const std::string& action, sagaflow::worker::Handler handler,
             sagaflow::worker::HandlerOptions options) override {
        w_.Handle(queue, action, WithFaultsAndLedger(std::move(handler), schema_, worker_id_, knobs_), std::move(options));
    }

    sagaflow::worker::Worker& w_;
    std::string schema_;
    std::string worker_id_;
    const FaultKnobs& knobs_;
};

}  // namespace

int RunService(int argc, char** argv, std::string_view name) {
    ServiceDef def;
    for (auto make : {InventoryService, PaymentService, LogisticsService, RiskService, BillingService}) {
        if (ServiceDef d = make(); d.name == name) def = std::move(d);
    }
    if (!def.serve) {
        std::fprintf(stderr, "no order service named '%.*s'\n", static_cast<int>(name.size()), name.data());
        return 2;
    }
    FaultKnobs knobs;
    sagaflow::worker::Service s;
    s.name = def.name;
    s.description = "The " + def.name + " service of the order demo.";
    s.default_capacity = 32;
    s.schema_sql = def.schema_sql + LedgerSql(def.name);
    // For scripts/faults; all off by default.
    s.flags = {
        Knob("--crash-in-handler", "fault: probability of SIGKILL before commit", knobs.crash_in_handler, 0.0, 1.0),
        Knob("--hang-every", "fault: every Nth handler run hangs", knobs.hang_every, 0, 1 << 30),
        Knob("--hang-ms", "fault: how long it hangs", knobs.hang_ms, 0, 1 << 30),
        Knob("--flaky-compensations", "fault: the first N compensation attempts fail", knobs.flaky_compensations, 0,
             1 << 30),
        Knob("--seed", "fault: seed of the crash roll", knobs.seed, std::uint64_t{0}, ~std::uint64_t{0}),
    };
    s.setup = [&](sagaflow::worker::Worker& w, const sagaflow::worker::WorkerOptions& o) {
        FaultyLedgered h(w, def.name, o.worker_id, knobs);
        def.serve(h);
    };
    return sagaflow::worker::Main(argc, argv, s);
}

}  // namespace sample
