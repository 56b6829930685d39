#include <gtest/gtest.h>

#include "order_fulfilment.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/workflow/workflow.hpp"
#include "unit_kit.hpp"

namespace sagaflow {
namespace {

using std::chrono::milliseconds;

using testing::BuildError;

TEST(Workflow, OrderFulfilmentHasThreeCompensatedStepsInOrder) {
    const Workflow wf = workflows::OrderFulfilment();
    EXPECT_EQ(wf.name(), "order_fulfilment");
    EXPECT_EQ(wf.version(), 1);
    ASSERT_EQ(wf.step_count(), 3u);
    const char* names[] = {"reserve_inventory", "charge_payment", "create_shipment"};
    const char* undo[] = {"release_inventory", "refund_payment", "cancel_shipment"};
    const char* queues[] = {"inventory", "payment", "logistics"};
    for (std::size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(wf.step(i).name, names[i]);
        EXPECT_EQ(wf.step(i).queue, queues[i]);
        ASSERT_TRUE(wf.step(i).compensation);
        EXPECT_EQ(wf.step(i).compensation->action, undo[i]);
        EXPECT_EQ(wf.step(i).compensation->queue, queues[i]) << "defaults to the step's queue";
    }
}

TEST(Workflow, BuilderKeepsPoliciesAndTimeouts) {
    RetryPolicy p{7, milliseconds(10), 3.0, milliseconds(900), 0.5};
    const Workflow wf = WorkflowBuilder("w", 2)
                            .Step("a", "qa").Retry(p).Timeout(milliseconds(1500))
                            .CompensateWith("undo_a", "qz").CompensationTimeout(milliseconds(99))
                            .Step("b", "qb")
                            .Build();
    EXPECT_EQ(wf.step(0).retry, p);
    EXPECT_EQ(wf.step(0).timeout, milliseconds(1500));
    EXPECT_EQ(wf.step(0).compensation->queue, "qz");
    EXPECT_EQ(wf.step(0).compensation->timeout, milliseconds(99));
    EXPECT_FALSE(wf.step(1).compensation);
}

TEST(Workflow, DuplicateStepNamesAreRejected) {
    WorkflowBuilder b("w", 1);
    b.Step("a", "q");
    b.Step("a", "q");
    EXPECT_NE(BuildError(b).find("duplicate action name"), std::string::npos);
}

TEST(Workflow, CompensationNamedLikeAStepIsRejected) {
    WorkflowBuilder b("w", 1);
    b.Step("a", "q").CompensateWith("b");
    b.Step("b", "q");
    EXPECT_NE(BuildError(b).find("duplicate action name"), std::string::npos);
}

TEST(Workflow, EmptyQueueIsRejected) {
    WorkflowBuilder b("w", 1);
    b.Step("a", "");
    EXPECT_NE(BuildError(b).find("empty queue"), std::string::npos);
}

TEST(Workflow, ImpossiblePoliciesAreRejectedAllAtOnce) {
    WorkflowBuilder b("w", 1);
    b.Step("a", "q")
        .Retry(RetryPolicy{0, milliseconds(-1), 0.5, milliseconds(100), 1.5})
        .Timeout(milliseconds(0));
    const std::string msg = BuildError(b);
    for (const char* part : {"max_attempts", "initial_backoff", "multiplier", "jitter",
                             "timeout must be > 0"}) {
        EXPECT_NE(msg.find(part), std::string::npos) << part << " in " << msg;
    }
    WorkflowBuilder c("w", 1);
    c.Step("a", "q").Retry(RetryPolicy{3, milliseconds(500), 2.0, milliseconds(100), 0});
    EXPECT_NE(BuildError(c).find("max_backoff"), std::string::npos);
}

TEST(Workflow, NameVersionAndStepsAreRequired) {
    EXPECT_NE(BuildError(WorkflowBuilder("", 1)).find("name"), std::string::npos);
    EXPECT_NE(BuildError(WorkflowBuilder("bad name!", 1)).find("name"), std::string::npos);
    EXPECT_NE(BuildError(WorkflowBuilder("w", 0)).find("version"), std::string::npos);
    EXPECT_NE(BuildError(WorkflowBuilder("w", 1)).find("at least one step"), std::string::npos);
}

TEST(WorkflowRegistry, KeyedByNameAndVersion) {
    WorkflowRegistry r;
    r.Add(WorkflowBuilder("w", 1).Step("a", "q").Build());
    r.Add(WorkflowBuilder("w", 3).Step("a", "q").Step("b", "q").Build());
    r.Add(WorkflowBuilder("v", 1).Step("a", "q").Build());
    EXPECT_EQ(r.Find("w", 1)->step_count(), 1u);
    EXPECT_EQ(r.Latest("w")->version(), 3);
    EXPECT_EQ(r.Find("w", 2), nullptr);
    EXPECT_EQ(r.Latest("nope"), nullptr);
    EXPECT_EQ(r.All().size(), 3u);
    try {
        r.Add(WorkflowBuilder("w", 1).Step("x", "q").Build());
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
    }
}

TEST(Workflow, TheLinearShorthandIsOneSequenceOfSteps) {
    const Workflow wf = workflows::OrderFulfilment();
    EXPECT_TRUE(wf.is_linear());
    ASSERT_EQ(wf.sequences().size(), 1u);
    EXPECT_EQ(wf.sequences()[0].nodes, (std::vector<int>{0, 1, 2}));
    EXPECT_EQ(wf.find("charge_payment"), 1);
    EXPECT_EQ(wf.find("nope"), -1);
    EXPECT_EQ(wf.node(2).kind, NodeKind::kStep);
}

nlohmann::json NoInput() { return nlohmann::json::object(); }

TEST(Workflow, AGraphIndexesEveryNodeAndSequence) {
    const Workflow wf =
        WorkflowBuilder("g", 1)
            .Guard("big", [](const nlohmann::json& in, const nlohmann::json&) { return in.value("n", 0) > 1; })
            .Step("a", "q").CompensateWith("undo_a")
            .Choice("c").When("big", "b").Otherwise("p")
            .Step("b", "q")
            .Parallel("p")
                .Branch().Step("x", "q").CompensateWith("undo_x")
                .Branch().Step("y", "q").Step("y2", "q")
            .Join()
            .Step("z", "q")
            .Build();
    EXPECT_FALSE(wf.is_linear());
    EXPECT_EQ(wf.nodes().size(), 8u);
    EXPECT_EQ(wf.step_count(), 6u);
    ASSERT_EQ(wf.sequences().size(), 3u);
    const int p = wf.find("p");
    EXPECT_EQ(wf.node(p).kind, NodeKind::kParallel);
    ASSERT_EQ(wf.branches_of(p).size(), 2u);
    const auto& second = wf.sequences()[static_cast<std::size_t>(wf.branches_of(p)[1])];
    EXPECT_EQ(second.group, p);
    EXPECT_EQ(second.branch, 1);
    EXPECT_EQ(second.nodes, (std::vector<int>{wf.find("y"), wf.find("y2")}));
    ASSERT_NE(wf.guard("big"), nullptr);
    EXPECT_FALSE((*wf.guard("big"))(NoInput(), NoInput()));
    EXPECT_EQ(wf.guard("small"), nullptr);
}

TEST(Workflow, AnInvalidGraphListsEveryProblemAtOnce) {
    auto step = [](std::string id, std::string queue = "q") {
        NodeDef n;
        n.id = id;
        n.step.name = id;
        n.step.queue = std::move(queue);
        return n;
    };
    NodeDef choice;
    choice.id = "c";
    choice.kind = NodeKind::kChoice;
    choice.when = {{"ghost", "b"}, {"known", "nowhere"}, {"known", "a"}};  // no Otherwise
    NodeDef group;
    group.id = "p";
    group.kind = NodeKind::kParallel;
    group.branches = {{step("x")}, {}};
    NodeDef lonely;
    lonely.id = "lonely";
    lonely.kind = NodeKind::kParallel;
    lonely.branches = {{step("l")}};
    NodeDef end;
    end.id = "end";
    end.kind = NodeKind::kComplete;
    NodeDef bad_policy = step("d");
    bad_policy.step.retry.max_attempts = 0;
    NodeDef jump_out = step("j");
    jump_out.next = "x";
    std::vector<NodeDef> flow{step("a"), step("a"), choice, step("b"), group, lonely, end, bad_policy, jump_out};
    std::map<std::string, Guard, std::less<>> guards;
    guards["known"] = [](const nlohmann::json&, const nlohmann::json&) { return true; };
    try {
        (void)WorkflowBuilder::FromNodes("g", 1, flow, guards);
        FAIL() << "built";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        const std::string msg = e.what();
        for (const char* part : {"step 'a': duplicate node id", "choice 'c': no Otherwise branch",
                                 "unknown guard 'ghost'", "unknown target 'nowhere'",
                                 "target 'a' (when known) is not further down: a cycle without a bound",
                                 "parallel 'p': branch 2 is empty", "parallel 'lonely': needs at least two branches",
                                 "step 'd' retry: max_attempts must be >= 1", "step 'd': unreachable",
                                 "target 'x' (next) is not in its sequence"}) {
            EXPECT_NE(msg.find(part), std::string::npos) << part << "\n in: " << msg;
        }
    }
}

TEST(Workflow, BuilderMisuseIsListedWithTheRest) {
    WorkflowBuilder b("w", 1);
    b.Step("a", "").Join();
    b.Choice("c").Otherwise("d").CompensateWith("undo_c");
    b.Step("d", "q");
    const std::string msg = BuildError(b);
    for (const char* part : {"Join outside a parallel group", "CompensateWith after choice 'c'", "empty queue"}) {
        EXPECT_NE(msg.find(part), std::string::npos) << part << " in " << msg;
    }
}

// What the types refuse, so that it cannot even be written.
template <class B>
concept CanContinue = requires(B b) { b.Step("x", "q"); };
template <class B>
concept CanBuild = requires(const B b) { b.Build(); };
template <class B>
concept CanJoin = requires(B b) { b.Join(); };
static_assert(CanContinue<StepBuilder> && CanBuild<StepBuilder>);
static_assert(!CanContinue<ChoiceBuilder> && !CanBuild<ChoiceBuilder>,
              "a choice continues only through Otherwise");
static_assert(!CanJoin<BranchBuilder> && !CanBuild<BranchBuilder> && !CanJoin<ParallelBuilder>,
              "a branch starts with a node: it cannot be empty");
static_assert(IsValidName("reserve_inventory") && !IsValidName("bad id!") && !IsValidName(""));
constexpr RetryPolicy kImpossible{1, std::chrono::milliseconds(500), 2.0, std::chrono::milliseconds(100), 0.1};
static_assert(kImpossible.Problem() == "max_backoff must be >= initial_backoff");
static_assert(RetryPolicy{}.Problem().empty());

}  // namespace
}  // namespace sagaflow
