// The Plan, node kind by node kind and outcome by outcome.
#include "plan.hpp"
#include "plan_walk.hpp"

#include <gtest/gtest.h>

#include "sagaflow/core/error.hpp"

namespace sagaflow::engine {
namespace {

using nlohmann::json;
using Kind = PlanEvent::Kind;

using Saga = testing::PlanWalk;
using testing::Effects;
using V = std::vector<std::string>;

Workflow Linear() {
    return WorkflowBuilder("linear", 1)
        .Step("a", "q").CompensateWith("undo_a")
        .Step("b", "q")
        .Step("c", "q").CompensateWith("undo_c")
        .Build();
}

Workflow OrderV2() {
    return WorkflowBuilder("order", 2)
        .Guard("large", [](const json& in, const json&) { return in.value("amount", 0) > 100; })
        .Guard("vip", [](const json& in, const json&) { return in.value("vip", false); })
        .Step("reserve", "inventory").CompensateWith("release")
        .Choice("amount").When("vip", "charge").When("large", "fraud").Otherwise("charge")
        .Step("fraud", "risk")
        .Step("charge", "payment").CompensateWith("refund")
        .Parallel("ship_and_invoice")
            .Branch().Step("ship", "logistics").CompensateWith("cancel_ship")
            .Branch().Step("invoice", "billing").CompensateWith("void_invoice")
        .Join()
        .Build();
}

TEST(Plan, LinearAllOkSendsEachStepInTurnThenCompletes) {
    Saga s(Linear());
    EXPECT_EQ(Effects(s.Fire(Kind::kBegin)), V{"a"});
    EXPECT_EQ(Effects(s.Ok("a")), V{"b"});
    EXPECT_EQ(Effects(s.Ok("b")), V{"c"});
    const PlanResult r = s.Ok("c");
    EXPECT_TRUE(r.effects.empty());
    EXPECT_EQ(r.signal, FlowSignal::kCompleted);
    EXPECT_EQ(s.state.at("a").order, 1);
    EXPECT_EQ(s.state.at("c").order, 3);
    EXPECT_FALSE(s.Fire(Kind::kBegin).accepted) << "a second begin";
}

TEST(Plan, AFailedStepUndoesTheDoneOnesInReverseAndNotItself) {
    Saga s(Linear());
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("a");
    (void)s.Ok("b");
    const PlanResult failed = s.Fire(Kind::kFail, "c");
    EXPECT_EQ(failed.signal, FlowSignal::kFailed);
    EXPECT_TRUE(failed.effects.empty()) << "the lifecycle decides first";
    s.undoing = true;
    EXPECT_EQ(Effects(s.Fire(Kind::kResume)), V{"~a"}) << "b has no compensation; c failed with no effect";
    EXPECT_EQ(s.Of("c"), NodeState::kFailed);
    EXPECT_EQ(s.Undone("a").signal, FlowSignal::kUndone);
    EXPECT_EQ(s.Of("a"), NodeState::kCompensated);
    EXPECT_EQ(s.Of("b"), NodeState::kDone);
}

TEST(Plan, RetriesWithinThePolicyResendThenAnUnknownOutcomeIsUndoneToo) {
    RetryPolicy twice;
    twice.max_attempts = 2;
    Saga s(WorkflowBuilder("w", 1)
               .Step("a", "q").CompensateWith("undo_a")
               .Step("b", "q").CompensateWith("undo_b").Retry(twice)
               .Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("a");
    EXPECT_EQ(Effects(s.Fire(Kind::kRetry, "b", Phase::kForward, 1)), V{"+b"});
    const PlanResult spent = s.Fire(Kind::kRetry, "b", Phase::kForward, 2);
    EXPECT_EQ(spent.signal, FlowSignal::kFailed);
    EXPECT_TRUE(s.state.at("b").uncertain);
    s.undoing = true;
    EXPECT_EQ(Effects(s.Fire(Kind::kResume)), V{"~b"}) << "b may have run: it is undone first";
    EXPECT_EQ(Effects(s.Undone("b")), V{"~a"});
    EXPECT_EQ(s.Undone("a").signal, FlowSignal::kUndone);
}

TEST(Plan, ACompensationRetriesThenSticksAndAnOperatorRetryResumes) {
    RetryPolicy twice;
    twice.max_attempts = 2;
    Saga s(WorkflowBuilder("w", 1)
               .Step("a", "q").CompensateWith("undo_a").CompensationRetry(twice)
               .Step("b", "q")
               .Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("a");
    (void)s.Fire(Kind::kFail, "b");
    s.undoing = true;
    (void)s.Fire(Kind::kResume);
    EXPECT_EQ(Effects(s.Fire(Kind::kRetry, "a", Phase::kCompensate, 1)), V{"+~a"});
    EXPECT_EQ(s.Fire(Kind::kRetry, "a", Phase::kCompensate, 2).signal, FlowSignal::kStuck);
    EXPECT_TRUE(s.state.at("a").stuck);
    EXPECT_FALSE(s.Undone("a").accepted) << "a stuck compensation is not awaited";
    EXPECT_EQ(Effects(s.Fire(Kind::kRetryUndo)), V{"~a"});
    EXPECT_EQ(s.Undone("a").signal, FlowSignal::kUndone);
    EXPECT_FALSE(s.Fire(Kind::kRetryUndo).accepted) << "nothing stuck";
}

TEST(Plan, AFailedCompensationSticksAtOnce) {
    Saga s(Linear());
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("a");
    (void)s.Fire(Kind::kFail, "b");
    s.undoing = true;
    (void)s.Fire(Kind::kResume);
    EXPECT_EQ(s.Fire(Kind::kFail, "a", Phase::kCompensate).signal, FlowSignal::kStuck);
}

TEST(Plan, AChoiceTakesTheFirstGuardThatHoldsAndSkipsWhatItJumpsOver) {
    struct Case {
        json input;
        V path;  // the forward sends, in order
        NodeState fraud;
    };
    const Case cases[] = {
        {json{{"amount", 500}}, V{"reserve", "fraud", "charge", "ship", "invoice"}, NodeState::kDone},
        {json{{"amount", 500}, {"vip", true}}, V{"reserve", "charge", "ship", "invoice"}, NodeState::kSkipped},
        {json{{"amount", 5}}, V{"reserve", "charge", "ship", "invoice"}, NodeState::kSkipped},
    };
    for (const Case& c : cases) {
        Saga s(OrderV2(), c.input);
        V sent = Effects(s.Fire(Kind::kBegin));
        while (s.last.signal != FlowSignal::kCompleted) {
            ASSERT_FALSE(sent.empty()) << c.input;
            const std::string node = sent.front();
            sent.erase(sent.begin());
            const V more = Effects(s.Ok(node));
            sent.insert(sent.end(), more.begin(), more.end());
        }
        EXPECT_EQ(s.Of("amount"), NodeState::kDone) << c.input;
        EXPECT_EQ(s.Of("fraud"), c.fraud) << c.input;
        EXPECT_EQ(s.Of("ship_and_invoice"), NodeState::kDone);
        int forward_done = 0;
        for (const auto& id : c.path) forward_done += s.Of(id) == NodeState::kDone;
        EXPECT_EQ(forward_done, static_cast<int>(c.path.size())) << c.input;
    }
}

TEST(Plan, AGuardThatThrowsFailsTheChoice) {
    Saga s(WorkflowBuilder("w", 1)
               .Guard("picky", [](const json& in, const json&) { return in.at("missing").get<bool>(); })
               .Step("a", "q").CompensateWith("undo_a")
               .Choice("c").When("picky", "b").Otherwise("b")
               .Step("b", "q")
               .Build());
    (void)s.Fire(Kind::kBegin);
    const PlanResult r = s.Ok("a");
    EXPECT_EQ(r.signal, FlowSignal::kFailed);
    EXPECT_NE(r.reason.find("guard 'picky' threw"), std::string::npos) << r.reason;
    EXPECT_EQ(s.Of("c"), NodeState::kFailed);
    s.undoing = true;
    EXPECT_EQ(Effects(s.Fire(Kind::kResume)), V{"~a"});
}

TEST(Plan, AParallelGroupStartsEveryBranchAndJoinsWhenAllFinish) {
    Saga s(WorkflowBuilder("w", 1)
               .Parallel("p")
                   .Branch().Step("x1", "q").Step("x2", "q")
                   .Branch().Step("y", "q")
               .Join()
               .Step("z", "q")
               .Build());
    EXPECT_EQ(Effects(s.Fire(Kind::kBegin)), (V{"x1", "y"}));
    EXPECT_EQ(s.Of("p"), NodeState::kRunning);
    EXPECT_TRUE(s.Ok("y").effects.empty()) << "its branch is done; the other is not";
    EXPECT_EQ(Effects(s.Ok("x1")), V{"x2"});
    EXPECT_EQ(Effects(s.Ok("x2")), V{"z"}) << "joined";
    EXPECT_EQ(s.Of("p"), NodeState::kDone);
    EXPECT_EQ(s.Ok("z").signal, FlowSignal::kCompleted);
}

TEST(Plan, AFailureInAGroupAwaitsTheSiblingsInFlightThenUndoesEveryBranchConcurrently) {
    Saga s(WorkflowBuilder("w", 1)
               .Step("a", "q").CompensateWith("undo_a")
               .Parallel("p")
                   .Branch().Step("x1", "q").CompensateWith("undo_x1").Step("x2", "q").CompensateWith("undo_x2")
                   .Branch().Step("y1", "q").CompensateWith("undo_y1").Step("y2", "q").CompensateWith("undo_y2")
                   .Branch().Step("w1", "q").CompensateWith("undo_w1")
               .Join()
               .Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("a");
    (void)s.Ok("x1");  // x2 now in flight
    (void)s.Ok("y1");  // y2 now in flight
    EXPECT_EQ(s.Fire(Kind::kFail, "w1").signal, FlowSignal::kFailed);
    s.undoing = true;
    EXPECT_TRUE(s.Fire(Kind::kResume).effects.empty()) << "x2 and y2 are still out";
    EXPECT_TRUE(s.Ok("x2").effects.empty()) << "no new step starts, y2 is still out";
    EXPECT_EQ(s.Of("x2"), NodeState::kDone);
    // y2 answers: nothing is out; each branch's latest is undone, side by side.
    EXPECT_EQ(Effects(s.Ok("y2")), (V{"~x2", "~y2"}));
    EXPECT_EQ(s.Of("p"), NodeState::kFailed);
    EXPECT_EQ(Effects(s.Undone("y2")), V{"~y1"}) << "the y branch walks back on its own";
    EXPECT_EQ(Effects(s.Undone("y1")), V{}) << "a waits for the x branch";
    EXPECT_EQ(Effects(s.Undone("x2")), V{"~x1"});
    EXPECT_EQ(Effects(s.Undone("x1")), V{"~a"}) << "the group is undone before what came before it";
    EXPECT_EQ(s.Undone("a").signal, FlowSignal::kUndone);
    EXPECT_EQ(s.Of("w1"), NodeState::kFailed) << "a business failure: nothing to undo";
}

TEST(Plan, WhatCameAfterAGroupIsUndoneBeforeTheGroup) {
    Saga s(OrderV2(), json{{"amount", 5}});
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("reserve");
    (void)s.Ok("charge");
    (void)s.Ok("invoice");
    EXPECT_EQ(s.Fire(Kind::kFail, "ship").signal, FlowSignal::kFailed);
    s.undoing = true;
    EXPECT_EQ(Effects(s.Fire(Kind::kResume)), V{"~invoice"}) << "a failing shipment voids the invoice";
    EXPECT_EQ(Effects(s.Undone("invoice")), V{"~charge"});
    EXPECT_EQ(Effects(s.Undone("charge")), V{"~reserve"});
    EXPECT_EQ(s.Undone("reserve").signal, FlowSignal::kUndone);
}

TEST(Plan, NestedGroupsJoinInsideOut) {
    Saga s(WorkflowBuilder("w", 1)
               .Parallel("outer")
                   .Branch().Parallel("inner")
                       .Branch().Step("i1", "q").CompensateWith("u_i1")
                       .Branch().Step("i2", "q").CompensateWith("u_i2")
                   .Join().Step("after_inner", "q").CompensateWith("u_after")
                   .Branch().Step("o", "q").CompensateWith("u_o")
               .Join()
               .Step("last", "q")
               .Build());
    EXPECT_EQ(Effects(s.Fire(Kind::kBegin)), (V{"i1", "i2", "o"}));
    (void)s.Ok("i1");
    EXPECT_EQ(Effects(s.Ok("i2")), V{"after_inner"});
    (void)s.Ok("o");
    EXPECT_EQ(Effects(s.Ok("after_inner")), V{"last"});
    EXPECT_EQ(s.Fire(Kind::kFail, "last").signal, FlowSignal::kFailed);
    s.undoing = true;
    EXPECT_EQ(Effects(s.Fire(Kind::kResume)), (V{"~after_inner", "~o"}));
    EXPECT_EQ(Effects(s.Undone("after_inner")), (V{"~i1", "~i2"}));
    EXPECT_TRUE(s.plan.Concurrent(s.plan.workflow().find("i1"), s.plan.workflow().find("o")));
    EXPECT_FALSE(s.plan.Concurrent(s.plan.workflow().find("i1"), s.plan.workflow().find("after_inner")));
}

TEST(Plan, EndNodesCompleteABranchOrFailTheSaga) {
    Saga s(WorkflowBuilder("w", 1)
               .Guard("no", [](const json&, const json&) { return false; })
               .Guard("yes", [](const json&, const json&) { return true; })
               .Parallel("p")
                   .Branch().Choice("c1").When("no", "never").Otherwise("fine")
                       .Step("never", "q")
                       .Complete("fine")
                   .Branch().Step("x", "q").CompensateWith("undo_x")
               .Join()
               .Choice("c2").When("yes", "reject").Otherwise("y")
               .Step("y", "q")
               .Fail("reject", "rejected by policy")
               .Build());
    EXPECT_EQ(Effects(s.Fire(Kind::kBegin)), V{"x"});
    EXPECT_EQ(s.Of("never"), NodeState::kSkipped);
    EXPECT_EQ(s.Of("fine"), NodeState::kDone);
    const PlanResult r = s.Ok("x");
    EXPECT_EQ(r.signal, FlowSignal::kFailed);
    EXPECT_EQ(r.reason, "rejected by policy");
    EXPECT_EQ(s.Of("y"), NodeState::kSkipped);
    s.undoing = true;
    EXPECT_EQ(Effects(s.Fire(Kind::kResume)), V{"~x"});
}

TEST(Plan, ARepliesForANodeThatIsNotRunningAreRejectedAndChangeNothing) {
    Saga s(Linear());
    (void)s.Fire(Kind::kBegin);
    const FlowState before = s.state;
    EXPECT_FALSE(s.Ok("b").accepted) << "not reached";
    EXPECT_FALSE(s.Ok("nope").accepted) << "unknown node";
    EXPECT_FALSE(s.Undone("a").accepted) << "not compensating";
    EXPECT_EQ(s.state, before);
    (void)s.Ok("a");
    EXPECT_FALSE(s.Ok("a").accepted) << "a duplicate";
    EXPECT_FALSE(s.Fire(Kind::kResume).accepted) << "not undoing";
}

TEST(Plan, AManualCompensationWithdrawsWhatNeverLeftAndAwaitsWhatDid) {
    Saga s(WorkflowBuilder("w", 1)
               .Step("a", "q").CompensateWith("undo_a")
               .Parallel("p")
                   .Branch().Step("x", "q").CompensateWith("undo_x")
                   .Branch().Step("y", "q").CompensateWith("undo_y")
               .Join()
               .Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("a");
    s.undoing = true;
    PlanEvent e;
    e.kind = Kind::kCompensate;
    e.withdrawn = {"y"};
    EXPECT_EQ(Effects(s.Fire(e)), V{"-y"}) << "x may have run: awaited";
    EXPECT_EQ(s.Of("y"), NodeState::kSkipped);
    EXPECT_EQ(Effects(s.Ok("x")), V{"~x"});
    EXPECT_EQ(Effects(s.Undone("x")), V{"~a"});
    EXPECT_EQ(s.Undone("a").signal, FlowSignal::kUndone);

    Saga done(Linear());
    (void)done.Fire(Kind::kBegin);
    (void)done.Ok("a");
    (void)done.Ok("b");
    (void)done.Ok("c");
    done.undoing = true;
    EXPECT_EQ(Effects(done.Fire(Kind::kCompensate)), V{"~c"}) << "a completed saga undoes all";
    PlanEvent bad;
    bad.kind = Kind::kCompensate;
    bad.withdrawn = {"a"};
    EXPECT_FALSE(done.Fire(bad).accepted) << "only a running step can be withdrawn";
}

TEST(Plan, NoCompensationAtAllIsUndoneAtOnce) {
    Saga s(WorkflowBuilder("w", 1).Step("a", "q").Step("b", "q").Build());
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("a");
    (void)s.Fire(Kind::kFail, "b");
    s.undoing = true;
    EXPECT_EQ(s.Fire(Kind::kResume).signal, FlowSignal::kUndone);
}

TEST(Plan, NextJumpsAndSkips) {
    Saga s(WorkflowBuilder("w", 1)
               .Guard("no", [](const json&, const json&) { return false; })
               .Choice("start").When("no", "b").Otherwise("a")
               .Step("a", "q").Next("c")
               .Step("b", "q")
               .Step("c", "q")
               .Build());
    EXPECT_EQ(Effects(s.Fire(Kind::kBegin)), V{"a"});
    EXPECT_EQ(Effects(s.Ok("a")), V{"c"});
    EXPECT_EQ(s.Of("b"), NodeState::kSkipped);
}

TEST(Plan, NodeStatesRoundTripThroughJsonAndACorruptDocumentIsAnError) {
    Saga s(OrderV2(), json{{"amount", 500}});
    (void)s.Fire(Kind::kBegin);
    (void)s.Ok("reserve");
    (void)s.Fire(Kind::kRetry, "fraud", Phase::kForward, 9);
    const json j = s.state;
    EXPECT_EQ(j.at("nodes").at("fraud").at("s"), 4);
    EXPECT_EQ(j.at("nodes").at("fraud").at("u"), true);
    EXPECT_EQ(j.get<FlowState>(), s.state);
    try {
        (void)json{{"completions", 1}, {"nodes", {{"a", {{"s", 99}}}}}}.get<FlowState>();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInternal);
    }
    try {
        (void)json::array().get<FlowState>();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInternal);
    }
}

TEST(Plan, NodeStateCodesArePinned) {
    EXPECT_EQ(static_cast<int>(NodeState::kPending), 1);
    EXPECT_EQ(static_cast<int>(NodeState::kRunning), 2);
    EXPECT_EQ(static_cast<int>(NodeState::kDone), 3);
    EXPECT_EQ(static_cast<int>(NodeState::kFailed), 4);
    EXPECT_EQ(static_cast<int>(NodeState::kCompensating), 5);
    EXPECT_EQ(static_cast<int>(NodeState::kCompensated), 6);
    EXPECT_EQ(static_cast<int>(NodeState::kSkipped), 7);
    for (int c = 1; c <= 7; ++c) EXPECT_EQ(ParseNodeState(ToString(*NodeStateFromCode(c))), NodeStateFromCode(c));
}

TEST(Plan, GraphViewsFollowTheSameWalk) {
    const Plan plan(OrderV2());
    const Workflow& wf = plan.workflow();
    auto ids = [&](const std::vector<int>& ns) {
        V out;
        for (int n : ns) out.push_back(wf.node(n).id);
        return out;
    };
    EXPECT_EQ(ids(plan.UndoNext(wf.find("ship"))), V{"charge"});
    EXPECT_EQ(ids(plan.UndoNext(wf.find("charge"))), V{"reserve"}) << "through the choice and past fraud";
    EXPECT_EQ(ids(plan.UndoNext(wf.find("fraud"))), V{"reserve"});
    EXPECT_EQ(ids(plan.UndoNext(wf.find("reserve"))), V{});
    const auto exits = plan.Exits(wf.find("amount"));
    ASSERT_EQ(exits.size(), 3u);
    EXPECT_EQ(exits[1].label, "large");
    EXPECT_EQ(wf.node(exits[1].to).id, "fraud");
    const auto ship = plan.Exits(wf.find("ship"));
    ASSERT_EQ(ship.size(), 1u);
    EXPECT_TRUE(ship[0].join);
    EXPECT_EQ(plan.Exits(wf.find("ship_and_invoice"))[0].to, -1) << "the end of the workflow";
}

}  // namespace
}  // namespace sagaflow::engine
