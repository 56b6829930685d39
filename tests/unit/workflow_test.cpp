#include <gtest/gtest.h>

#include "order_fulfilment.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow {
namespace {

using std::chrono::milliseconds;

// Builds and returns the error message, failing the test if it built.
std::string BuildError(const WorkflowBuilder& b) {
    try {
        (void)b.Build();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        return e.what();
    }
    ADD_FAILURE() << "built an invalid workflow";
    return {};
}

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

}  // namespace
}  // namespace sagaflow
