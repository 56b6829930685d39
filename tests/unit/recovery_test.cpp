// Operator recovery in the workflow and the Plan: pivots and step kinds (validation), and
// every failure policy against every way a node fails (the walk).
#include <gtest/gtest.h>

#include "plan.hpp"
#include "plan_walk.hpp"
#include "unit_kit.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::engine {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;
using Kind = PlanEvent::Kind;

using testing::BuildError;

// ---- validation ------------------------------------------------------------------------

TEST(Pivot, ACompensableStepAfterAPivotIsRefusedNamingBoth) {
    const std::string msg = BuildError(WorkflowBuilder("w", 1)
                                           .Step("reserve", "q").CompensateWith("release")
                                           .Step("charge", "q").Pivot()
                                           .Step("ship", "q").CompensateWith("cancel_ship"));
    EXPECT_NE(msg.find("step 'ship' comes after pivot 'charge': it cannot have a compensation"), std::string::npos) << msg;
}

TEST(Pivot, EveryRuleOfPivotsAndKindsIsCheckedAtOnce) {
    const std::string msg = BuildError(
        WorkflowBuilder("w", 1)
            .Step("charge", "q").Pivot().CompensateWith("refund")
            .Step("again", "q").Pivot()
            .Step("compensating", "q").OnFailure(FailurePolicy::kCompensate)
            .Step("kept", "q").Retriable().CompensateWith("unkeep")
            .Step("undo_parks", "q").Retriable()
            .Parallel("both")
                .Branch().Step("inner", "q").Pivot()
                .Branch().Step("other", "q").Retriable()
            .Join()
            .Fail("give_up", "no"));
    for (const char* want : {"step 'charge': a pivot cannot be undone, so it has no compensation",
                             "step 'again' comes after pivot 'charge': a path has at most one pivot",
                             "step 'compensating' comes after pivot 'charge': its failure cannot compensate",
                             "step 'kept': a retriable step is never compensated",
                             "step 'inner': a pivot must be on the top level",
                             "fail 'give_up' comes after pivot 'charge': a fail node would compensate"}) {
        EXPECT_NE(msg.find(want), std::string::npos) << want << "\n" << msg;
    }
}

TEST(Pivot, ACompensationThatFailsCannotCompensateAndAParkingNodeHasNoDeadlineAroundIt) {
    const std::string msg = BuildError(WorkflowBuilder("w", 1)
                                           .Step("a", "q").CompensateWith("undo_a").CompensationOnFailure(FailurePolicy::kCompensate)
                                           .Parallel("both")
                                               .Branch().Step("b", "q").OnFailure(FailurePolicy::kPark)
                                               .Branch().Step("c", "q")
                                           .Join().Deadline(milliseconds(60'000)));
    EXPECT_NE(msg.find("step 'a': a compensation that fails cannot compensate"), std::string::npos) << msg;
    EXPECT_NE(msg.find("parallel 'both': it has a deadline, but step 'b' inside it may park"), std::string::npos) << msg;
}

TEST(Pivot, APathThatJumpsOverThePivotKeepsItsCompensations) {
    // A partner pays at the pivot and the order jumps to its own shipment; a card payment
    // is refundable and its shipment compensable.
    const Workflow wf = WorkflowBuilder("w", 1)
                            .Guard("partner", [](const json& in, const json&) { return in.value("partner", false); })
                            .Step("reserve", "q").CompensateWith("release")
                            .Choice("pay").When("partner", "charge_partner").Otherwise("charge_card")
                            .Step("charge_partner", "q").Pivot().Next("ship_partner")
                            .Step("charge_card", "q").CompensateWith("refund")
                            .Step("ship_card", "q").CompensateWith("cancel_card_shipment").Next("done")
                            .Step("ship_partner", "q").Retriable()
                            .Complete("done")
                            .Build();
    EXPECT_FALSE(wf.after_pivot(wf.find("charge_card")));
    EXPECT_FALSE(wf.after_pivot(wf.find("ship_card")));
    EXPECT_TRUE(wf.after_pivot(wf.find("ship_partner")));
    EXPECT_EQ(wf.failure_policy(wf.find("reserve")), FailurePolicy::kCompensate);
    EXPECT_EQ(wf.failure_policy(wf.find("ship_partner")), FailurePolicy::kRetryForward);
    EXPECT_EQ(wf.failure_policy(wf.find("charge_partner")), FailurePolicy::kCompensate);
}

TEST(RetryRound, TheSecondRoundFollowsTheFirstOnlyUnderRetryForward) {
    RetryPolicy first;
    first.max_attempts = 2;
    RetryPolicy second;
    second.max_attempts = 3;
    EXPECT_FALSE(RoundOf(first, FailurePolicy::kCompensate, second, 1).last);
    EXPECT_TRUE(RoundOf(first, FailurePolicy::kCompensate, second, 2).last);
    EXPECT_TRUE(RoundOf(first, FailurePolicy::kPark, second, 2).last);
    const RetryRound r = RoundOf(first, FailurePolicy::kRetryForward, second, 2);
    EXPECT_FALSE(r.last);
    EXPECT_EQ(r.policy, &second);
    EXPECT_EQ(r.attempt, 1);
    EXPECT_FALSE(RoundOf(first, FailurePolicy::kRetryForward, second, 4).last);
    EXPECT_TRUE(RoundOf(first, FailurePolicy::kRetryForward, second, 5).last);
}

// ---- the walk ----------------------------------------------------------------------------

using Saga = testing::PlanWalk;
// What goes to workers: "node" sent, "=node" sent under its last msg id, "+node" resent,
// "~node" a compensation.
std::vector<std::string> Effects(const PlanResult& r) { return testing::Effects(r, false); }
using V = std::vector<std::string>;

RetryPolicy Attempts(int n) {
    RetryPolicy p;
    p.max_attempts = n;
    return p;
}

// reserve (compensable) -> charge (pivot) -> ship (plain, parks by default past the pivot)
// -> notify (retriable: 2 attempts, then 3 more, then it parks).
Workflow Partner() {
    return WorkflowBuilder("partner", 1)
        .Step("reserve", "q").CompensateWith("release")
        .Step("charge", "q").Pivot()
        .Step("ship", "q").Retry(Attempts(2))
        .Step("notify", "q").Retriable().Retry(Attempts(2)).RetryForward(Attempts(3))
        .Build();
}

TEST(PlanPolicy, BeforeThePivotAFailureCompensatesAsAlways) {
    Saga s(Partner());
    (void)s.Fire(Kind::kBegin);
    (void)s.Fire(Kind::kOk, "reserve");
    EXPECT_EQ(s.Fire(Kind::kFail, "charge").signal, FlowSignal::kFailed);
    EXPECT_FALSE(s.plan.PassedPivot(s.state));
}

TEST(PlanPolicy, PastThePivotAStepWhoseAttemptsAreSpentParksAndNothingIsCompensated) {
    Saga s(Partner());
    (void)s.Fire(Kind::kBegin);
    (void)s.Fire(Kind::kOk, "reserve");
    (void)s.Fire(Kind::kOk, "charge");
    EXPECT_EQ(s.plan.PassedPivot(s.state), "charge");
    EXPECT_EQ(Effects(s.Fire(Kind::kRetry, "ship", Phase::kForward, 1)), V{"+ship"});
    const PlanResult r = s.Fire(Kind::kRetry, "ship", Phase::kForward, 2);
    EXPECT_EQ(r.signal, FlowSignal::kParked);
    EXPECT_TRUE(r.effects.empty());
    EXPECT_EQ(s.Of("ship"), NodeState::kParked);
    EXPECT_TRUE(s.state.at("ship").uncertain);
    EXPECT_EQ(s.Of("reserve"), NodeState::kDone);  // not compensated
    // Re-run: its last command may have committed, so it goes out under the same msg id.
    EXPECT_EQ(Effects(s.Fire(Kind::kRetryNode, "ship")), V{"=ship"});
    EXPECT_EQ(s.Of("ship"), NodeState::kRunning);
    EXPECT_EQ(Effects(s.Fire(Kind::kOk, "ship")), V{"notify"});
}

TEST(PlanPolicy, ParkOnAFailReplyReRunsUnderANewMsgId) {
    Saga s(WorkflowBuilder("w", 1).Step("a", "q").OnFailure(FailurePolicy::kPark).Step("b", "q").Build());
    (void)s.Fire(Kind::kBegin);
    EXPECT_EQ(s.Fire(Kind::kFail, "a").signal, FlowSignal::kParked);
    EXPECT_FALSE(s.state.at("a").uncertain);  // a `fail` reply had no effect; its inbox row says fail
    EXPECT_EQ(Effects(s.Fire(Kind::kRetryNode, "a")), V{"a"});
}

TEST(PlanPolicy, RetryForwardRunsASecondRoundThenParks) {
    Saga s(Partner());
    (void)s.Fire(Kind::kBegin);
    for (const char* n : {"reserve", "charge", "ship"}) (void)s.Fire(Kind::kOk, n);
    for (int attempt = 1; attempt <= 4; ++attempt) {
        EXPECT_EQ(Effects(s.Fire(Kind::kRetry, "notify", Phase::kForward, attempt)), V{"+notify"}) << attempt;
    }
    EXPECT_EQ(s.Fire(Kind::kRetry, "notify", Phase::kForward, 5).signal, FlowSignal::kParked);
}

TEST(PlanPolicy, RetryForwardParksAtOnceOnAFailReply) {
    Saga s(Partner());
    (void)s.Fire(Kind::kBegin);
    for (const char* n : {"reserve", "charge", "ship"}) (void)s.Fire(Kind::kOk, n);
    EXPECT_EQ(s.Fire(Kind::kFail, "notify").signal, FlowSignal::kParked);
}

TEST(PlanPolicy, CompensateIsTheDefaultAndHaltsTheWalk) {
    Saga s(WorkflowBuilder("w", 1).Step("a", "q").CompensateWith("undo_a").Step("b", "q").Retry(Attempts(1)).Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Fire(Kind::kOk, "a");
    EXPECT_EQ(s.Fire(Kind::kRetry, "b").signal, FlowSignal::kFailed);
}

TEST(PlanPolicy, ABranchParksButTheSagaParksOnlyOnceNothingElseRuns) {
    Saga s(WorkflowBuilder("w", 1)
               .Parallel("both")
                   .Branch().Step("a", "q").OnFailure(FailurePolicy::kPark)
                   .Branch().Step("b", "q").CompensateWith("undo_b")
               .Join()
               .Step("c", "q")
               .Build());
    (void)s.Fire(Kind::kBegin);
    EXPECT_EQ(s.Fire(Kind::kFail, "a").signal, FlowSignal::kNone);  // b still runs
    EXPECT_EQ(s.Fire(Kind::kOk, "b").signal, FlowSignal::kParked);
    EXPECT_EQ(s.last.reason, "parked at node 'a'");
    // Skipping the parked node joins the group and goes on.
    EXPECT_EQ(Effects(s.Fire(Kind::kSkipNode, "a")), V{"c"});
    EXPECT_EQ(s.Of("both"), NodeState::kDone);
    EXPECT_EQ(s.Fire(Kind::kOk, "c").signal, FlowSignal::kCompleted);
}

TEST(PlanPolicy, SkipTakesAParkedNodeOrARunningStepOnly) {
    Saga s(WorkflowBuilder("w", 1).Step("a", "q").CompensateWith("undo_a").Step("b", "q").Build());
    (void)s.Fire(Kind::kBegin);
    EXPECT_FALSE(s.Fire(Kind::kSkipNode, "b").accepted);  // not reached
    EXPECT_FALSE(s.Fire(Kind::kSkipNode, "nope").accepted);
    EXPECT_EQ(Effects(s.Fire(Kind::kSkipNode, "a")), V{"b"});  // running: done as if it succeeded
    EXPECT_EQ(s.state.at("a").order, 1);                       // and undone like one if it comes to that
    EXPECT_FALSE(s.Fire(Kind::kSkipNode, "a").accepted);       // done already
    s.undoing = true;
    EXPECT_FALSE(s.Fire(Kind::kSkipNode, "b").accepted);
}

TEST(PlanPolicy, RetryNodeNeedsAParkedNode) {
    Saga s(Partner());
    (void)s.Fire(Kind::kBegin);
    EXPECT_FALSE(s.Fire(Kind::kRetryNode).accepted);
    EXPECT_FALSE(s.Fire(Kind::kRetryNode, "reserve").accepted);
}

TEST(PlanPolicy, AParkedSagaCompensatedBeforeItsPivotUndoesTheParkedStepToo) {
    Saga s(WorkflowBuilder("w", 1)
               .Step("a", "q").CompensateWith("undo_a")
               .Step("b", "q").CompensateWith("undo_b").Retry(Attempts(1)).OnFailure(FailurePolicy::kPark)
               .Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Fire(Kind::kOk, "a");
    EXPECT_EQ(s.Fire(Kind::kRetry, "b").signal, FlowSignal::kParked);
    s.undoing = true;  // the operator compensates
    EXPECT_EQ(Effects(s.Fire(Kind::kCompensate)), V{"~b"});  // its outcome is unknown: undone first
    EXPECT_EQ(Effects(s.Fire(Kind::kOk, "b", Phase::kCompensate)), V{"~a"});
    EXPECT_EQ(s.Fire(Kind::kOk, "a", Phase::kCompensate).signal, FlowSignal::kUndone);
}

TEST(PlanPolicy, AWaitPastThePivotParksWhenItsDeadlinePasses) {
    Saga s(WorkflowBuilder("w", 1)
               .Step("charge", "q").Pivot()
               .AwaitSignal("delivered").Deadline(milliseconds(1000))
               .Step("close", "q").Retriable()
               .Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Fire(Kind::kOk, "charge");
    EXPECT_EQ(s.Fire(Kind::kExpired, "delivered").signal, FlowSignal::kParked);
    EXPECT_EQ(s.Of("delivered"), NodeState::kParked);
    // Skipped by the operator ("it was delivered"), the flow goes on.
    EXPECT_EQ(Effects(s.Fire(Kind::kSkipNode, "delivered")), V{"close"});
}

TEST(PlanPolicy, AStuckCompensationWithRetryForwardRunsASecondRound) {
    RetryPolicy second = Attempts(2);
    Saga s(WorkflowBuilder("w", 1)
               .Step("a", "q").CompensateWith("undo_a").CompensationRetry(Attempts(1)).CompensationRetryForward(second)
               .Step("b", "q")
               .Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Fire(Kind::kOk, "a");
    (void)s.Fire(Kind::kFail, "b");
    s.undoing = true;
    EXPECT_EQ(Effects(s.Fire(Kind::kResume)), V{"~a"});
    EXPECT_EQ(Effects(s.Fire(Kind::kRetry, "a", Phase::kCompensate, 1)), V{"+~a"});
    EXPECT_EQ(Effects(s.Fire(Kind::kRetry, "a", Phase::kCompensate, 2)), V{"+~a"});
    EXPECT_EQ(s.Fire(Kind::kRetry, "a", Phase::kCompensate, 3).signal, FlowSignal::kStuck);
}

}  // namespace
}  // namespace sagaflow::engine
