#include "order_fulfilment.hpp"

#include <chrono>
#include <cstdlib>

#include "sagaflow/core/error.hpp"
#include "sagaflow/core/numbers.hpp"

namespace sagaflow::workflows {

using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {

constexpr RetryPolicy kForward{5, milliseconds(200), 2.0, seconds(5), 0.2};
constexpr RetryPolicy kUndo{10, milliseconds(200), 2.0, seconds(5), 0.2};  // a compensation must finish
static_assert(kForward.Problem().empty() && kUndo.Problem().empty());

bool LargeOrder(const nlohmann::json& input, const nlohmann::json&) {
    const auto it = input.find("amount");
    return it != input.end() && it->is_number() && it->get<double>() > kFraudCheckAbove;
}

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
        .Guard("large_order", LargeOrder)
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

Workflow OrderFulfilmentV3(const OrderOptions& options) {
    return WorkflowBuilder(kOrderFulfilment, 3)
        .Guard("large_order", LargeOrder)
        .Step("reserve_inventory", "inventory").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("release_inventory").CompensationRetry(kUndo)
        .Choice("amount_check").When("large_order", "fraud_check").Otherwise("charge_payment")
        .Step("fraud_check", "risk").Retry(kForward).Timeout(seconds(10))
        .Step("charge_payment", "payment").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("refund_payment").CompensationRetry(kUndo)
        .AwaitSignal("payment_confirmed").Deadline(options.payment_deadline)
        .Choice("cooling_check").When("large_order", "cooling_off").Otherwise("ship_and_invoice")
        .Sleep("cooling_off", options.cooling_off)
        .Parallel("ship_and_invoice")
            .Branch().Step("create_shipment", "logistics").Retry(kForward).Timeout(seconds(10))
                .CompensateWith("cancel_shipment").CompensationRetry(kUndo)
            .Branch().Step("issue_invoice", "billing").Retry(kForward).Timeout(seconds(10))
                .CompensateWith("void_invoice").CompensationRetry(kUndo)
        .Join()
        .Build();
}

OrderOptions OrderOptionsFromEnv() {
    OrderOptions o;
    auto read = [](const char* name, std::chrono::milliseconds& out) {
        const char* v = std::getenv(name);
        if (v == nullptr || *v == '\0') return;
        const auto ms = ParseInteger(v, 1, 365LL * 24 * 3600 * 1000);
        if (!ms) throw Error(ErrorCode::kInvalidArgument, std::string(name) + " must be a whole number of milliseconds > 0");
        out = milliseconds(*ms);
    };
    read("SAGAFLOW_ORDER_PAYMENT_DEADLINE_MS", o.payment_deadline);
    read("SAGAFLOW_ORDER_COOLING_OFF_MS", o.cooling_off);
    return o;
}

Workflow OrderPair() {
    return WorkflowBuilder(kOrderPair, 1)
        .Child("first", kOrderFulfilment, "first")
        .Child("second", kOrderFulfilment, "second")
        .Build();
}

Workflow PartnerOrder() {
    constexpr RetryPolicy kSecondRound{3, milliseconds(500), 2.0, seconds(5), 0.2};
    static_assert(kSecondRound.Problem().empty());
    return WorkflowBuilder(kPartnerOrder, 1)
        .Step("reserve_inventory", "inventory").Retry(kForward).Timeout(seconds(10))
            .CompensateWith("release_inventory").CompensationRetry(kUndo)
        .Step("charge_payment", "payment").Retry(kForward).Timeout(seconds(10)).Pivot()
        .Step("create_shipment", "logistics").Retry(kForward).Timeout(seconds(10)).Retriable().RetryForward(kSecondRound)
        .Build();
}

void RegisterAll(WorkflowRegistry& registry, const OrderOptions& options) {
    registry.Add(OrderFulfilment());
    registry.Add(OrderFulfilmentV2());
    registry.Add(OrderFulfilmentV3(options));
    registry.Add(OrderPair());  // after the orders it runs as children
    registry.Add(PartnerOrder());
}

}  // namespace sagaflow::workflows
