// The test kit's self-tests: what it runs, what it reports, and that its checks catch the
// handler bugs they are there for.
#include <gtest/gtest.h>

#include <stdexcept>

#include "order_fulfilment.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/testing/flow_test.hpp"
#include "sagaflow/testing/gtest.hpp"

namespace sagaflow::testing {
namespace {

using nlohmann::json;
using worker::StepContext;
using worker::StepResult;

Workflow Trip() {
    return WorkflowBuilder("trip", 1)
        .Step("rent_car", "cars").CompensateWith("return_car")
        .Step("book_hotel", "hotels").CompensateWith("cancel_hotel")
        .Step("book_flight", "flights").CompensateWith("cancel_flight")
        .Build();
}

bool HasProblem(const RunReport& r, const std::string& part) {
    for (const auto& p : r.problems) {
        if (p.find(part) != std::string::npos) return true;
    }
    return false;
}

TEST(FlowTestKit, ALinearFlowWithFakesHoldsAtEveryPointWithTheExpectedCompensations) {
    FlowTest t(Trip());
    const auto reports = ForEachFailurePoint(t);
    ASSERT_EQ(reports.size(), 1u + 3u * kFailureKinds.size());
    for (const auto& r : reports) EXPECT_TRUE(r.ok()) << r;
    EXPECT_EQ(reports[0].status, SagaStatus::kCompleted);
    EXPECT_EQ(reports[0].actions(Phase::kForward), (std::vector<std::string>{"rent_car", "book_hotel", "book_flight"}));

    const RunReport flight = t.Run({"book_flight", FailureKind::kBusinessFailure});
    EXPECT_EQ(flight.status, SagaStatus::kCompensated);
    EXPECT_EQ(flight.actions(Phase::kCompensate), (std::vector<std::string>{"cancel_hotel", "return_car"}));
    EXPECT_NE(flight.reason.find("injected business failure at book_flight"), std::string::npos) << flight.reason;

    // The step that never answered is undone too, and its inbox says there is nothing to
    // undo: its compensation handler does not run.
    const RunReport silent = t.Run({"book_hotel", FailureKind::kTimeouts});
    EXPECT_EQ(silent.status, SagaStatus::kCompensated);
    EXPECT_EQ(silent.actions(Phase::kCompensate), (std::vector<std::string>{"return_car"}));
    int timed_out = 0;
    for (const auto& h : silent.history) timed_out += h == "timed_out book_hotel";
    EXPECT_EQ(timed_out, RetryPolicy{}.max_attempts) << "every attempt timed out";

    for (FailureKind k : {FailureKind::kCrashBeforeCommit, FailureKind::kCrashAfterCommit,
                          FailureKind::kDuplicateReply, FailureKind::kLostReply}) {
        const RunReport r = t.Run({"book_hotel", k});
        EXPECT_EQ(r.status, SagaStatus::kCompleted) << r;
        EXPECT_EQ(r.actions(Phase::kForward).size(), 3u) << r;
    }
}

TEST(FlowTestKit, TheOrderGraphHoldsItsParallelBranchesMayBeUndoneInEitherOrder) {
    FlowTest t(workflows::OrderFulfilmentV2());
    t.Input({{"order_id", "o-1"}, {"amount", 5000}});  // above the fraud check's threshold
    const auto reports = ForEachFailurePoint(t);
    for (const auto& r : reports) EXPECT_TRUE(r.ok()) << r;
    const RunReport r = t.Run({"issue_invoice", FailureKind::kBusinessFailure});
    EXPECT_EQ(r.status, SagaStatus::kCompensated);
    const auto undone = r.actions(Phase::kCompensate);
    ASSERT_EQ(undone.size(), 3u) << r;  // the shipment, the payment, the reservation
    EXPECT_EQ(undone[0], "cancel_shipment");
    EXPECT_EQ(undone[1], "refund_payment");
    EXPECT_EQ(undone[2], "release_inventory");
}

TEST(FlowTestKit, AStepOffTheInputsPathIsNotReached) {
    FlowTest t(workflows::OrderFulfilmentV2());
    t.Input({{"order_id", "o-2"}, {"amount", 10}});  // below the threshold: no fraud check
    const RunReport r = t.Run({"fraud_check", FailureKind::kBusinessFailure});
    EXPECT_FALSE(r.reached);
    EXPECT_TRUE(r.ok());
    EXPECT_TRUE(t.Run({"charge_payment", FailureKind::kBusinessFailure}).reached);
}

TEST(FlowTestKit, HandlersSeeTheCommandAndTheirStatementsAreTheEffect) {
    FlowTest t(Trip());
    t.Input({{"trip_id", "T-9"}});
    t.Handle("cars", "rent_car", [](StepContext& ctx) {
        ctx.tx().Exec("INSERT INTO cars.rentals (trip_id, saga_id) VALUES ($1, $2::uuid)",
                      {ctx.input().at("trip_id").get<std::string>(), ctx.saga_id()});
        return StepResult::Ok({{"car", "C-" + std::to_string(ctx.attempt())}});
    });
    t.Handle("hotels", "book_hotel", [](StepContext& ctx) {
        // Outputs of earlier steps arrive as the context.
        return StepResult::Ok({{"after", ctx.context().at("rent_car").at("car")}});
    });
    const RunReport r = t.Run();
    ASSERT_TRUE(r.ok()) << r;
    ASSERT_EQ(r.effects.size(), 3u);
    EXPECT_FALSE(r.effects[0].faked);
    EXPECT_EQ(r.effects[0].sql, (std::vector<std::string>{"INSERT INTO cars.rentals (trip_id, saga_id) VALUES ($1, $2::uuid)"}));
    EXPECT_TRUE(r.effects[2].faked) << "book_flight has no handler: the kit answered it";

    // A crash before commit leaves nothing; the resend (attempt 2) is the one effect.
    const RunReport crash = t.Run({"rent_car", FailureKind::kCrashBeforeCommit});
    ASSERT_TRUE(crash.ok()) << crash;
    EXPECT_EQ(crash.effects[0].attempt, 2);
    // After commit, the resend is answered from the inbox: still attempt 1's effect, once.
    const RunReport after = t.Run({"rent_car", FailureKind::kCrashAfterCommit});
    ASSERT_TRUE(after.ok()) << after;
    EXPECT_EQ(after.effects[0].attempt, 1);
}

TEST(FlowTestKit, ACompensationThatFailsForGoodIsReportedAtEveryPointThatNeedsIt) {
    FlowTest t(Trip());
    t.Handle("cars", "return_car", [](StepContext&) -> StepResult { throw worker::Permanent("the depot is closed"); });
    EXPECT_TRUE(t.Run().ok()) << "the happy path never compensates";
    const RunReport r = t.Run({"book_hotel", FailureKind::kBusinessFailure});
    EXPECT_EQ(r.status, SagaStatus::kFailed);
    EXPECT_TRUE(HasProblem(r, "ended failed")) << r;
    EXPECT_NE(r.Describe().find("PROBLEM"), std::string::npos);
    // The first step's own failure leaves nothing to return.
    EXPECT_TRUE(t.Run({"rent_car", FailureKind::kBusinessFailure}).ok());
}

TEST(FlowTestKit, AHandlerWithoutTheInboxThatIsNotIdempotentIsCaught) {
    FlowTest t(Trip());
    worker::HandlerOptions no_inbox;
    no_inbox.use_inbox = false;  // "naturally idempotent", it claims
    auto booked = std::make_shared<int>(0);
    t.Handle(
        "hotels", "book_hotel",
        [booked](StepContext& ctx) {
            if (ctx.attempt() == 1) ++*booked;
            // The resend after a lost reply finds the room taken: not idempotent.
            return ctx.attempt() == 1 ? StepResult::Ok() : StepResult::Fail("room already booked");
        },
        no_inbox);
    EXPECT_TRUE(t.Run().ok());
    const RunReport r = t.Run({"book_hotel", FailureKind::kLostReply});
    EXPECT_EQ(r.status, SagaStatus::kCompensated);
    EXPECT_TRUE(HasProblem(r, "expected completed")) << r;
}

TEST(FlowTestKit, TheErrorPolicyIsTheWorkersOne) {
    FlowTest t(Trip());
    t.Handle("cars", "rent_car", [](StepContext& ctx) {
        struct Car {
            std::string model;
        };
        (void)ctx.input().at("model");  // a missing key: nlohmann throws
        return StepResult::Ok();
    });
    t.Handle(
        "hotels", "book_hotel", [](StepContext&) -> StepResult { throw std::invalid_argument("no such city"); },
        worker::HandlerOptions{}.PermanentOn<std::invalid_argument>());
    // rent_car's throw is transient: retried until the policy is spent, then compensated.
    const RunReport r = t.Run();
    EXPECT_EQ(r.status, SagaStatus::kCompensated);
    EXPECT_TRUE(r.effects.empty());

    FlowTest u(Trip());
    u.Handle(
        "hotels", "book_hotel", [](StepContext&) -> StepResult { throw std::invalid_argument("no such city"); },
        worker::HandlerOptions{}.PermanentOn<std::invalid_argument>());
    const RunReport p = u.Run();
    EXPECT_EQ(p.status, SagaStatus::kCompensated);
    EXPECT_NE(p.reason.find("no such city"), std::string::npos) << p;
    int attempts = 0;
    for (const auto& h : p.history) attempts += h == "sent book_hotel";
    EXPECT_EQ(attempts, 1) << "a permanent error is not retried";
}

TEST(FlowTestKit, AHandlerThatThrowsANonStandardExceptionIsRetriedNotFatal) {
    FlowTest t(Trip());
    t.Handle("flights", "book_flight", [](StepContext&) -> StepResult { throw 42; });
    const RunReport r = t.Run();
    EXPECT_EQ(r.status, SagaStatus::kCompensated);
    EXPECT_NE(r.reason.find("non-standard exception"), std::string::npos) << r;
    EXPECT_EQ(r.actions(Phase::kCompensate), (std::vector<std::string>{"cancel_hotel", "return_car"}));
}

TEST(FlowTestKit, HandleRefusesAnActionTheWorkflowDoesNotSendAndOneRegisteredTwice) {
    FlowTest t(Trip());
    const auto ok = [](StepContext&) { return StepResult::Ok(); };
    EXPECT_THROW(t.Handle("cars", "rent_kar", ok), Error);
    EXPECT_THROW(t.Handle("hotels", "rent_car", ok), Error);
    t.Handle("cars", "rent_car", ok);
    EXPECT_THROW(t.Handle("cars", "rent_car", ok), Error);
    EXPECT_THROW((void)t.Run({"no_such_step", FailureKind::kTimeouts}), Error);
}

TEST(FlowTestKit, PointNamesAreTestNames) {
    EXPECT_EQ((FailurePoint{"book-hotel.v2", FailureKind::kCrashAfterCommit}.name()),
              "book_hotel_v2_crash_after_commit");
    EXPECT_EQ(FlowTest(Trip()).FailurePoints().size(), 18u);
}

FlowTest OrderFlow() {
    FlowTest t(workflows::OrderFulfilment());
    t.Input({{"order_id", "o-3"}, {"amount", 100}});
    return t;
}
SAGAFLOW_FAILURE_POINTS(KitOrderSaga, OrderFlow);

}  // namespace
}  // namespace sagaflow::testing
