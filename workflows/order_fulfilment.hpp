// order_fulfilment: reserve inventory, charge payment, create the shipment; each
// undone by its compensation when a later step fails for good.
#pragma once

#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::workflows {

inline constexpr const char* kOrderFulfilment = "order_fulfilment";

/// Version 1 of the order workflow:
///   reserve_inventory (queue inventory, undo release_inventory)
///   charge_payment    (queue payment,   undo refund_payment)
///   create_shipment   (queue logistics, undo cancel_shipment)
[[nodiscard]] Workflow OrderFulfilment();

/// Orders above this amount go through the fraud check (version 2).
inline constexpr int kFraudCheckAbove = 1200;

/// Version 2 of the order workflow, a graph:
///   reserve_inventory (queue inventory, undo release_inventory)
///   amount_check: amount above kFraudCheckAbove -> fraud_check (queue risk), else on
///   charge_payment    (queue payment,   undo refund_payment)
///   ship_and_invoice, in parallel:
///     create_shipment (queue logistics, undo cancel_shipment)
///     issue_invoice   (queue billing,   undo void_invoice)
[[nodiscard]] Workflow OrderFulfilmentV2();

/// Adds every workflow in this folder to `registry`.
void RegisterAll(WorkflowRegistry& registry);

}  // namespace sagaflow::workflows
