// A manual compensation's preview (`--plan`) and its `--from-node` form: the Plan's walk on
// a copy says which compensations run, in which waves, and the engine then runs exactly
// those, in that order; from a node, what completed after it is left as it is. Also the
// operator's resume, and a skip that must give the output a later node reads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "plan_walk.hpp"
#include "unit_kit.hpp"

namespace sagaflow::engine {
namespace {

using nlohmann::json;
using V = std::vector<std::string>;
using Waves = std::vector<V>;

// a -> {b | c} -> d -> e (no compensation) -> f; every other step undoable.
Workflow Shop() {
    return WorkflowBuilder("shop", 1)
        .Step("a", "q").CompensateWith("undo_a")
        .Parallel("p")
            .Branch().Step("b", "q").CompensateWith("undo_b")
            .Branch().Step("c", "q").CompensateWith("undo_c")
        .Join()
        .Step("d", "q").CompensateWith("undo_d")
        .Step("e", "q")
        .Step("f", "q").CompensateWith("undo_f")
        .Build();
}

Waves WavesOf(const Plan::Preview& p) { return p.waves; }

TEST(CompensationPreview, UndoesInReverseOrderWithTheBranchesOfAGroupInOneWave) {
    testing::PlanWalk s(Shop());
    s.Fire(PlanEvent::Kind::kBegin);
    for (const char* n : {"a", "c", "b", "d", "e", "f"}) s.Ok(n);
    ASSERT_EQ(s.last.signal, FlowSignal::kCompleted);
    const auto p = s.plan.PreviewCompensation(s.state, {}, "", FlowFacts{s.input, s.context, false});
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(WavesOf(*p), (Waves{{"f"}, {"d"}, {"b", "c"}, {"a"}}));
    EXPECT_TRUE(p->kept.empty());
    EXPECT_EQ(s.Of("f"), NodeState::kDone) << "the preview walks a copy";
}

TEST(CompensationPreview, FromANodeUndoesItAndWhatCameBeforeAndKeepsWhatCameAfter) {
    testing::PlanWalk s(Shop());
    s.Fire(PlanEvent::Kind::kBegin);
    for (const char* n : {"a", "b", "c", "d", "e", "f"}) s.Ok(n);
    const auto p = s.plan.PreviewCompensation(s.state, {}, "c", FlowFacts{s.input, s.context, false});
    ASSERT_TRUE(p.has_value());
    // b completed before c (in the other branch: undone with it); then a. d and f, done
    // after c, stay done (e has nothing to undo).
    EXPECT_EQ(WavesOf(*p), (Waves{{"b", "c"}, {"a"}}));
    EXPECT_EQ(p->kept, (V{"d", "f"}));
    const auto from_b = s.plan.PreviewCompensation(s.state, {}, "b", FlowFacts{s.input, s.context, false});
    ASSERT_TRUE(from_b.has_value());
    EXPECT_EQ(WavesOf(*from_b), (Waves{{"b"}, {"a"}}));
    EXPECT_EQ(from_b->kept, (V{"c", "d", "f"}));
    // A node with nothing to undo, or none done, is no place to start.
    EXPECT_FALSE(s.plan.PreviewCompensation(s.state, {}, "e", FlowFacts{s.input, s.context, false}));
    EXPECT_FALSE(s.plan.PreviewCompensation(s.state, {}, "nope", FlowFacts{s.input, s.context, false}));

    // The walk itself: kept nodes are never undone, and the saga ends undone.
    s.undoing = true;
    PlanEvent from{PlanEvent::Kind::kCompensate, "c", Phase::kForward, 1, {}};
    EXPECT_EQ(testing::Effects(s.Fire(from)), (V{"~b", "~c"}));
    EXPECT_TRUE(testing::Effects(s.Undone("c")).empty());
    EXPECT_EQ(testing::Effects(s.Undone("b")), V{"~a"});
    s.Undone("a");
    EXPECT_EQ(s.last.signal, FlowSignal::kUndone);
    EXPECT_EQ(s.Of("d"), NodeState::kDone);
    EXPECT_EQ(s.Of("f"), NodeState::kDone);
    EXPECT_TRUE(s.state.at("f").kept);
    // The mark survives the row's codec.
    const FlowState back = json(s.state).get<FlowState>();
    EXPECT_EQ(back, s.state);
}

TEST(CompensationPreview, FromANodeIsRefusedWhileAStepIsInFlight) {
    testing::PlanWalk s(Shop());
    s.Fire(PlanEvent::Kind::kBegin);
    s.Ok("a");  // b and c are out
    EXPECT_FALSE(s.plan.PreviewCompensation(s.state, {}, "a", FlowFacts{s.input, s.context, false}));
    // Without a node, what is in flight is awaited and then undone with the rest.
    const auto p = s.plan.PreviewCompensation(s.state, {}, "", FlowFacts{s.input, s.context, false});
    ASSERT_TRUE(p.has_value());
    EXPECT_EQ(WavesOf(*p), (Waves{{"b", "c"}, {"a"}}));
    EXPECT_EQ(p->in_flight.size(), 2u);
    // One never sent is withdrawn instead, so it is not undone.
    const auto w = s.plan.PreviewCompensation(s.state, {"c"}, "", FlowFacts{s.input, s.context, false});
    ASSERT_TRUE(w.has_value());
    EXPECT_EQ(WavesOf(*w), (Waves{{"b"}, {"a"}}));
}

TEST(Workflow, ReadersOfANodeAreTheNodesThatNameItsOutputAsTheirField) {
    WorkflowRegistry registry;
    registry.Add(WorkflowBuilder("kid", 1).Step("k", "q").Build());
    const Workflow wf = WorkflowBuilder("parent", 1)
                            .Step("prepare", "q")
                            .Child("run_kid", "kid", "prepare")
                            .Step("other", "q")
                            .Build();
    EXPECT_EQ(wf.readers_of(wf.find("prepare")), V{"run_kid"});
    EXPECT_TRUE(wf.readers_of(wf.find("other")).empty());
}

class OperatorPlanTest : public testing::EngineFixture {
protected:
    OperatorPlanTest() {
        registry_.Add(WorkflowBuilder("kid", 1).Step("k", "q").Build());
        registry_.Add(Shop());
        registry_.Add(WorkflowBuilder("parent", 1).Step("prepare", "q").Child("run_kid", "kid", "prepare").Build());
        Boot(9);
    }

    SagaId Start(const std::string& workflow) {
        StartRequest req;
        req.workflow = workflow;
        req.input = {{"k", 1}};
        auto r = engine_->Start(req);
        EXPECT_TRUE(r.ok()) << r.status().message;
        return r->saga_id;
    }

    OperatorAction Action(OperatorAction::Kind kind, const SagaId& id) {
        OperatorAction a;
        a.kind = kind;
        a.saga_id = id;
        a.reason = "ticket 7";
        a.by = Actor{"bob", {}};
        return a;
    }

    // The compensations the worker ran for `id`, in order.
    V Undone(const SagaId& id) {
        V out;
        for (const std::string& a : worker_.RunOrder(id)) {
            if (a.rfind("undo_", 0) == 0) out.push_back(a.substr(5));
        }
        return out;
    }

};

TEST_F(OperatorPlanTest, ThePreviewWritesNothingAndAgreesWithWhatThenRuns) {
    for (const std::string from : {"", "c", "d"}) {
        const SagaId id = Start("shop");
        Settle();
        ASSERT_EQ(View(id).saga.status, SagaStatus::kCompleted);
        const auto history = View(id).history.size();
        OperatorAction a = Action(OperatorAction::Kind::kCompensate, id);
        a.from_node = from;
        const auto preview = engine_->PreviewCompensation(a);
        ASSERT_TRUE(preview.ok()) << preview.status().message;
        ASSERT_TRUE(preview->plan.has_value()) << (preview->refused ? preview->refused->message : "");
        EXPECT_EQ(View(id).history.size(), history) << "a preview writes nothing";

        ASSERT_TRUE(engine_->Operate(a).ok());
        Settle();
        const SagaView v = View(id);
        EXPECT_EQ(v.saga.status, SagaStatus::kCompensated);
        // The run matches the preview wave by wave (within a wave, in any order).
        V ran = Undone(id);
        std::size_t at = 0;
        for (const V& wave : preview->plan->waves) {
            ASSERT_LE(at + wave.size(), ran.size()) << "from '" << from << "'";
            V got(ran.begin() + static_cast<long>(at), ran.begin() + static_cast<long>(at + wave.size()));
            std::sort(got.begin(), got.end());
            V want = wave;
            std::sort(want.begin(), want.end());
            EXPECT_EQ(got, want) << "from '" << from << "'";
            at += wave.size();
        }
        EXPECT_EQ(at, ran.size()) << "from '" << from << "'";
        for (const std::string& kept : preview->plan->kept) {
            EXPECT_EQ(v.saga.nodes.at(kept).state, NodeState::kDone) << kept;
        }
        bool recorded = false;
        for (const auto& e : v.history) {
            recorded |= e.kind == "compensation_requested" && e.detail.contains("from_node") && e.detail["from_node"] == from;
        }
        EXPECT_EQ(recorded, !from.empty());
    }
}

TEST_F(OperatorPlanTest, APreviewSaysWhyACompensationWouldBeRefused) {
    const SagaId id = Start("shop");
    Settle();
    ASSERT_TRUE(engine_->Compensate(id, "once").ok());
    Settle();
    auto p = engine_->PreviewCompensation(Action(OperatorAction::Kind::kCompensate, id));
    ASSERT_TRUE(p.ok());
    EXPECT_FALSE(p->plan.has_value());
    ASSERT_TRUE(p->refused.has_value());
    EXPECT_EQ(p->refused->code, ErrorCode::kFailedPrecondition);
    OperatorAction bad = Action(OperatorAction::Kind::kCompensate, id);
    bad.from_node = "nope";
    EXPECT_EQ(engine_->PreviewCompensation(bad).status().code, ErrorCode::kInvalidArgument);
    OperatorAction missing = Action(OperatorAction::Kind::kCompensate, SagaId(NewUuid()));
    EXPECT_EQ(engine_->PreviewCompensation(missing).status().code, ErrorCode::kNotFound);
}

TEST_F(OperatorPlanTest, CompensatingFromANodeThatRanNothingOrWhileAStepIsOutIsRefused) {
    const SagaId id = Start("shop");
    (void)engine_->Tick();
    ASSERT_EQ(worker_.Pump(*engine_), 1);  // a is done; b and c are out
    const auto before = View(id).history.size();
    OperatorAction a = Action(OperatorAction::Kind::kCompensate, id);
    a.from_node = "d";  // pending
    EXPECT_EQ(engine_->Operate(a).code, ErrorCode::kFailedPrecondition);
    a.from_node = "e";  // nothing to undo
    EXPECT_EQ(engine_->Operate(a).code, ErrorCode::kInvalidArgument);
    a.from_node = "a";  // done, but b and c are in flight
    const Status st = engine_->Operate(a);
    EXPECT_EQ(st.code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(st.message.find("in flight"), std::string::npos) << st.message;
    EXPECT_EQ(View(id).history.size(), before) << "nothing written";
    Settle();
    EXPECT_EQ(View(id).saga.status, SagaStatus::kCompleted);
}

TEST_F(OperatorPlanTest, ResumeIsOnlyForAParkedSaga) {
    const SagaId id = Start("shop");
    Settle();
    const Status st = engine_->Operate(Action(OperatorAction::Kind::kResume, id));
    EXPECT_EQ(st.code, ErrorCode::kFailedPrecondition);
    EXPECT_NE(st.message.find("only a parked saga can be resumed"), std::string::npos) << st.message;
}

TEST_F(OperatorPlanTest, ASkipMustGiveTheOutputALaterNodeReadsAndAReason) {
    worker_.SetRefusing(true);  // prepare's command waits
    const SagaId id = Start("parent");
    (void)engine_->Tick();
    const auto before = View(id).history.size();
    OperatorAction skip = Action(OperatorAction::Kind::kSkip, id);
    skip.node = "prepare";
    const Status st = engine_->Operate(skip);
    EXPECT_EQ(st.code, ErrorCode::kInvalidArgument);
    EXPECT_NE(st.message.find("read by 'run_kid'"), std::string::npos) << st.message;
    skip.output = json{{"k", 2}};
    skip.reason.clear();
    EXPECT_EQ(engine_->Operate(skip).code, ErrorCode::kInvalidArgument) << "a skip needs a reason";
    EXPECT_EQ(View(id).history.size(), before) << "nothing written";
    skip.reason = "made by hand";
    ASSERT_TRUE(engine_->Operate(skip).ok());
    worker_.SetRefusing(false);
    Settle();
    const SagaView v = View(id);
    EXPECT_EQ(v.saga.status, SagaStatus::kCompleted);
    EXPECT_EQ(v.saga.context["prepare"], (json{{"k", 2}}));
    EXPECT_EQ(worker_.effects(id, 0, Phase::kForward), 0) << "the skipped step never ran";
}

}  // namespace
}  // namespace sagaflow::engine
