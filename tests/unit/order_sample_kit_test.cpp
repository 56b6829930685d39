// The order sample under the test kit: its five services' own handlers, the order
// workflow's graph (v2, with the fraud check and the parallel shipment and invoice), and
// every failure point of every step. The handlers' SQL goes to a fake that answers the
// reads they make as a well-stocked shop would.
#include <gtest/gtest.h>

#include <algorithm>

#include "order_fulfilment.hpp"
#include "sagaflow/testing/gtest.hpp"
#include "service.hpp"

namespace {

using sagaflow::testing::FlowTest;
using sagaflow::testing::SqlAnswer;

const nlohmann::json kItems = nlohmann::json::array({{{"sku", "sku-1"}, {"qty", 2}}, {{"sku", "sku-2"}, {"qty", 1}}});

SqlAnswer Shop(const std::string& sql, const std::vector<sagaflow::worker::SqlParam>&) {
    if (sql.find("FROM logistics.regions") != std::string::npos) return {{{"1"}}, 1};  // deliverable
    if (sql.find("FROM risk.blocked_customers") != std::string::npos) return {{}, 0};   // not blocked
    if (sql.find("RETURNING items::text") != std::string::npos) return {{{kItems.dump()}}, 1};
    if (sql.find("RETURNING customer, amount") != std::string::npos) return {{{"c-1", "1500"}}, 1};
    return {};  // a write: one row
}

FlowTest Order(nlohmann::json input) {
    FlowTest t(sagaflow::workflows::OrderFulfilmentV2());
    t.Input(std::move(input));
    t.Sql(Shop);
    for (auto make : {sample::InventoryService, sample::PaymentService, sample::LogisticsService,
                      sample::RiskService, sample::BillingService}) {
        make().serve(t);
    }
    return t;
}

nlohmann::json LargeOrder() {
    return {{"order_id", "o-1"}, {"customer", "c-1"}, {"amount", 1500}, {"region", "eu"}, {"items", kItems}};
}

// Above the fraud-check threshold: every step is on the path, 5 steps x 6 kinds + 1 = 31.
FlowTest LargeOrderFlow() { return Order(LargeOrder()); }
SAGAFLOW_FAILURE_POINTS(OrderSampleSaga, LargeOrderFlow);

TEST(OrderSampleSaga, TheHandlersRunTheirSqlAndTheShipmentFailureUndoesInReverse) {
    FlowTest t = LargeOrderFlow();
    const auto clean = t.Run();
    ASSERT_TRUE(clean.ok()) << clean;
    EXPECT_EQ(clean.status, sagaflow::SagaStatus::kCompleted);
    EXPECT_FALSE(clean.effects.front().faked);
    EXPECT_EQ(clean.effects.front().sql.size(), 3u) << "two stock updates and the reservation";

    const auto r = t.Run({"create_shipment", sagaflow::testing::FailureKind::kBusinessFailure});
    ASSERT_TRUE(r.ok()) << r;
    EXPECT_EQ(r.actions(sagaflow::Phase::kCompensate),
              (std::vector<std::string>{"void_invoice", "refund_payment", "release_inventory"}));
}

TEST(OrderSampleSaga, AMalformedOrderFailsForGoodAtItsFirstStep) {
    auto order = LargeOrder();
    order["items"][0]["qty"] = "two";
    const auto r = Order(order).Run();
    EXPECT_EQ(r.status, sagaflow::SagaStatus::kCompensated);
    EXPECT_TRUE(r.effects.empty());
    EXPECT_NE(r.reason.find("order field 'qty' must be an integer"), std::string::npos) << r;
    EXPECT_EQ(std::count(r.history.begin(), r.history.end(), "sent reserve_inventory"), 1)
        << "std::invalid_argument is permanent for the sample's handlers: not retried";
}

}  // namespace
