// Waits under the manual clock: timers (Sleep, Until), deadlines on steps and waits,
// OnDeadline paths, and signals (before the wait, after it, duplicated, to an ended saga,
// unknown), through the engine on the memory store. Durability across a kill -9 is the
// integration test's (waits_pg_test.cpp); here a restart is a new engine on the same store.
#include <gtest/gtest.h>

#include "engine.hpp"
#include "fake_worker.hpp"
#include "memory_store.hpp"
#include "trip_workflows.hpp"
#include "unit_kit.hpp"

namespace sagaflow::engine {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeWorker;

using testing::BuildError;

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

TEST(WaitsRegistration, BadTimersDeadlinesAndSignalsAreNamed) {
    const std::string p = BuildError(WorkflowBuilder("w", 1)
                                       .Step("a", "q").Timeout(seconds(10)).Deadline(seconds(5))
                                       .Sleep("zero", milliseconds(0))
                                       .Sleep("negative", milliseconds(-5))
                                       .AwaitSignal("wait", "ok").OnDeadline("a")
                                       .Step("b", "q"));
    EXPECT_TRUE(Has(p, "step 'a': deadline 5000 ms is shorter than the timeout of step 'a' (10000 ms)")) << p;
    EXPECT_TRUE(Has(p, "timer 'zero': Sleep must be > 0, not 0 ms")) << p;
    EXPECT_TRUE(Has(p, "timer 'negative': Sleep must be > 0, not -5 ms")) << p;
    EXPECT_TRUE(Has(p, "signal 'wait': OnDeadline without a Deadline")) << p;
    EXPECT_TRUE(Has(p, "signal 'wait': target 'a' (on deadline) is not further down")) << p;

    const std::string g = BuildError(WorkflowBuilder("w", 1)
                                       .Parallel("group")
                                       .Branch().Step("x", "q").Timeout(seconds(60))
                                       .Branch().Step("y", "q")
                                       .Join().Deadline(seconds(45))
                                       .Step("z", "q").OnDeadline("z"));
    EXPECT_TRUE(Has(g, "parallel 'group': deadline 45000 ms is shorter than the timeout of step 'x' (60000 ms)")) << g;
    EXPECT_TRUE(Has(g, "OnDeadline after step 'z': only a signal wait has it")) << g;
}

class WaitsTest : public ::testing::Test {
protected:
    WaitsTest() {
        registry_.Add(WorkflowBuilder("cool", 1)
                          .Step("reserve", "q").CompensateWith("release")
                          .Sleep("cooling_off", seconds(1))
                          .Step("ship", "q")
                          .Build());
        registry_.Add(WorkflowBuilder("until", 1)
                          .Until("wait_until", "not_before")
                          .Step("refund", "q")
                          .Build());
        registry_.Add(WorkflowBuilder("pay", 1)
                          .Step("charge", "q").CompensateWith("refund")
                          .AwaitSignal("payment_confirmed").Deadline(seconds(2))
                          .Step("ship", "q")
                          .Build());
        registry_.Add(WorkflowBuilder("remind", 1)
                          .Step("charge", "q").CompensateWith("refund")
                          .AwaitSignal("first_wait", "payment_confirmed").Deadline(seconds(2)).OnDeadline("remind")
                          .Next("ship")
                          .Step("remind", "q")
                          .AwaitSignal("second_wait", "payment_confirmed").Deadline(seconds(2))
                          .Step("ship", "q")
                          .Build());
        registry_.Add(WorkflowBuilder("slow", 1)
                          .Step("reserve", "q").CompensateWith("release")
                          .Step("call_partner", "q").CompensateWith("cancel_partner")
                          .Timeout(seconds(1)).Retry(RetryPolicy{10, milliseconds(100), 1.0, milliseconds(100), 0.0})
                          .Deadline(milliseconds(2500))
                          .Build());
        Restart();
    }

    void Restart() {
        EngineOptions o;
        o.seed = 3;
        worker_ = std::make_unique<FakeWorker>();
        engine_ = std::make_unique<Engine>(registry_, store_, *worker_, clock_, o);
        worker_->Attach(*engine_, registry_);
        engine_->Recover();
    }

    // Ticks and answers until nothing more happens now.
    void Settle() {
        for (int i = 0; i < 100; ++i) {
            const int moved = engine_->Tick();
            if (moved == 0 && worker_->Pump(*engine_) == 0) return;
        }
        FAIL() << "did not settle";
    }

    SagaId Start(const std::string& workflow, json input = json::object()) {
        StartRequest req;
        req.workflow = workflow;
        req.input = std::move(input);
        auto r = engine_->Start(req);
        EXPECT_TRUE(r.ok()) << r.status().message;
        Settle();
        return r->saga_id;
    }

    SagaView View(const SagaId& id) { return engine_->Describe(id).value(); }
    SagaStatus StatusOf(const SagaId& id) { return View(id).saga.status; }

    Status Signal(const SagaId& id, const std::string& name, const std::string& signal_id, json payload = json::object()) {
        SignalSent s;
        s.saga_id = id;
        s.name = name;
        s.id = signal_id;
        s.payload = std::move(payload);
        Status st = engine_->Signal(std::move(s));
        Settle();
        return st;
    }

    int CountEvents(const SagaId& id, const std::string& kind) { return testing::CountEvents(View(id).history, kind); }

    WorkflowRegistry registry_;
    MemorySagaStore store_;
    ManualClock clock_;
    std::unique_ptr<FakeWorker> worker_;
    std::unique_ptr<Engine> engine_;
};

TEST_F(WaitsTest, ASleepHoldsTheFlowForItsDurationExactly) {
    const SagaId id = Start("cool");
    EXPECT_EQ(View(id).saga.nodes.at("cooling_off").state, NodeState::kRunning);
    ASSERT_EQ(View(id).pending.size(), 1u);
    EXPECT_EQ(View(id).pending[0].kind, PendingKind::kTimer);
    EXPECT_EQ(engine_->NextWakeup(), clock_.Now() + seconds(1));
    clock_.Advance(milliseconds(999));
    Settle();
    EXPECT_EQ(View(id).saga.nodes.at("ship").state, NodeState::kPending) << "too early";
    clock_.Advance(milliseconds(1));
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);
    EXPECT_EQ(CountEvents(id, "timer_fired"), 1);
    EXPECT_TRUE(View(id).pending.empty());
    EXPECT_EQ(engine_->waits(), 0u);
}

TEST_F(WaitsTest, ATimerDueWhileSagadWasDownFiresOnceAtRecovery) {
    const SagaId id = Start("cool");
    clock_.Advance(seconds(30));  // down through the due time
    Restart();
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);
    EXPECT_EQ(CountEvents(id, "timer_fired"), 1);
    // The old engine's memory fires again: the pending item is gone, so nothing happens.
    WaitDue again{View(id).history.front().msg_id.value_or(MsgId(NewUuid()))};
    for (const auto& e : View(id).history) {
        if (e.kind == "timer_armed") again.id = *e.msg_id;
    }
    const Event ev = again;
    EXPECT_TRUE(engine_->ApplyEvents(std::span<const Event>(&ev, 1)).front().ok());
    EXPECT_EQ(CountEvents(id, "timer_fired"), 1);
    EXPECT_EQ(worker_->effects(id, 2, Phase::kForward), 1) << "ship ran once";
}

TEST_F(WaitsTest, UntilWaitsForTheTimestampInTheInputOrFailsNamingTheField) {
    const SagaId id = Start("until", {{"not_before", FormatTimestamp(clock_.Now() + seconds(5))}});
    clock_.Advance(seconds(4));
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kRunning);
    clock_.Advance(seconds(1));
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);

    const SagaId past = Start("until", {{"not_before", (clock_.Now() - seconds(1)).time_since_epoch().count() / 1000}});
    EXPECT_EQ(StatusOf(past), SagaStatus::kCompleted) << "a due time in the past fires at once";

    const SagaId bad = Start("until", {{"not_before", "next tuesday"}});
    EXPECT_EQ(StatusOf(bad), SagaStatus::kCompensated);
    EXPECT_TRUE(Has(View(bad).saga.failure_reason, "field 'not_before' of the context or input holds no timestamp"))
        << View(bad).saga.failure_reason;
}

TEST_F(WaitsTest, ASignalAfterTheWaitResumesTheFlowWithItsPayloadInTheContext) {
    const SagaId id = Start("pay");
    EXPECT_EQ(View(id).saga.nodes.at("payment_confirmed").state, NodeState::kRunning);
    const Status st = Signal(id, "payment_confirmed", "psp-1", {{"psp_ref", "X9"}});
    EXPECT_TRUE(st.ok()) << st.message;
    EXPECT_EQ(st.message, kSignalDelivered);
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);
    EXPECT_EQ(View(id).saga.context.at("payment_confirmed"), json({{"psp_ref", "X9"}}));
    EXPECT_TRUE(View(id).pending.empty()) << "the wait and its deadline are gone";
    EXPECT_EQ(engine_->waits(), 0u);

    const Status again = Signal(id, "payment_confirmed", "psp-1", {{"psp_ref", "X9"}});
    EXPECT_EQ(again.code, ErrorCode::kAlreadyExists) << again.message;
    EXPECT_TRUE(Has(again.message, "already applied")) << again.message;
}

TEST_F(WaitsTest, ASignalBeforeTheWaitIsKeptAndTakenWhenTheSagaGetsThere) {
    worker_->SetRefusing(true);  // charge is not answered yet: the saga is not at its wait
    StartRequest req;
    req.workflow = "pay";
    const SagaId id = engine_->Start(req)->saga_id;
    (void)engine_->Tick();
    const Status st = Signal(id, "payment_confirmed", "early", {{"psp_ref", "E1"}});
    EXPECT_EQ(st.message, kSignalKept);
    const Status dup = Signal(id, "payment_confirmed", "early");
    EXPECT_EQ(dup.code, ErrorCode::kAlreadyExists);
    EXPECT_EQ(StatusOf(id), SagaStatus::kRunning);
    worker_->SetRefusing(false);
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);
    EXPECT_EQ(View(id).saga.context.at("payment_confirmed"), json({{"psp_ref", "E1"}}));
    EXPECT_EQ(CountEvents(id, "signal_taken"), 1);
}

TEST_F(WaitsTest, NoSignalByTheDeadlineFailsTheWaitAndCompensates) {
    const SagaId id = Start("pay");
    clock_.Advance(milliseconds(1999));
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kRunning);
    clock_.Advance(milliseconds(1));
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompensated);
    EXPECT_TRUE(View(id).saga.nodes.at("payment_confirmed").expired);
    EXPECT_TRUE(Has(View(id).saga.failure_reason, "signal 'payment_confirmed' passed its deadline of 2000 ms"));
    EXPECT_EQ(worker_->effects(id, 0, Phase::kCompensate), 1) << "the charge was refunded";
    EXPECT_TRUE(View(id).pending.empty());

    const Status late = Signal(id, "payment_confirmed", "late");
    EXPECT_EQ(late.code, ErrorCode::kFailedPrecondition);
    EXPECT_TRUE(Has(late.message, "is compensated")) << late.message;
    EXPECT_EQ(CountEvents(id, "signal_rejected"), 1) << "recorded in its history";
}

TEST_F(WaitsTest, OnDeadlineTakesTheReminderPathAndWaitsAgain) {
    const SagaId id = Start("remind");
    clock_.Advance(seconds(2));
    Settle();
    const SagaView v = View(id);
    EXPECT_EQ(v.saga.status, SagaStatus::kRunning);
    EXPECT_EQ(v.saga.nodes.at("first_wait").state, NodeState::kDone);
    EXPECT_TRUE(v.saga.nodes.at("first_wait").expired);
    EXPECT_EQ(v.saga.nodes.at("remind").state, NodeState::kDone);
    EXPECT_EQ(v.saga.nodes.at("second_wait").state, NodeState::kRunning);
    EXPECT_EQ(Signal(id, "payment_confirmed", "after-reminder").message, kSignalDelivered);
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);

    const SagaId quick = Start("remind");
    EXPECT_EQ(Signal(quick, "payment_confirmed", "quick").message, kSignalDelivered);
    EXPECT_EQ(StatusOf(quick), SagaStatus::kCompleted);
    EXPECT_EQ(View(quick).saga.nodes.at("remind").state, NodeState::kSkipped) << "Next jumps over the reminder";
}

TEST_F(WaitsTest, AStepPastItsDeadlineFailsWithAnUnknownOutcomeAndIsUndone) {
    StartRequest req;
    req.workflow = "slow";
    const SagaId id = engine_->Start(req)->saga_id;
    ASSERT_EQ(engine_->Tick(), 1);          // reserve goes out
    ASSERT_EQ(worker_->Pump(*engine_), 1);  // and is done: call_partner is queued
    worker_->DropNext(1000);                // from now on nothing is answered
    for (int i = 0; i < 40 && StatusOf(id) == SagaStatus::kRunning; ++i) {
        clock_.Advance(milliseconds(100));
        Settle();
    }
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompensating);
    EXPECT_EQ(clock_.Now() - View(id).saga.created_at, milliseconds(2500)) << "at its deadline, not after its attempts";
    worker_->DropNext(0);
    for (int i = 0; i < 120 && StatusOf(id) != SagaStatus::kCompensated; ++i) {
        clock_.Advance(seconds(1));
        Settle();
    }
    const SagaView v = View(id);
    EXPECT_EQ(v.saga.status, SagaStatus::kCompensated);
    EXPECT_TRUE(v.saga.nodes.at("call_partner").expired);
    EXPECT_TRUE(Has(v.saga.failure_reason, "step 'call_partner' passed its deadline of 2500 ms")) << v.saga.failure_reason;
    EXPECT_EQ(CountEvents(id, "abandoned"), 1) << "its command is dropped";
    EXPECT_EQ(worker_->effects(id, 0, Phase::kCompensate), 1) << "reserve released";
    EXPECT_EQ(worker_->effects(id, 1, Phase::kCompensate), 1) << "call_partner undone too: it may have run";
    EXPECT_TRUE(v.pending.empty());
    EXPECT_EQ(engine_->tracked(), 0u);
}

TEST_F(WaitsTest, BadSignalsGetClearErrorsAndUnknownOnesAreRecorded) {
    const SagaId id = Start("pay");
    EXPECT_EQ(Signal(SagaId(NewUuid()), "payment_confirmed", "x").code, ErrorCode::kNotFound);
    EXPECT_EQ(Signal(id, "payment_confirmed", "x", json::array()).code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(Signal(id, "bad name!", "x").code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(Signal(id, "payment_confirmed", "").code, ErrorCode::kInvalidArgument);
    json big = {{"blob", std::string(kMaxSignalPayloadBytes, 'x')}};
    EXPECT_EQ(Signal(id, "payment_confirmed", "x", big).code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(CountEvents(id, "signal_rejected"), 0) << "nothing written for those";

    const Status unknown = Signal(id, "parcel_lost", "y");
    EXPECT_EQ(unknown.code, ErrorCode::kInvalidArgument);
    EXPECT_TRUE(Has(unknown.message, "no wait of workflow 'pay' v1 names signal 'parcel_lost'")) << unknown.message;
    EXPECT_EQ(CountEvents(id, "signal_rejected"), 1);
    EXPECT_EQ(StatusOf(id), SagaStatus::kRunning) << "the saga still waits";
}

TEST_F(WaitsTest, AManualCompensationWithdrawsTheWaitAndItsDeadline) {
    const SagaId id = Start("pay");
    ASSERT_TRUE(engine_->Compensate(id, "customer cancelled").ok());
    Settle();
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompensated);
    EXPECT_EQ(View(id).saga.nodes.at("payment_confirmed").state, NodeState::kSkipped);
    EXPECT_TRUE(View(id).pending.empty());
    EXPECT_EQ(engine_->waits(), 0u);
    EXPECT_FALSE(engine_->NextWakeup());
}


// ---- child sagas ----------------------------------------------------------------------

// The waits fixture (its engine, manual clock and Settle) with a trip whose flights are a
// child saga; the compensations record their order.
class ChildTest : public WaitsTest {
protected:
    ChildTest() {
        testing::AddTripWorkflows(registry_);
        registry_.Add(WorkflowBuilder("trip_input", 1).Child("flights", "flights", "flight_request").Build());
        for (const char* undo : {"cancel_flight", "return_car", "cancel_hotel"}) {
            worker_->On(undo, [this, undo](const Command& c) {
                if (refuse_ == undo) return Reply{c.msg_id, ReplyOutcome::kFail, json::object(), "partner down", c.saga_id, false, {}, {}};
                undone_.emplace_back(undo);
                return Reply{c.msg_id, ReplyOutcome::kOk, json::object(), "", c.saga_id, false, {}, {}};
            });
        }
    }

    // The child saga its node `flights` started.
    SagaRecord ChildOf(const SagaId& parent) {
        auto tx = store_.Begin();
        const auto id = tx->FindByBusinessKey("flights", BusinessKey(parent.str() + "/flights"));
        EXPECT_TRUE(id) << "no child";
        return tx->GetSaga(*id).value();
    }

    std::vector<std::string> undone_;
    std::string refuse_;  ///< A compensation that fails for good while set.
};

TEST(ChildRegistration, AChildOfAWorkflowNotRegisteredIsRefusedNamingIt) {
    WorkflowRegistry registry;
    try {
        registry.Add(WorkflowBuilder("trip", 1).Step("a", "q").Child("flights", "flights").Build());
        FAIL() << "registered";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        EXPECT_TRUE(Has(e.what(), "child node 'flights' names workflow 'flights', which is not registered")) << e.what();
    }
    EXPECT_EQ(registry.All().size(), 0u);
}

TEST_F(ChildTest, ACompletedChildJoinsItsContextToTheParentsAndTheyLinkBothWays) {
    const SagaId trip = Start("trip");
    const SagaView v = View(trip);
    EXPECT_EQ(v.saga.status, SagaStatus::kCompleted);
    const SagaRecord child = ChildOf(trip);
    EXPECT_EQ(child.status, SagaStatus::kCompleted);
    EXPECT_EQ(child.parent_id, trip);
    EXPECT_EQ(child.parent_node, "flights");
    EXPECT_EQ(child.trace_id, v.saga.trace_id) << "one trace through both";
    EXPECT_EQ(v.saga.context.at("flights"), child.context) << "the child's context under the node's id";
    int started = 0;
    for (const auto& e : v.history) started += e.kind == "child_started" && e.detail.value("child", "") == child.id.str();
    EXPECT_EQ(started, 1);
    EXPECT_TRUE(v.pending.empty());
}

TEST_F(ChildTest, AChildThatFailsFailsItsNodeAndTheParentCompensatesWhatRan) {
    worker_->FailWith("book_flight", "no seats left");
    const SagaId trip = Start("trip");
    const SagaView v = View(trip);
    EXPECT_EQ(v.saga.status, SagaStatus::kCompensated);
    EXPECT_EQ(ChildOf(trip).status, SagaStatus::kCompensated);
    EXPECT_TRUE(Has(v.saga.failure_reason, "(flights) ended compensated")) << v.saga.failure_reason;
    EXPECT_TRUE(Has(v.saga.failure_reason, "no seats left")) << v.saga.failure_reason;
    EXPECT_EQ(undone_, (std::vector<std::string>{"return_car"})) << "the child undid itself: nothing of it to undo";
    EXPECT_EQ(v.saga.nodes.at("book_hotel").state, NodeState::kSkipped);
}

TEST_F(ChildTest, ACompletedChildIsCompensatedAsOneUnitInItsPlaceWhenTheParentCompensates) {
    worker_->FailWith("book_hotel", "hotel full");
    const SagaId trip = Start("trip");
    EXPECT_EQ(View(trip).saga.status, SagaStatus::kCompensated);
    EXPECT_EQ(View(trip).saga.nodes.at("flights").state, NodeState::kCompensated);
    const SagaRecord child = ChildOf(trip);
    EXPECT_EQ(child.status, SagaStatus::kCompensated);
    EXPECT_TRUE(Has(child.failure_reason, "its parent saga " + trip.str() + " compensates")) << child.failure_reason;
    EXPECT_EQ(undone_, (std::vector<std::string>{"cancel_flight", "return_car"})) << "reverse order of completion";
    EXPECT_EQ(worker_->effects(child.id, 0, Phase::kCompensate), 1);
}

TEST_F(ChildTest, AManualCompensationOfACompletedParentUndoesItsChildToo) {
    const SagaId trip = Start("trip");
    ASSERT_EQ(View(trip).saga.status, SagaStatus::kCompleted);
    ASSERT_TRUE(engine_->Compensate(trip, "trip cancelled").ok());
    Settle();
    EXPECT_EQ(View(trip).saga.status, SagaStatus::kCompensated);
    EXPECT_EQ(ChildOf(trip).status, SagaStatus::kCompensated);
    EXPECT_EQ(undone_, (std::vector<std::string>{"cancel_hotel", "cancel_flight", "return_car"}));
}

TEST_F(ChildTest, AChildWhoseUndoFailedForGoodStopsItsParentAndTheParentsRetryRetriesTheChild) {
    worker_->FailWith("book_hotel", "hotel full");
    refuse_ = "cancel_flight";
    const SagaId trip = Start("trip");
    const SagaRecord stuck = ChildOf(trip);
    EXPECT_EQ(stuck.status, SagaStatus::kFailed);
    EXPECT_EQ(View(trip).saga.status, SagaStatus::kFailed) << "its undo of the child failed for good";
    EXPECT_TRUE(undone_.empty()) << "return_car waits: it comes after the child in the reverse order";
    refuse_.clear();  // the partner is back
    ASSERT_TRUE(engine_->Retry(trip).ok());
    Settle();
    EXPECT_EQ(View(trip).saga.status, SagaStatus::kCompensated);
    EXPECT_EQ(ChildOf(trip).status, SagaStatus::kCompensated) << "the parent's retry retried the child";
    EXPECT_EQ(undone_, (std::vector<std::string>{"cancel_flight", "return_car"}));
}

TEST_F(ChildTest, TheChildsInputComesFromTheNamedFieldOrTheNodeFails) {
    const SagaId ok = Start("trip_input", {{"flight_request", {{"to", "LIS"}}}});
    EXPECT_EQ(View(ok).saga.status, SagaStatus::kCompleted);
    EXPECT_EQ(ChildOf(ok).input, json({{"to", "LIS"}}));
    const SagaId bad = Start("trip_input", {{"flight_request", "LIS"}});
    EXPECT_EQ(View(bad).saga.status, SagaStatus::kCompensated);
    EXPECT_TRUE(Has(View(bad).saga.failure_reason, "field 'flight_request' of the context or input holds no JSON object"));
}

TEST_F(ChildTest, ARestartWhileTheChildRunsFinishesBothOnce) {
    StartRequest req;
    req.workflow = "trip";
    const SagaId trip = engine_->Start(req)->saga_id;
    for (int i = 0; i < 3; ++i) {  // book_car, then the child's book_flight goes out
        (void)engine_->Tick();
        (void)worker_->Pump(*engine_);
    }
    EngineOptions o;
    o.seed = 6;
    engine_ = std::make_unique<Engine>(registry_, store_, *worker_, clock_, o);  // a restart, the same worker
    worker_->Attach(*engine_, registry_);
    engine_->Recover();
    for (int i = 0; i < 50 && View(trip).saga.status == SagaStatus::kRunning; ++i) {
        clock_.Advance(seconds(31));  // past any deadline of a command lost with the old engine
        Settle();
    }
    EXPECT_EQ(View(trip).saga.status, SagaStatus::kCompleted);
    const SagaRecord child = ChildOf(trip);
    EXPECT_EQ(child.status, SagaStatus::kCompleted);
    EXPECT_EQ(worker_->effects(child.id, 0, Phase::kForward), 1) << "book_flight ran once";
    EXPECT_EQ(worker_->effects(trip, 2, Phase::kForward), 1) << "book_hotel ran once";
}

}  // namespace
}  // namespace sagaflow::engine
