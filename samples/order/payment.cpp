// The payment service: accounts with balances. charge_payment debits and records a
// charge, failing for good on insufficient funds; refund_payment credits it back, failing
// for good while the account's refunds are blocked.
#include "service.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

const char* kSchema = R"sql(
CREATE SCHEMA IF NOT EXISTS payment;
CREATE TABLE IF NOT EXISTS payment.accounts (
    customer text PRIMARY KEY,
    balance  bigint NOT NULL CHECK (balance >= 0));
-- An account whose refunds are blocked (say, closed at the bank): a refund to it fails
-- for good until someone unblocks it; then `sagactl retry` finishes the compensation.
ALTER TABLE payment.accounts ADD COLUMN IF NOT EXISTS refunds_blocked boolean NOT NULL DEFAULT false;
CREATE TABLE IF NOT EXISTS payment.charges (
    order_id text PRIMARY KEY,
    saga_id  uuid NOT NULL,
    customer text NOT NULL,
    amount   bigint NOT NULL,
    refunded boolean NOT NULL DEFAULT false);
-- The order charges were made in: what the payment provider (payment-provider) confirms.
ALTER TABLE payment.charges ADD COLUMN IF NOT EXISTS seq bigserial;
CREATE UNIQUE INDEX IF NOT EXISTS charges_seq ON payment.charges (seq);
)sql";

StepResult Charge(StepContext& ctx) {
    const auto& order = ctx.input();
    const std::string customer = order.at("customer").get<std::string>();
    const std::string amount = std::to_string(sample::Int(order, "amount"));
    ctx.tx().Exec("UPDATE payment.accounts SET balance = balance - $2::bigint WHERE customer = $1 AND balance >= $2::bigint",
                  {customer, amount});
    if (ctx.tx().affected() == 0) return StepResult::Fail("payment declined: insufficient funds");
    ctx.tx().Exec("INSERT INTO payment.charges (order_id, saga_id, customer, amount) VALUES ($1, $2::uuid, $3, $4::bigint)",
                  {order.at("order_id").get<std::string>(), ctx.saga_id(), customer, amount});
    return StepResult::Ok({{"charged", sample::Int(order, "amount")}});
}

StepResult Refund(StepContext& ctx) {
    auto rows = ctx.tx().Exec(
        "UPDATE payment.charges SET refunded = true WHERE order_id = $1 AND NOT refunded RETURNING customer, amount",
        {ctx.input().at("order_id").get<std::string>()});
    if (rows.empty()) return StepResult::Ok({{"refunded", false}});
    ctx.tx().Exec("UPDATE payment.accounts SET balance = balance + $2::bigint WHERE customer = $1 AND NOT refunds_blocked",
                  {rows[0][0], rows[0][1]});
    if (ctx.tx().affected() == 0) return StepResult::Fail("refund refused: refunds to account " + *rows[0][0] + " are blocked");
    return StepResult::Ok({{"refunded", true}});
}

}  // namespace

namespace sample {

ServiceDef PaymentService() {
    return {"payment", kSchema, [](sagaflow::worker::Handlers& h) {
        h.Handle("payment", "charge_payment", Charge, MalformedIsPermanent());
        h.Handle("payment", "refund_payment", Refund, MalformedIsPermanent());
    }};
}

}  // namespace sample
