// Parked sagas and the operator's actions on them, through the engine on the memory store
// under the manual clock: a pivot, a step that parks, retry (under the same msg id when
// its last command may have run), skip with an output, and compensation past a pivot.
#include <gtest/gtest.h>

#include <vector>

#include "engine_fixture.hpp"
#include "unit_kit.hpp"

namespace sagaflow::engine {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeWorker;

class OperatorTest : public testing::EngineFixture {
protected:
    OperatorTest() {
        // reserve (undoable) -> charge (the pivot: a partner took the money) -> ship, which
        // parks past the pivot when its two attempts are spent -> close.
        registry_.Add(WorkflowBuilder("partner", 1)
                          .Step("reserve", "q").CompensateWith("release")
                          .Step("charge", "q").Pivot()
                          .Step("ship", "q").Timeout(seconds(1)).Retry(RetryPolicy{2, milliseconds(100), 1.0, milliseconds(100), 0.0})
                          .Step("close", "q").Retriable()
                          .Build());
        Boot(5);
    }

    SagaId Start() {
        StartRequest req;
        req.workflow = "partner";
        auto r = engine_->Start(req);
        EXPECT_TRUE(r.ok()) << r.status().message;
        Settle();
        return r->saga_id;
    }

    // Runs what is queued and applies the replies, losing ship's (its effect commits, its
    // reply never arrives), until nothing more happens now.
    void SettleLosingShipReplies() {
        for (int i = 0; i < 100; ++i) {
            const int moved = engine_->Tick();
            std::vector<Reply> kept;
            const std::vector<Reply> replies = worker_.RunQueued();
            for (const Reply& r : replies) {
                if (!r.output.contains("tracking")) kept.push_back(r);
            }
            if (!kept.empty()) (void)engine_->ApplyReplies(kept);
            if (moved == 0 && replies.empty()) return;
        }
        FAIL() << "did not settle";
    }

    // Ship's two attempts time out, their replies lost.
    void LoseShipReplies(const SagaId& id) {
        SettleLosingShipReplies();
        for (int attempt = 0; attempt < 2; ++attempt) {
            clock_.Advance(milliseconds(1100));  // its timeout, then its backoff
            SettleLosingShipReplies();
            clock_.Advance(milliseconds(100));
            SettleLosingShipReplies();
        }
        ASSERT_EQ(View(id).saga.status, SagaStatus::kParked);
    }

    OperatorAction Action(OperatorAction::Kind kind, const SagaId& id, std::string node = {}) {
        OperatorAction a;
        a.kind = kind;
        a.saga_id = id;
        a.node = std::move(node);
        a.reason = "ticket 42";
        a.by = Actor{"alice", {}};
        return a;
    }

    int Count(const SagaId& id, const std::string& kind) { return testing::CountEvents(View(id).history, kind); }
};

TEST_F(OperatorTest, AStepPastThePivotParksAndItsRetryRunsUnderTheSameMsgIdSoItsEffectStaysOnce) {
    worker_.On("ship", [](const Command& c) { return Reply{c.msg_id, ReplyOutcome::kOk, {{"tracking", "T1"}}, "", c.saga_id, false, {}, {}}; });
    StartRequest req;
    req.workflow = "partner";
    const SagaId id = engine_->Start(req).value().saga_id;
    LoseShipReplies(id);
    const SagaView parked = View(id);
    EXPECT_EQ(parked.saga.nodes.at("ship").state, NodeState::kParked);
    EXPECT_EQ(parked.saga.nodes.at("reserve").state, NodeState::kDone) << "past the pivot nothing is compensated";
    EXPECT_TRUE(parked.pending.empty()) << "a parked saga waits for nothing: nothing times it out";
    EXPECT_NE(parked.saga.failure_reason.find("got no reply after 2 attempts"), std::string::npos) << parked.saga.failure_reason;
    EXPECT_EQ(worker_.effects(id, 2, Phase::kForward), 1);

    // Nothing moves it by itself.
    clock_.Advance(std::chrono::hours(24));
    Settle();
    EXPECT_EQ(View(id).saga.status, SagaStatus::kParked);

    ASSERT_TRUE(engine_->Operate(Action(OperatorAction::Kind::kRetry, id, "ship")).ok());
    Settle();
    EXPECT_EQ(View(id).saga.status, SagaStatus::kCompleted);
    EXPECT_EQ(worker_.effects(id, 2, Phase::kForward), 1) << "the inbox answered for the command that had run";
    std::set<std::string> ids;
    for (const Command& c : worker_.received()) {
        if (c.saga_id == id && c.action == "ship") ids.insert(c.msg_id.str());
    }
    EXPECT_EQ(ids.size(), 1u);
    EXPECT_EQ(Count(id, "retry_requested"), 1);
    EXPECT_EQ(Count(id, "parked"), 1);
}

TEST_F(OperatorTest, SkipMarksAParkedStepDoneWithTheOperatorsOutputAndGoesOn) {
    worker_.RetryTimes("ship", -1);
    const SagaId id = Start();
    clock_.Advance(milliseconds(200));
    Settle();
    ASSERT_EQ(View(id).saga.status, SagaStatus::kParked);
    OperatorAction skip = Action(OperatorAction::Kind::kSkip, id, "ship");
    skip.output = {{"tracking", "by hand"}};
    ASSERT_TRUE(engine_->Operate(skip).ok());
    Settle();
    const SagaView done = View(id);
    EXPECT_EQ(done.saga.status, SagaStatus::kCompleted);
    EXPECT_EQ(done.saga.context["ship"], (json{{"tracking", "by hand"}}));
    EXPECT_EQ(worker_.effects(id, 2, Phase::kForward), 0);
    // Recorded with who and why.
    bool found = false;
    for (const auto& e : done.history) {
        if (e.kind != "skip_requested") continue;
        found = true;
        EXPECT_EQ(e.node, "ship");
        EXPECT_EQ(e.detail.value("reason", ""), "ticket 42");
        EXPECT_EQ(e.detail.value("by", ""), "alice");
    }
    EXPECT_TRUE(found);
}

TEST_F(OperatorTest, BadOperatorActionsAreRefusedAndWriteNothing) {
    worker_.RetryTimes("ship", -1);
    const SagaId id = Start();
    clock_.Advance(milliseconds(200));
    Settle();
    ASSERT_EQ(View(id).saga.status, SagaStatus::kParked);
    const auto before = View(id).history.size();
    OperatorAction bad = Action(OperatorAction::Kind::kSkip, id, "nope");
    EXPECT_EQ(engine_->Operate(bad).code, ErrorCode::kInvalidArgument);
    bad = Action(OperatorAction::Kind::kSkip, id, "close");  // not reached
    EXPECT_EQ(engine_->Operate(bad).code, ErrorCode::kFailedPrecondition);
    bad = Action(OperatorAction::Kind::kSkip, id, "ship");
    bad.output = json::array();
    EXPECT_EQ(engine_->Operate(bad).code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(engine_->Operate(Action(OperatorAction::Kind::kRetry, id, "reserve")).code, ErrorCode::kFailedPrecondition);
    // Past the pivot: compensation is refused, naming it, unless forced with a reason.
    const Status refused = engine_->Operate(Action(OperatorAction::Kind::kCompensate, id));
    EXPECT_EQ(refused.code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(refused.message.find("pivot 'charge'"), std::string::npos) << refused.message;
    OperatorAction forced = Action(OperatorAction::Kind::kCompensate, id);
    forced.force = true;
    forced.reason.clear();
    EXPECT_EQ(engine_->Operate(forced).code, ErrorCode::kInvalidArgument);
    EXPECT_EQ(View(id).history.size(), before);
    EXPECT_EQ(View(id).saga.status, SagaStatus::kParked);
}

TEST_F(OperatorTest, CompensationWhileThePivotIsInFlightIsRefusedUnlessForced) {
    StartRequest req;
    req.workflow = "partner";
    const SagaId id = engine_->Start(req).value().saga_id;
    (void)engine_->Tick();
    ASSERT_EQ(worker_.Pump(*engine_), 1);  // reserve is done
    worker_.DropNext(1);
    (void)engine_->Tick();  // charge is handed over, and lost: its outcome is not known yet
    ASSERT_EQ(View(id).saga.nodes.at("charge").state, NodeState::kRunning);
    const auto before = View(id).history.size();
    const Status refused = engine_->Operate(Action(OperatorAction::Kind::kCompensate, id));
    EXPECT_EQ(refused.code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(refused.message.find("pivot 'charge' in flight"), std::string::npos) << refused.message;
    EXPECT_EQ(View(id).history.size(), before);
    OperatorAction forced = Action(OperatorAction::Kind::kCompensate, id);
    forced.force = true;
    EXPECT_TRUE(engine_->Operate(forced).ok());
}

TEST_F(OperatorTest, AForcedCompensationPastThePivotUndoesWhatCanBeUndone) {
    worker_.RetryTimes("ship", -1);
    const SagaId id = Start();
    clock_.Advance(milliseconds(200));
    Settle();
    OperatorAction forced = Action(OperatorAction::Kind::kCompensate, id);
    forced.force = true;
    ASSERT_TRUE(engine_->Operate(forced).ok());
    Settle();
    EXPECT_EQ(View(id).saga.status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.effects(id, 0, Phase::kCompensate), 1);  // reserve released
}

TEST_F(OperatorTest, CancelStopsARunningSagaWithoutCompensatingAndDropsWhatItAwaited) {
    worker_.SetRefusing(true);  // reserve's command waits in the ledger
    StartRequest req;
    req.workflow = "partner";
    const SagaId id = engine_->Start(req).value().saga_id;
    (void)engine_->Tick();
    ASSERT_EQ(View(id).pending.size(), 1u);
    OperatorAction cancel = Action(OperatorAction::Kind::kCancel, id);
    cancel.reason.clear();
    EXPECT_EQ(engine_->Operate(cancel).code, ErrorCode::kInvalidArgument) << "a reason is required";
    ASSERT_TRUE(engine_->Operate(Action(OperatorAction::Kind::kCancel, id)).ok());
    worker_.SetRefusing(false);
    Settle();
    const SagaView v = View(id);
    EXPECT_EQ(v.saga.status, SagaStatus::kCancelled);
    EXPECT_TRUE(v.pending.empty());
    EXPECT_EQ(v.saga.nodes.at("reserve").state, NodeState::kSkipped);
    EXPECT_EQ(v.saga.failure_reason, "cancelled by an operator: ticket 42");
    EXPECT_EQ(worker_.effects(id, 0, Phase::kForward), 0) << "its command was dropped before any worker got it";
    EXPECT_EQ(worker_.effects(id, 0, Phase::kCompensate), 0);
    EXPECT_EQ(engine_->Operate(Action(OperatorAction::Kind::kCancel, id)).code, ErrorCode::kFailedPrecondition)
        << "once is enough";
}

TEST_F(OperatorTest, ResolveClosesAParkedCaseAndARunningOneOnlyWhenForced) {
    worker_.RetryTimes("ship", -1);
    const SagaId parked = Start();
    clock_.Advance(milliseconds(200));
    Settle();
    ASSERT_EQ(View(parked).saga.status, SagaStatus::kParked);
    OperatorAction resolve = Action(OperatorAction::Kind::kResolve, parked);
    resolve.resolve_to = SagaStatus::kFailed;
    EXPECT_EQ(engine_->Operate(resolve).code, ErrorCode::kInvalidArgument);
    resolve.resolve_to = SagaStatus::kCompleted;
    ASSERT_TRUE(engine_->Operate(resolve).ok());
    EXPECT_EQ(View(parked).saga.status, SagaStatus::kCompleted);
    EXPECT_EQ(View(parked).saga.nodes.at("ship").state, NodeState::kSkipped);

    worker_.SetRefusing(true);
    StartRequest req;
    req.workflow = "partner";
    const SagaId running = engine_->Start(req).value().saga_id;
    resolve.saga_id = running;
    resolve.resolve_to = SagaStatus::kCompensated;
    const Status refused = engine_->Operate(resolve);
    EXPECT_EQ(refused.code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(refused.message.find("needs force"), std::string::npos) << refused.message;
    resolve.force = true;
    ASSERT_TRUE(engine_->Operate(resolve).ok());
    EXPECT_EQ(View(running).saga.status, SagaStatus::kCompensated);
    EXPECT_TRUE(View(running).pending.empty());
    EXPECT_EQ(Count(running, "resolve_requested"), 1);
}

}  // namespace
}  // namespace sagaflow::engine
