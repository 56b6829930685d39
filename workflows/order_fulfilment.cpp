#include "order_fulfilment.hpp"

#include <chrono>

namespace sagaflow::workflows {

using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr RetryPolicy kForward{5, milliseconds(200), 2.0, seconds(5), 0.2};
constexpr RetryPolicy kUndo{10, milliseconds(200), 2.0, seconds(5), 0.2};  // a compensation must finish
static_assert(kForward.Problem().empty() && kUndo.Problem().empty());

}  // namespace

Workflow OrderFulfilment() {
    return WorkflowBuilder(kOrderFulfilment, 1)
        .Step("reserve_inventory", "inventory").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("release_inventory").CompensationRetry(kUndo)
        .Step("charge_payment", "payment").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("refund_payment").CompensationRetry(kUndo)
        .Step("create_shipment", "logistics").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("cancel_shipment").CompensationRetry(kUndo)
        .Build();
}

Workflow OrderFulfilmentV2() {
    return WorkflowBuilder(kOrderFulfilment, 2)
        .Guard("large_order",
               [](const nlohmann::json& input, const nlohmann::json&) {
                   const auto it = input.find("amount");
                   return it != input.end() && it->is_number() && it->get<double>() > kFraudCheckAbove;
               })
        .Step("reserve_inventory", "inventory").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("release_inventory").CompensationRetry(kUndo)
        .Choice("amount_check").When("large_order", "fraud_check").Otherwise("charge_payment")
        .Step("fraud_check", "risk").Retry(kForward).Timeout(seconds(10))
        .Step("charge_payment", "payment").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("refund_payment").CompensationRetry(kUndo)
        .Parallel("ship_and_invoice")
            .Branch().Step("create_shipment", "logistics").Retry(kForward).Timeout(seconds(10))
                .CompensateWith("cancel_shipment").CompensationRetry(kUndo)
            .Branch().Step("issue_invoice", "billing").Retry(kForward).Timeout(seconds(10))
                .CompensateWith("void_invoice").CompensationRetry(kUndo)
        .Join()
        .Build();
}

void RegisterAll(WorkflowRegistry& registry) {
    registry.Add(OrderFulfilment());
    registry.Add(OrderFulfilmentV2());
}

}  // namespace sagaflow::workflows
