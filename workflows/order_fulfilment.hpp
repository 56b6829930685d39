// order_fulfilment: reserve inventory, charge payment, create the shipment; each
// undone by its compensation when a later step fails for good.
#pragma once

#include <chrono>

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

/// What version 3 waits for.
struct OrderOptions {
    /// How long the payment provider has to confirm a charge before the order is
    /// compensated (the demo uses 2 s).
    std::chrono::milliseconds payment_deadline{std::chrono::minutes(30)};
    /// How long a large order cools off before it ships.
    std::chrono::milliseconds cooling_off{std::chrono::seconds(1)};
};

/// The defaults, with SAGAFLOW_ORDER_PAYMENT_DEADLINE_MS and SAGAFLOW_ORDER_COOLING_OFF_MS
/// (whole milliseconds > 0) when set: the demo and the fault suite shorten the waits.
/// Throws Error(kInvalidArgument) naming a variable that holds anything else.
[[nodiscard]] OrderOptions OrderOptionsFromEnv();

/// Version 3 of the order workflow: version 2 that waits for the payment provider.
///   reserve_inventory, amount_check, fraud_check, charge_payment as in version 2
///   payment_confirmed: waits for the signal of that name, at most `payment_deadline`
///                      (none: the order is compensated); its data joins the context
///   cooling_check: large orders (above kFraudCheckAbove) -> cooling_off, a timer of
///                  `cooling_off`; the others go on at once
///   ship_and_invoice, in parallel, as in version 2
[[nodiscard]] Workflow OrderFulfilmentV3(const OrderOptions& options = {});

inline constexpr const char* kOrderPair = "order_pair";

/// A customer's two orders that go through together or not at all: each is a child saga
/// of the latest order_fulfilment, its input the object in the field of its name.
///   first:  child saga, input from "first"
///   second: child saga, input from "second" (it fails: the completed first is compensated)
[[nodiscard]] Workflow OrderPair();

inline constexpr const char* kPartnerOrder = "partner_order";

/// A partner-paid order: the charge goes to a partner who cannot refund it, so it is the
/// saga's pivot; after it nothing is compensated.
///   reserve_inventory (queue inventory, undo release_inventory)
///   charge_payment    (queue payment; the pivot: no refund)
///   create_shipment   (queue logistics; retriable: retried forward, a second round of 3
///                      attempts, then it parks for an operator, e.g. `sagactl skip` once
///                      it was shipped by hand. An undeliverable region's `fail` parks it
///                      at once.)
[[nodiscard]] Workflow PartnerOrder();

/// Adds every workflow in this folder to `registry`.
void RegisterAll(WorkflowRegistry& registry, const OrderOptions& options = {});

}  // namespace sagaflow::workflows
