// The billing service: issue_invoice writes the order's invoice; void_invoice voids it
// (the compensation, when the shipment beside it fails).
#include "service.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

const char* kSchema = R"sql(
CREATE SCHEMA IF NOT EXISTS billing;
CREATE TABLE IF NOT EXISTS billing.invoices (
    order_id text PRIMARY KEY,
    saga_id  uuid NOT NULL,
    amount   bigint NOT NULL,
    status   text NOT NULL CHECK (status IN ('issued', 'void')));
)sql";

StepResult Issue(StepContext& ctx) {
    const auto& order = ctx.input();
    ctx.tx().Exec("INSERT INTO billing.invoices (order_id, saga_id, amount, status) VALUES ($1, $2::uuid, $3::bigint, 'issued')",
                  {order.at("order_id").get<std::string>(), ctx.saga_id(), std::to_string(sample::Int(order, "amount"))});
    return StepResult::Ok({{"invoice", order.at("order_id")}});
}

StepResult Void(StepContext& ctx) {
    ctx.tx().Exec("UPDATE billing.invoices SET status = 'void' WHERE order_id = $1 AND status = 'issued'",
                  {ctx.input().at("order_id").get<std::string>()});
    return StepResult::Ok({{"voided", ctx.tx().affected() == 1}});
}

}  // namespace

namespace sample {

ServiceDef BillingService() {
    return {"billing", kSchema, [](sagaflow::worker::Handlers& h) {
        h.Handle("billing", "issue_invoice", Issue, MalformedIsPermanent());
        h.Handle("billing", "void_invoice", Void, MalformedIsPermanent());
    }};
}

}  // namespace sample
