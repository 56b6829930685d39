#include "messaging_fixture.hpp"

#include "forwarding_tx.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::testing {

using worker::StepContext;
using worker::StepResult;

namespace {

constexpr const char* kInsertEffect =
    "INSERT INTO effects (saga_id, step_index, phase, action, msg_id)"
    " VALUES ($1::uuid, $2::int, $3::smallint, $4, $5::uuid)";

Workflow FastOrder() {
    RetryPolicy fast;
    fast.max_attempts = 50;  // lossy tests: many resends before giving up
    fast.initial_backoff = std::chrono::milliseconds(20);
    fast.max_backoff = std::chrono::milliseconds(200);
    fast.jitter = 0.2;
    const auto timeout = std::chrono::milliseconds(400);
    return WorkflowBuilder("fast_order", 1)
        .Step("reserve_inventory", "inventory").Retry(fast).Timeout(timeout)
            .CompensateWith("release_inventory").CompensationRetry(fast).CompensationTimeout(timeout)
        .Step("charge_payment", "payment").Retry(fast).Timeout(timeout)
            .CompensateWith("refund_payment").CompensationRetry(fast).CompensationTimeout(timeout)
        .Step("create_shipment", "logistics").Retry(fast).Timeout(timeout)
            .CompensateWith("cancel_shipment").CompensationRetry(fast).CompensationTimeout(timeout)
        .Build();
}

}  // namespace

ThreadWorker::ThreadWorker(const std::string& endpoint, const std::string& id,
                           const FreshSchema& db, std::vector<std::string> queues, int capacity,
                           int max_batch, Hook hook, Keys keys) {
    worker::WorkerOptions o;
    o.endpoint = endpoint;
    o.worker_id = id;
    o.dsn = db.dsn();
    o.schema = db.name();
    o.capacity = capacity;
    o.threads = std::min(capacity, 2);
    o.max_batch = max_batch;
    o.heartbeat_interval = std::chrono::milliseconds(100);
    o.reply_resend_interval = std::chrono::milliseconds(300);
    o.key_file = keys.key_file;
    o.server_key_file = keys.server_key_file;
    worker_ = std::make_unique<worker::Worker>(o);
    for (const std::string& q : queues) {
        worker_->Register(q, [hook](StepContext& ctx) {
            if (ctx.input().value("fail", "") == ctx.action()) {
                return StepResult::Fail(ctx.action() + " refused by the test");
            }
            ctx.tx().Exec(kInsertEffect, {ctx.saga_id(), std::to_string(ctx.step_index()),
                                          std::to_string(static_cast<int>(ctx.phase())),
                                          ctx.action(), ctx.msg_id()});
            if (hook) hook(ctx);
            return StepResult::Ok({{"by", ctx.action()}});
        });
    }
    thread_ = std::thread([this] { worker_->Run(); });
}

ThreadWorker::~ThreadWorker() { Stop(); }

void ThreadWorker::Stop() {
    worker_->Stop();
    if (thread_.joinable()) thread_.join();
}

class MessagingTest::CountingStore final : public engine::SagaStore {
public:
    explicit CountingStore(engine::SagaStore& inner) : inner_(inner) {}
    std::unique_ptr<engine::StoreTx> Begin() override {
        return std::make_unique<Tx>(inner_.Begin(), commits);
    }
    std::atomic<std::int64_t> commits{0};

private:
    // Counts commits that succeeded.
    class Tx final : public ForwardingTx {
    public:
        Tx(std::unique_ptr<engine::StoreTx> in, std::atomic<std::int64_t>& n)
            : ForwardingTx(std::move(in)), n_(n) {}
        void Commit() override {
            ForwardingTx::Commit();
            ++n_;
        }

    private:
        std::atomic<std::int64_t>& n_;
    };
    engine::SagaStore& inner_;
};

std::int64_t MessagingTest::OrchestratorCommits() { return counting_->commits; }

MessagingTest::MessagingTest() {
    registry_.Add(FastOrder());
    worker_db_.Connect()->Exec(
        "CREATE TABLE effects (saga_id uuid, step_index int, phase smallint, action text,"
        " msg_id uuid)");
    store_ = std::make_unique<store::PgSagaStore>(
        store::PgStoreOptions{orchestrator_db_.dsn(), orchestrator_db_.name(), 4, {}});
    counting_ = std::make_unique<CountingStore>(*store_);
}

MessagingTest::~MessagingTest() {
    if (node_) node_->Stop();
}

std::string MessagingTest::StartNode(std::optional<runtime::WorkerCurve> curve) {
    runtime::NodeOptions o;
    o.worker_endpoint = "tcp://127.0.0.1:*";
    o.curve = std::move(curve);
    o.link.heartbeat_timeout = std::chrono::seconds(1);
    node_ = std::make_unique<runtime::Node>(registry_, *counting_, clock_, o);
    return node_->Start();
}

std::vector<SagaId> MessagingTest::StartSagas(int count,
                                              const std::function<nlohmann::json(int)>& input) {
    return node_->Submit<std::vector<SagaId>>([&](engine::Engine& e, runtime::WorkerLink&) {
        std::vector<SagaId> ids;
        for (int i = 0; i < count; ++i) {
            engine::StartRequest req;
            req.workflow = "fast_order";
            req.input = input(i);
            ids.push_back(e.Start(req).value().saga_id);
        }
        return ids;
    });
}

SagaStatus MessagingTest::StatusOf(const SagaId& id) {
    auto tx = store_->Begin();
    return tx->GetSaga(id)->status;
}

void MessagingTest::WaitTerminal(const std::vector<SagaId>& ids, std::chrono::seconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    std::size_t done = 0;
    while (std::chrono::steady_clock::now() < deadline) {
        auto c = orchestrator_db_.Connect();
        std::string list;
        for (const SagaId& id : ids) list += (list.empty() ? "" : ",") + id.str();
        done = static_cast<std::size_t>(
            c->Exec("SELECT count(*) FROM sagas WHERE state_code IN (3, 4)"
                    " AND id = ANY(string_to_array($1, ',')::uuid[])",
                    {list})
                .Int(0, 0));
        if (done >= ids.size()) return;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));  // poll interval, not sync
    }
    FAIL() << done << " of " << ids.size() << " sagas terminal after " << limit.count() << " s";
}

std::int64_t MessagingTest::Effects(const std::string& where) {
    return worker_db_.Connect()->Exec("SELECT count(*) FROM effects WHERE " + where).Int(0, 0);
}

std::int64_t MessagingTest::MaxEffectsPerKey() {
    return worker_db_.Connect()
        ->Exec("SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM effects"
               " GROUP BY saga_id, step_index, phase) k")
        .Int(0, 0);
}

runtime::LinkCounters MessagingTest::Counters() {
    return node_->Submit<runtime::LinkCounters>(
        [](engine::Engine&, runtime::WorkerLink& d) { return d.counters(); });
}

}  // namespace sagaflow::testing
