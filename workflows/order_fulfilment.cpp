#include "order_fulfilment.hpp"

#include <chrono>

namespace sagaflow::workflows {

using std::chrono::milliseconds;
using std::chrono::seconds;

Workflow OrderFulfilment() {
    RetryPolicy forward;
    forward.max_attempts = 5;
    forward.initial_backoff = milliseconds(200);
    forward.multiplier = 2.0;
    forward.max_backoff = seconds(5);
    forward.jitter = 0.2;

    RetryPolicy undo = forward;
    undo.max_attempts = 10;  // a compensation must finish; give it more room

    return WorkflowBuilder(kOrderFulfilment, 1)
        .Step("reserve_inventory", "inventory").Retry(forward).Timeout(seconds(10))
            .CompensateWith("release_inventory").CompensationRetry(undo)
        .Step("charge_payment", "payment").Retry(forward).Timeout(seconds(10))
            .CompensateWith("refund_payment").CompensationRetry(undo)
        .Step("create_shipment", "logistics").Retry(forward).Timeout(seconds(10))
            .CompensateWith("cancel_shipment").CompensationRetry(undo)
        .Build();
}

void RegisterAll(WorkflowRegistry& registry) { registry.Add(OrderFulfilment()); }

}  // namespace sagaflow::workflows
