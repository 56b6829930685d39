#include "engine_scenarios.hpp"

#include <algorithm>

#include "order_fulfilment.hpp"
#include "trip_workflows.hpp"

namespace sagaflow::testing {

using engine::Engine;
using engine::EngineOptions;
using engine::Reply;
using engine::SagaRecord;

EngineScenario::EngineScenario() {
    workflows::RegisterAll(registry_);
    // A step that always times out quickly, for deadline scenarios.
    RetryPolicy three;
    three.max_attempts = 3;
    three.initial_backoff = std::chrono::milliseconds(100);
    three.jitter = 0;
    registry_.Add(WorkflowBuilder("two_step", 1)
                      .Step("first", "q").CompensateWith("undo_first").Retry(three)
                      .CompensationRetry(three).Timeout(std::chrono::seconds(1))
                      .Step("second", "q").CompensateWith("undo_second").Retry(three)
                      .Timeout(std::chrono::seconds(1))
                      .Build());
    // A parent with a child saga between two steps, for the child scenarios.
    AddTripWorkflows(registry_);
    // A timer, then a signal wait with a deadline, for the waits' scenarios.
    registry_.Add(WorkflowBuilder("waits", 1)
                      .Step("first", "q").CompensateWith("undo_first")
                      .Sleep("cool", std::chrono::seconds(1))
                      .AwaitSignal("go").Deadline(std::chrono::seconds(10))
                      .Step("second", "q")
                      .Build());
}

void EngineScenario::SetUp() {
    env_ = GetParam().make();
    Restart();
}

void EngineScenario::Restart(const WorkflowRegistry* registry) {
    engine_.reset();
    store_.reset();
    store_ = env_->Open();
    EngineOptions options;
    options.seed = 42;
    options.record_alerts = true;
    const WorkflowRegistry& deployed = registry != nullptr ? *registry : registry_;
    engine_ = std::make_unique<Engine>(deployed, *store_, worker_, clock_, options);
    worker_.Attach(*engine_, deployed);
    engine_->Recover();
}

int EngineScenario::RunUntilQuiet(int max_rounds) {
    for (int round = 1; round <= max_rounds; ++round) {
        const int moved = engine_->Tick() + worker_.Pump(*engine_);
        if (moved > 0) continue;
        const auto next = engine_->NextWakeup();
        if (!next) return round;
        clock_.Set(std::max(*next, clock_.Now()));
    }
    ADD_FAILURE() << "engine still busy after " << max_rounds << " rounds";
    return max_rounds;
}

SagaId EngineScenario::StartOrder(const std::string& key, int version, nlohmann::json input) {
    engine::StartRequest req;
    req.workflow = workflows::kOrderFulfilment;
    req.version = version;
    req.input = input.is_null() ? nlohmann::json{{"order_id", "o-1"}, {"amount", 25}} : std::move(input);
    if (!key.empty()) req.business_key = BusinessKey(key);
    auto r = engine_->Start(req);
    EXPECT_TRUE(r.ok()) << r.status().message;
    return r->saga_id;
}

SagaRecord EngineScenario::Saga(const SagaId& id) {
    auto view = engine_->Describe(id);
    EXPECT_TRUE(view.ok()) << view.status().message;
    return view->saga;
}

std::vector<std::string> EngineScenario::HistoryKinds(const SagaId& id) {
    std::vector<std::string> kinds;
    const auto view = engine_->Describe(id);  // a named Result: the range must not dangle
    for (const auto& e : view->history) kinds.push_back(e.kind);
    return kinds;
}

int EngineScenario::PendingCount() {
    auto tx = store_->Begin();
    return static_cast<int>(tx->PendingWork(1000).size());
}

namespace {

using V = std::vector<std::string>;

TEST_P(EngineScenario, HappyPathRunsThreeStepsInOrderAndCompletes) {
    const SagaId id = StartOrder();
    RunUntilQuiet();
    const SagaRecord s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kCompleted);
    EXPECT_EQ(worker_.RunOrder(id), (V{"reserve_inventory", "charge_payment", "create_shipment"}));
    for (int step = 0; step < 3; ++step) EXPECT_EQ(worker_.effects(id, step, Phase::kForward), 1);
    EXPECT_EQ(s.context["charge_payment"], (nlohmann::json{{"done", "charge_payment"}}));
    for (const char* step : {"reserve_inventory", "charge_payment", "create_shipment"}) {
        EXPECT_EQ(s.nodes.at(step).state, engine::NodeState::kDone) << step;
    }
    EXPECT_EQ(PendingCount(), 0);
}

void ExpectFailureAt(EngineScenario& t, FakeWorker& worker, const std::string& action,
                     const V& expected_order, const SagaRecord& s, const SagaId& id) {
    EXPECT_EQ(s.status, SagaStatus::kCompensated);
    EXPECT_EQ(worker.RunOrder(id), expected_order);
    EXPECT_NE(s.failure_reason.find(action), std::string::npos) << s.failure_reason;
    (void)t;
}

TEST_P(EngineScenario, FailureAtFirstStepCompensatesNothing) {
    worker_.FailWith("reserve_inventory", "out of stock");
    const SagaId id = StartOrder();
    RunUntilQuiet();
    ExpectFailureAt(*this, worker_, "reserve_inventory", V{}, Saga(id), id);
    EXPECT_NE(Saga(id).failure_reason.find("out of stock"), std::string::npos);
}

TEST_P(EngineScenario, FailureAtSecondStepCompensatesTheFirst) {
    worker_.FailWith("charge_payment", "declined");
    const SagaId id = StartOrder();
    RunUntilQuiet();
    ExpectFailureAt(*this, worker_, "charge_payment", V{"reserve_inventory", "release_inventory"},
                    Saga(id), id);
}

TEST_P(EngineScenario, FailureAtThirdStepCompensatesSecondThenFirst) {
    worker_.FailWith("create_shipment", "undeliverable region");
    const SagaId id = StartOrder();
    RunUntilQuiet();
    ExpectFailureAt(*this, worker_, "create_shipment",
                    V{"reserve_inventory", "charge_payment", "refund_payment", "release_inventory"},
                    Saga(id), id);
    EXPECT_EQ(worker_.effects(id, 2, Phase::kCompensate), 0) << "a failed step is not undone";
}

TEST_P(EngineScenario, ExhaustedCompensationFailsWithReasonThenRetryCompensates) {
    worker_.FailWith("create_shipment", "undeliverable region");
    worker_.RetryTimes("refund_payment", -1);  // payment service down
    const SagaId id = StartOrder();
    RunUntilQuiet();
    SagaRecord s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kFailed);
    EXPECT_TRUE(s.nodes.at("charge_payment").stuck);
    EXPECT_NE(s.failure_reason.find("refund_payment"), std::string::npos) << s.failure_reason;
    EXPECT_NE(s.failure_reason.find("10 attempts"), std::string::npos) << s.failure_reason;
    EXPECT_EQ(worker_.effects(id, 0, Phase::kCompensate), 0) << "stopped at the failed step";
    {
        // The alert for the webhook was written with the move to failed: one, about this saga.
        auto alerts = store_->Begin()->DueAlerts(clock_.Now(), 10);
        ASSERT_EQ(alerts.size(), 1u);
        EXPECT_EQ(alerts[0].saga_id, id);
        EXPECT_EQ(alerts[0].event["event"], "saga_failed");
        EXPECT_EQ(alerts[0].event["reason"], s.failure_reason);
    }

    worker_.RetryTimes("refund_payment", 0);  // the operator fixed payment
    ASSERT_TRUE(engine_->Retry(id).ok());
    RunUntilQuiet();
    s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.effects(id, 1, Phase::kCompensate), 1);
    EXPECT_EQ(worker_.effects(id, 0, Phase::kCompensate), 1);
}

TEST_P(EngineScenario, DuplicateReplyIsIgnoredAndRecorded) {
    const SagaId id = StartOrder();
    engine_->Tick();
    auto replies = worker_.RunQueued();
    ASSERT_EQ(replies.size(), 1u);
    ASSERT_TRUE(engine_->ApplyReply(replies[0]).ok());
    const std::int64_t version = Saga(id).version;
    const Status dup = engine_->ApplyReply(replies[0]);
    EXPECT_EQ(dup.code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(Saga(id).version, version) << "the saga itself is untouched";
    const V kinds = HistoryKinds(id);
    EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "reply_ignored"), 1);
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
}

TEST_P(EngineScenario, LateReplyAfterCompletionChangesNothing) {
    const SagaId id = StartOrder();
    engine_->Tick();
    auto first = worker_.RunQueued();
    ASSERT_EQ(engine_->ApplyReplies(first).front().code, ErrorCode::kOk);
    RunUntilQuiet();
    ASSERT_EQ(Saga(id).status, SagaStatus::kCompleted);
    Reply late = first[0];
    late.outcome = ReplyOutcome::kFail;
    late.reason = "late disagreement";
    EXPECT_EQ(engine_->ApplyReply(late).code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    EXPECT_EQ(HistoryKinds(id).back(), "reply_ignored");
}

TEST_P(EngineScenario, SameBusinessKeyTwiceGivesOneSaga) {
    auto a = engine_->Start(workflows::kOrderFulfilment, R"({"order_id":"o-9"})",
                            BusinessKey("order-9"));
    auto b = engine_->Start(workflows::kOrderFulfilment, R"({"order_id":"o-9"})",
                            BusinessKey("order-9"));
    ASSERT_TRUE(a.ok() && b.ok());
    EXPECT_EQ(a->saga_id, b->saga_id);
    EXPECT_TRUE(a->created);
    EXPECT_FALSE(b->created);
    RunUntilQuiet();
    EXPECT_EQ(worker_.effects(a->saga_id, 0, Phase::kForward), 1);
    auto tx = store_->Begin();
    EXPECT_EQ(tx->ListSagas({}).size(), 1u);
}

TEST_P(EngineScenario, ManualCompensateOfRunningSagaUndoesTheStepInFlightOnceItSucceeds) {
    const SagaId id = StartOrder();
    engine_->Tick();  // reserve_inventory is in flight
    ASSERT_EQ(worker_.queued().size(), 1u);
    ASSERT_TRUE(engine_->Compensate(id, "customer cancelled").ok());
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensating);
    RunUntilQuiet();  // the worker finishes reserve_inventory, then gets its undo
    const SagaRecord s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.RunOrder(id), (V{"reserve_inventory", "release_inventory"}));
    EXPECT_NE(s.failure_reason.find("customer cancelled"), std::string::npos);
}

TEST_P(EngineScenario, ManualCompensateOfRunningSagaSkipsAnInFlightStepThatFails) {
    worker_.FailWith("charge_payment", "declined");
    const SagaId id = StartOrder();
    engine_->Tick();
    worker_.Pump(*engine_);  // reserve done; charge queued
    engine_->Tick();         // charge in flight
    ASSERT_TRUE(engine_->Compensate(id, "fraud check").ok());
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.RunOrder(id), (V{"reserve_inventory", "release_inventory"}));
}

TEST_P(EngineScenario, ManualCompensateOfCompletedSagaUndoesEveryStepInReverse) {
    const SagaId id = StartOrder();
    RunUntilQuiet();
    ASSERT_EQ(Saga(id).status, SagaStatus::kCompleted);
    ASSERT_TRUE(engine_->Compensate(id, "goods returned").ok());
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.RunOrder(id),
              (V{"reserve_inventory", "charge_payment", "create_shipment", "cancel_shipment",
                 "refund_payment", "release_inventory"}));
}

TEST_P(EngineScenario, CompensateIsRefusedOnceCompensated) {
    worker_.FailWith("reserve_inventory", "out of stock");
    const SagaId id = StartOrder();
    RunUntilQuiet();
    const std::int64_t version = Saga(id).version;
    const Status s = engine_->Compensate(id, "again");
    EXPECT_EQ(s.code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(s.message.find("compensated"), std::string::npos) << s.message;
    EXPECT_EQ(Saga(id).version, version);
}

TEST_P(EngineScenario, StartManyAnswersEachStartAsAloneInOneTransaction) {
    std::vector<engine::StartRequest> starts(4);
    starts[0].workflow = starts[1].workflow = starts[3].workflow = std::string(workflows::kOrderFulfilment);
    starts[2].workflow = "no_such_workflow";
    for (auto& s : starts) {
        s.input = nlohmann::json::object();
        s.version = 2;  // v3 would wait for a payment confirmation
    }
    starts[0].business_key = starts[1].business_key = BusinessKey("order-7");
    const auto results = engine_->StartMany(starts);
    ASSERT_EQ(results.size(), 4u);
    ASSERT_TRUE(results[0].ok());
    EXPECT_TRUE(results[0]->created);
    ASSERT_TRUE(results[1].ok());
    EXPECT_FALSE(results[1]->created) << "the same business key in one batch is one saga";
    EXPECT_EQ(results[1]->saga_id, results[0]->saga_id);
    EXPECT_EQ(results[2].code(), ErrorCode::kNotFound);
    ASSERT_TRUE(results[3].ok());
    EXPECT_NE(results[3]->saga_id, results[0]->saga_id);
    RunUntilQuiet();
    EXPECT_EQ(Saga(results[0]->saga_id).status, SagaStatus::kCompleted);
    EXPECT_EQ(Saga(results[3]->saga_id).status, SagaStatus::kCompleted);
}

TEST_P(EngineScenario, RetryIsRefusedUnlessFailed) {
    const SagaId id = StartOrder();
    EXPECT_EQ(engine_->Retry(id).code, ErrorCode::kFailedPrecondition);
    RunUntilQuiet();
    EXPECT_EQ(engine_->Retry(id).code, ErrorCode::kFailedPrecondition);
}

TEST_P(EngineScenario, NewEngineContinuesWithoutRepeatingAcknowledgedCommands) {
    const SagaId id = StartOrder();
    engine_->Tick();
    worker_.Pump(*engine_);  // reserve_inventory acknowledged; charge_payment queued
    Restart();               // the old engine is gone, as after a crash
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    int reserve_sent = 0;
    for (const auto& c : worker_.received()) reserve_sent += c.action == "reserve_inventory";
    EXPECT_EQ(reserve_sent, 1) << "an acknowledged command is never sent again";
    EXPECT_EQ(worker_.effects(id, 1, Phase::kForward), 1);
}

// Ticks and pumps without moving the clock, until nothing moves.
void Quiet(Engine& engine, FakeWorker& worker) {
    for (int i = 0; i < 100 && engine.Tick() + worker.Pump(engine) > 0; ++i) {
    }
}

engine::SignalSent Go(const SagaId& id, const std::string& signal_id) {
    engine::SignalSent g;
    g.saga_id = id;
    g.name = "go";
    g.id = signal_id;
    g.payload = {{"by", signal_id}};
    return g;
}

SagaId StartWaits(Engine& engine) {
    engine::StartRequest req;
    req.workflow = "waits";
    return engine.Start(req)->saga_id;
}

TEST_P(EngineScenario, ATimerDueDuringAnOutageFiresOnceAtRecoveryAndTakesTheSignalKeptMeanwhile) {
    const SagaId id = StartWaits(*engine_);
    Quiet(*engine_, worker_);
    EXPECT_EQ(Saga(id).nodes.at("cool").state, engine::NodeState::kRunning);
    const Status kept = engine_->Signal(Go(id, "s1"));
    EXPECT_EQ(kept.message, engine::kSignalKept) << kept.message;
    Restart();  // sagad is gone through the timer's due time
    clock_.Advance(std::chrono::seconds(5));
    Restart();
    Quiet(*engine_, worker_);
    const engine::SagaRecord s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kCompleted);
    EXPECT_EQ(s.context.at("go"), nlohmann::json({{"by", "s1"}}));
    const V kinds = HistoryKinds(id);
    EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "timer_fired"), 1);
    EXPECT_EQ(std::count(kinds.begin(), kinds.end(), "signal_taken"), 1);
    EXPECT_EQ(engine_->Signal(Go(id, "s1")).code, ErrorCode::kAlreadyExists) << "applied once, across the restart";
    EXPECT_EQ(worker_.effects(id, 3, Phase::kForward), 1) << "second (node 3) ran once";
    EXPECT_EQ(PendingCount(), 0);
}

TEST_P(EngineScenario, AWaitWhoseDeadlinePassesAcrossARestartCompensatesAndTakesNoLateSignal) {
    const SagaId id = StartWaits(*engine_);
    RunUntilQuiet();  // the clock moves to each due time: the timer, then the deadline
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensated);
    EXPECT_TRUE(Saga(id).nodes.at("go").expired);
    EXPECT_EQ(worker_.effects(id, 0, Phase::kCompensate), 1);
    Restart();
    EXPECT_EQ(engine_->Signal(Go(id, "late")).code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(PendingCount(), 0);
}

TEST_P(EngineScenario, AChildSagaRunsInItsParentsTransactionsAndIsCompensatedWithItAcrossARestart) {
    engine::StartRequest req;
    req.workflow = "trip";
    const SagaId trip = engine_->Start(req)->saga_id;
    worker_.FailWith("book_hotel", "hotel full");
    Quiet(*engine_, worker_);
    Restart();  // mid-way or done: the store holds it all
    RunUntilQuiet();
    EXPECT_EQ(Saga(trip).status, SagaStatus::kCompensated);
    std::optional<SagaId> child_id;
    std::optional<engine::SagaRecord> child;
    {
        auto tx = store_->Begin();  // closed before PendingCount opens its own
        child_id = tx->FindByBusinessKey("flights", BusinessKey(trip.str() + "/flights"));
        if (child_id) child = tx->GetSaga(*child_id);
    }
    ASSERT_TRUE(child_id);
    ASSERT_TRUE(child);
    EXPECT_EQ(child->status, SagaStatus::kCompensated);
    EXPECT_EQ(child->parent_id, trip) << "the parent link reads back from the store";
    EXPECT_EQ(child->parent_node, "flights");
    EXPECT_EQ(worker_.effects(*child_id, 0, Phase::kForward), 1);
    EXPECT_EQ(worker_.effects(*child_id, 0, Phase::kCompensate), 1);
    EXPECT_EQ(worker_.RunOrder(trip), (V{"book_car", "return_car"})) << "book_hotel failed: no effect";
    EXPECT_EQ(PendingCount(), 0);
}

TEST_P(EngineScenario, NewEngineResendsTheUnacknowledgedCommandWithItsMsgId) {
    const SagaId id = StartOrder();
    engine_->Tick();
    ASSERT_EQ(worker_.queued().size(), 1u);
    const MsgId in_flight = worker_.queued().front().msg_id;
    worker_.RunQueued();  // the worker did it, but its reply is lost with the crash
    Restart();
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    ASSERT_GE(worker_.received().size(), 2u);
    EXPECT_EQ(worker_.received()[1].msg_id, in_flight);
    EXPECT_EQ(worker_.effects(id, 0, Phase::kForward), 1) << "the inbox answered the resend";
}

TEST_P(EngineScenario, LostCommandIsResentWithTheSameMsgIdAfterItsDeadline) {
    worker_.DropNext(1);
    const SagaId id = StartOrder();
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    ASSERT_GE(worker_.received().size(), 2u);
    EXPECT_EQ(worker_.received()[0].msg_id, worker_.received()[1].msg_id);
    EXPECT_EQ(worker_.received()[1].attempt, 2);
    EXPECT_EQ(worker_.effects(id, 0, Phase::kForward), 1);
    const V kinds = HistoryKinds(id);
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "timed_out"), kinds.end());
}

TEST_P(EngineScenario, TransientFailuresAreRetriedThenSucceed) {
    worker_.RetryTimes("charge_payment", 2);
    const SagaId id = StartOrder();
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    auto view = engine_->Describe(id);
    int charge_attempts = 0;
    for (const auto& a : view->attempts) charge_attempts += a.node == "charge_payment";
    EXPECT_EQ(charge_attempts, 3);
    EXPECT_EQ(worker_.effects(id, 1, Phase::kForward), 1);
}

TEST_P(EngineScenario, StepThatRetriesUntilItsAttemptsRunOutIsCompensatedItselfToo) {
    // A retry answer may come from a copy that found the step busy while another copy
    // (same msg id, on a worker hung past its deadline) still runs and may commit.
    worker_.RetryTimes("charge_payment", -1);
    const SagaId id = StartOrder();
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensated);
    std::vector<std::string> sent;
    for (const auto& c : worker_.received()) sent.push_back(c.action);
    EXPECT_NE(std::find(sent.begin(), sent.end(), "refund_payment"), sent.end())
        << "the step whose outcome is unknown is undone (the inbox makes that safe)";
    EXPECT_NE(std::find(sent.begin(), sent.end(), "release_inventory"), sent.end());
}

TEST_P(EngineScenario, StepThatNeverAnswersIsCompensatedItselfAfterItsAttempts) {
    auto r = engine_->Start("two_step", "{}");
    ASSERT_TRUE(r.ok());
    engine_->Tick();
    worker_.Pump(*engine_);  // first ok; second queued
    worker_.DropNext(3);     // every attempt of second is lost
    RunUntilQuiet();
    const SagaRecord s = Saga(r->saga_id);
    EXPECT_EQ(s.status, SagaStatus::kCompensated);
    // The outcome of `second` is unknown, so its undo is sent too (the worker's inbox
    // answers it as done-nothing if it never ran), then `first`'s.
    EXPECT_EQ(worker_.RunOrder(r->saga_id), (V{"first", "undo_second", "undo_first"}));
    EXPECT_NE(s.failure_reason.find("no reply after 3 attempts"), std::string::npos);
}

TEST_P(EngineScenario, UnknownWorkflowIsNotFoundAndWritesNothing) {
    auto r = engine_->Start("no_such_flow", "{}");
    EXPECT_EQ(r.code(), ErrorCode::kNotFound);
    auto tx = store_->Begin();
    EXPECT_TRUE(tx->ListSagas({}).empty());
    EXPECT_EQ(engine_->tracked(), 0u);
}

TEST_P(EngineScenario, MalformedJsonInputIsInvalidAndWritesNothing) {
    for (const char* bad : {"{", "", "{\"a\":}", "[1,2", "nul"}) {
        auto r = engine_->Start(workflows::kOrderFulfilment, bad);
        EXPECT_EQ(r.code(), ErrorCode::kInvalidArgument) << bad;
    }
    EXPECT_EQ(engine_->Start(workflows::kOrderFulfilment, "[1,2]").code(),
              ErrorCode::kInvalidArgument)
        << "input must be an object";
    auto tx = store_->Begin();
    EXPECT_TRUE(tx->ListSagas({}).empty());
}

TEST_P(EngineScenario, UnknownSagaIdIsNotFound) {
    const SagaId nobody(NewUuid());
    EXPECT_EQ(engine_->Compensate(nobody, "x").code, ErrorCode::kNotFound);
    EXPECT_EQ(engine_->Retry(nobody).code, ErrorCode::kNotFound);
    EXPECT_EQ(engine_->Describe(nobody).code(), ErrorCode::kNotFound);
}

TEST_P(EngineScenario, ReplyForAnUnknownMsgIdIsNotFoundAndWritesNothing) {
    const SagaId id = StartOrder();
    const std::size_t history = HistoryKinds(id).size();
    Reply stray{MsgId(NewUuid()), ReplyOutcome::kOk, {}, "", std::nullopt, false, {}, {}};
    EXPECT_EQ(engine_->ApplyReply(stray).code, ErrorCode::kNotFound);
    EXPECT_EQ(HistoryKinds(id).size(), history);
}

TEST_P(EngineScenario, ManySagasAdvanceTogetherInOneBatch) {
    std::vector<SagaId> ids;
    for (int i = 0; i < 40; ++i) ids.push_back(StartOrder("batch-" + std::to_string(i)));
    engine_->Tick();
    EXPECT_EQ(worker_.queued().size(), 40u);
    RunUntilQuiet();
    for (const SagaId& id : ids) EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    for (const auto& [key, n] : worker_.all_effects()) EXPECT_EQ(n, 1);
}

TEST_P(EngineScenario, RefusedCommandIsOfferedAgainLater) {
    worker_.SetRefusing(true);
    const SagaId id = StartOrder();
    EXPECT_EQ(engine_->Tick(), 0);
    EXPECT_TRUE(worker_.received().empty());
    worker_.SetRefusing(false);
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
}

TEST_P(EngineScenario, HistoryTracesEveryHop) {
    worker_.FailWith("charge_payment", "declined");
    const SagaId id = StartOrder();
    RunUntilQuiet();
    const V expected{"started",   "queued",       "sent",   "replied", "queued",
                     "sent",      "replied",      "compensating", "queued", "sent",
                     "replied",   "compensated"};
    EXPECT_EQ(HistoryKinds(id), expected);
}

// Hardening finding 6: compensating a saga whose next command was queued but never sent
// withdraws that command in the same transaction; it never reaches a worker.
TEST_P(EngineScenario, CompensateWithdrawsACommandThatWasNeverSent) {
    const SagaId id = StartOrder();
    engine_->Tick();
    worker_.Pump(*engine_);  // reserve_inventory done; charge_payment queued
    worker_.SetRefusing(true);
    engine_->Tick();  // no worker takes charge_payment: it stays unsent
    ASSERT_TRUE(engine_->Compensate(id, "customer cancelled").ok());
    worker_.SetRefusing(false);
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.RunOrder(id), (V{"reserve_inventory", "release_inventory"}));
    for (const auto& c : worker_.received()) EXPECT_NE(c.action, "charge_payment");
    const V kinds = HistoryKinds(id);
    EXPECT_NE(std::find(kinds.begin(), kinds.end(), "withdrawn"), kinds.end());
    EXPECT_EQ(PendingCount(), 0);
}

// ... but after a restart nobody knows whether an earlier process sent it: awaited.
TEST_P(EngineScenario, CompensateAfterARestartAwaitsACommandThatMayHaveBeenSent) {
    const SagaId id = StartOrder();
    worker_.SetRefusing(true);
    engine_->Tick();
    Restart();
    ASSERT_TRUE(engine_->Compensate(id, "customer cancelled").ok());
    worker_.SetRefusing(false);
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.RunOrder(id), (V{"reserve_inventory", "release_inventory"}));
}

// Hardening finding 1 (engine half): a reply naming another saga than its command's is
// forged and writes nothing; a late one (not from the worker last sent the command) is
// recorded and never applied.
TEST_P(EngineScenario, ForgedAndLateRepliesAreNeverApplied) {
    const SagaId id = StartOrder();
    engine_->Tick();
    ASSERT_EQ(worker_.queued().size(), 1u);
    const engine::Command sent = worker_.queued().front();
    const std::size_t history = HistoryKinds(id).size();
    Reply forged{sent.msg_id, ReplyOutcome::kOk, {{"tracking", "FORGED"}}, "", SagaId(NewUuid()), false, {}, {}};
    EXPECT_EQ(engine_->ApplyReply(forged).code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(HistoryKinds(id).size(), history);
    Reply late{sent.msg_id, ReplyOutcome::kOk, {{"tracking", "LATE"}}, "", id, true, {}, {}};
    EXPECT_EQ(engine_->ApplyReply(late).code, ErrorCode::kFailedPrecondition);
    EXPECT_EQ(HistoryKinds(id).back(), "reply_ignored");
    EXPECT_EQ(Saga(id).nodes.at("reserve_inventory").state, engine::NodeState::kRunning);
    EXPECT_EQ(PendingCount(), 1);
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    EXPECT_FALSE(Saga(id).context.dump().find("FORGED") != std::string::npos);
}

// Hardening finding 11: a business key is an idempotency key. The same key with the
// same input gives the same saga; with another input it is refused, naming the saga.
TEST_P(EngineScenario, SameBusinessKeyWithAnotherInputIsRefusedNamingTheSaga) {
    const SagaId first = StartOrder("o-7");
    auto again = engine_->Start(workflows::kOrderFulfilment, R"({"order_id":"o-1","amount":25})", BusinessKey("o-7"));
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->saga_id, first);
    EXPECT_FALSE(again->created);
    auto other = engine_->Start(workflows::kOrderFulfilment, R"({"order_id":"o-1","amount":99})", BusinessKey("o-7"));
    ASSERT_FALSE(other.ok());
    EXPECT_EQ(other.code(), ErrorCode::kAlreadyExists);
    EXPECT_NE(other.status().message.find(first.str()), std::string::npos) << other.status().message;
}

// Hardening finding 12: after a retry fixes a failed saga, the saga shows why it
// compensated, not the failure the retry fixed; the history keeps both.
TEST_P(EngineScenario, RetriedSagaShowsItsCauseNotTheFixedFailure) {
    worker_.FailWith("charge_payment", "declined");
    worker_.FailWith("release_inventory", "warehouse down");
    const SagaId id = StartOrder();
    RunUntilQuiet();
    ASSERT_EQ(Saga(id).status, SagaStatus::kFailed);
    EXPECT_NE(Saga(id).failure_reason.find("warehouse down"), std::string::npos);
    worker_.On("release_inventory", [](const engine::Command& c) {
        return Reply{c.msg_id, ReplyOutcome::kOk, {}, "", c.saga_id, false, {}, {}};
    });
    ASSERT_TRUE(engine_->Retry(id).ok());
    RunUntilQuiet();
    const SagaRecord s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kCompensated);
    EXPECT_NE(s.failure_reason.find("declined"), std::string::npos) << s.failure_reason;
    EXPECT_EQ(s.failure_reason.find("warehouse"), std::string::npos) << s.failure_reason;
    const auto view = engine_->Describe(id);
    bool kept = false;
    for (const auto& e : view->history) kept = kept || e.detail.dump().find("warehouse down") != std::string::npos;
    EXPECT_TRUE(kept);
}

// Hardening finding 8: after a redeploy without a workflow version, its sagas are left
// untouched (not a store outage), counted at recovery, and the rest run as usual.
TEST_P(EngineScenario, SagasOfAnUnregisteredVersionWaitUntouchedWhileTheRestRun) {
    auto stranded = engine_->Start("two_step", "{}");
    ASSERT_TRUE(stranded.ok());
    engine_->Tick();  // its first command is sent
    WorkflowRegistry without;  // a redeploy that dropped two_step v1
    workflows::RegisterAll(without);
    Restart(&without);
    EXPECT_EQ(engine_->unregistered(), (std::map<std::string, std::size_t>{{"two_step v1", 1}}));
    const std::size_t history = HistoryKinds(stranded->saga_id).size();
    const SagaId order = StartOrder();
    RunUntilQuiet();  // applies the stranded saga's reply too: refused, not thrown
    EXPECT_EQ(Saga(order).status, SagaStatus::kCompleted);
    const SagaRecord s = Saga(stranded->saga_id);
    EXPECT_EQ(s.status, SagaStatus::kRunning);
    EXPECT_EQ(s.nodes.at("first").state, engine::NodeState::kRunning);
    EXPECT_EQ(HistoryKinds(stranded->saga_id).size(), history);
    EXPECT_NE(engine::UnregisteredReason(s).find("two_step' v1"), std::string::npos);
}

// ---- order_fulfilment v2: a choice and a parallel group -------------------------------

nlohmann::json Order(int amount) { return {{"order_id", "o-2"}, {"amount", amount}}; }
constexpr int kSmall = workflows::kFraudCheckAbove - 1;
constexpr int kLarge = workflows::kFraudCheckAbove + 1;

std::size_t Position(const V& order, const std::string& action) {
    return static_cast<std::size_t>(std::find(order.begin(), order.end(), action) - order.begin());
}

TEST_P(EngineScenario, V2SmallOrderSkipsTheFraudCheckAndSendsBothBranchesAtOnce) {
    const SagaId id = StartOrder({}, 2, Order(kSmall));
    engine_->Tick();
    (void)worker_.Pump(*engine_);  // reserve
    engine_->Tick();
    (void)worker_.Pump(*engine_);  // charge
    engine_->Tick();
    V queued;
    for (const auto& c : worker_.queued()) queued.push_back(c.action);
    std::sort(queued.begin(), queued.end());
    EXPECT_EQ(queued, (V{"create_shipment", "issue_invoice"})) << "the group's branches go out together";
    EXPECT_EQ(PendingCount(), 2);
    RunUntilQuiet();
    const SagaRecord s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kCompleted);
    EXPECT_EQ(s.nodes.at("fraud_check").state, engine::NodeState::kSkipped);
    EXPECT_EQ(s.nodes.at("ship_and_invoice").state, engine::NodeState::kDone);
    EXPECT_EQ(worker_.RunOrder(id).size(), 4u);
    EXPECT_EQ(PendingCount(), 0);
}

TEST_P(EngineScenario, V2LargeOrderIsFraudCheckedBeforeTheCharge) {
    const SagaId id = StartOrder({}, 2, Order(kLarge));
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    const V order = worker_.RunOrder(id);
    ASSERT_EQ(order.size(), 5u);
    EXPECT_EQ(V(order.begin(), order.begin() + 3), (V{"reserve_inventory", "fraud_check", "charge_payment"}));
    EXPECT_EQ(Saga(id).nodes.at("fraud_check").state, engine::NodeState::kDone);
}

TEST_P(EngineScenario, V2FailedShipmentVoidsTheInvoiceRefundsAndReleasesInThatOrder) {
    worker_.FailWith("create_shipment", "undeliverable region");
    const SagaId id = StartOrder({}, 2, Order(kSmall));
    RunUntilQuiet();
    const SagaRecord s = Saga(id);
    EXPECT_EQ(s.status, SagaStatus::kCompensated);
    EXPECT_NE(s.failure_reason.find("undeliverable"), std::string::npos) << s.failure_reason;
    const V order = worker_.RunOrder(id);
    EXPECT_LT(Position(order, "void_invoice"), Position(order, "refund_payment"));
    EXPECT_LT(Position(order, "refund_payment"), Position(order, "release_inventory"));
    EXPECT_EQ(Position(order, "cancel_shipment"), order.size()) << "a failed step is not undone";
    EXPECT_EQ(s.nodes.at("create_shipment").state, engine::NodeState::kFailed);
    EXPECT_EQ(s.nodes.at("issue_invoice").state, engine::NodeState::kCompensated);
    EXPECT_EQ(s.nodes.at("ship_and_invoice").state, engine::NodeState::kFailed);
}

TEST_P(EngineScenario, V2FailedFraudCheckReleasesTheStockAndChargesNothing) {
    worker_.FailWith("fraud_check", "fraud suspected");
    const SagaId id = StartOrder({}, 2, Order(kLarge));
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.RunOrder(id), (V{"reserve_inventory", "release_inventory"}));
    EXPECT_EQ(Saga(id).nodes.at("charge_payment").state, engine::NodeState::kSkipped);
}

TEST_P(EngineScenario, V2ARestartWithBothBranchesInFlightResendsBothAndFinishes) {
    const SagaId id = StartOrder({}, 2, Order(kSmall));
    for (int i = 0; i < 2; ++i) {
        engine_->Tick();
        (void)worker_.Pump(*engine_);
    }
    engine_->Tick();
    ASSERT_EQ(worker_.queued().size(), 2u);
    (void)worker_.RunQueued();  // the workers ran both; their replies are lost with the process
    Restart();
    EXPECT_EQ(engine_->tracked(), 2u) << "both pending items recovered";
    RunUntilQuiet();
    EXPECT_EQ(Saga(id).status, SagaStatus::kCompleted);
    for (const auto& [key, n] : worker_.all_effects()) EXPECT_EQ(n, 1) << "the inbox answered the resends";
}

TEST_P(EngineScenario, V3WaitsForThePaymentConfirmationThenCoolsALargeOrderOffBeforeShipping) {
    const SagaId large = StartOrder({}, 3, Order(kLarge));
    const SagaId unconfirmed = StartOrder({}, 3);
    Quiet(*engine_, worker_);
    EXPECT_EQ(Saga(large).nodes.at("payment_confirmed").state, engine::NodeState::kRunning);
    engine::SignalSent ok;
    ok.saga_id = large;
    ok.name = "payment_confirmed";
    ok.id = "psp-1";
    ok.payload = {{"psp_ref", "psp-1"}};
    EXPECT_EQ(engine_->Signal(ok).message, engine::kSignalDelivered);
    Quiet(*engine_, worker_);
    EXPECT_EQ(Saga(large).nodes.at("cooling_off").state, engine::NodeState::kRunning) << "a large order cools off";
    const V before_shipping = worker_.RunOrder(large);
    EXPECT_EQ(std::count(before_shipping.begin(), before_shipping.end(), "create_shipment"), 0) << "not yet shipped";
    RunUntilQuiet();  // the clock moves: the cooling-off fires, and the other order's deadline passes
    EXPECT_EQ(Saga(large).status, SagaStatus::kCompleted);
    EXPECT_EQ(Saga(large).context.at("payment_confirmed").at("psp_ref"), "psp-1");
    EXPECT_EQ(Saga(unconfirmed).status, SagaStatus::kCompensated);
    EXPECT_NE(Saga(unconfirmed).failure_reason.find("signal 'payment_confirmed' passed its deadline of 1800000 ms"),
              std::string::npos)
        << Saga(unconfirmed).failure_reason;
    EXPECT_EQ(worker_.RunOrder(unconfirmed),
              (V{"reserve_inventory", "charge_payment", "refund_payment", "release_inventory"}));
}

TEST_P(EngineScenario, V1AndV2RunSideBySideEachOnItsOwnGraph) {
    const SagaId one = StartOrder({}, 1);
    const SagaId two = StartOrder({}, 2, Order(kLarge));
    auto latest = engine_->Start(workflows::kOrderFulfilment, R"({"order_id":"o-3","amount":1})");
    ASSERT_TRUE(latest.ok());
    RunUntilQuiet();
    EXPECT_EQ(Saga(one).workflow_version, 1);
    EXPECT_EQ(worker_.RunOrder(one), (V{"reserve_inventory", "charge_payment", "create_shipment"}));
    EXPECT_EQ(worker_.RunOrder(two).size(), 5u);
    EXPECT_EQ(Saga(latest->saga_id).workflow_version, 3) << "a start without a version takes the latest";
    engine::StartRequest unknown;
    unknown.workflow = workflows::kOrderFulfilment;
    unknown.version = 9;
    const auto r = engine_->Start(unknown);
    EXPECT_EQ(r.code(), ErrorCode::kNotFound);
    EXPECT_NE(r.status().message.find("v9"), std::string::npos);
}

}  // namespace
}  // namespace sagaflow::testing
