// The risk service: fraud_check clears an order, or fails it for good when its customer is
// on the blocklist. It has no compensation: a check record is an audit trail, not an effect
// to undo.
#include "service.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

const char* kSchema = R"sql(
CREATE SCHEMA IF NOT EXISTS risk;
CREATE TABLE IF NOT EXISTS risk.blocked_customers (
    customer text PRIMARY KEY);
CREATE TABLE IF NOT EXISTS risk.checks (
    order_id text PRIMARY KEY,
    saga_id  uuid NOT NULL,
    customer text NOT NULL,
    amount   bigint NOT NULL);
)sql";

StepResult Check(StepContext& ctx) {
    const auto& order = ctx.input();
    const std::string customer = order.at("customer").get<std::string>();
    if (!ctx.tx().Exec("SELECT 1 FROM risk.blocked_customers WHERE customer = $1", {customer}).empty()) {
        return StepResult::Fail("fraud suspected: customer " + customer + " is blocked");
    }
    ctx.tx().Exec("INSERT INTO risk.checks (order_id, saga_id, customer, amount) VALUES ($1, $2::uuid, $3, $4::bigint)",
                  {order.at("order_id").get<std::string>(), ctx.saga_id(), customer,
                   std::to_string(sample::Int(order, "amount"))});
    return StepResult::Ok({{"verdict", "cleared"}});
}

}  // namespace

namespace sample {

ServiceDef RiskService() {
    return {"risk", kSchema, [](sagaflow::worker::Handlers& h) {
        h.Handle("risk", "fraud_check", Check, MalformedIsPermanent());
    }};
}

}  // namespace sample
