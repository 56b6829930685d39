// The logistics service: create_shipment writes a shipment, failing for good for a
// region it cannot deliver to; cancel_shipment cancels it.
#include "service.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

const char* kSchema = R"sql(
CREATE SCHEMA IF NOT EXISTS logistics;
CREATE TABLE IF NOT EXISTS logistics.regions (
    name        text PRIMARY KEY,
    deliverable boolean NOT NULL);
CREATE TABLE IF NOT EXISTS logistics.shipments (
    order_id text PRIMARY KEY,
    saga_id  uuid NOT NULL,
    region   text NOT NULL,
    status   text NOT NULL CHECK (status IN ('created', 'cancelled')));
)sql";

StepResult Create(StepContext& ctx) {
    const auto& order = ctx.input();
    const std::string region = order.at("region").get<std::string>();
    auto rows = ctx.tx().Exec("SELECT 1 FROM logistics.regions WHERE name = $1 AND deliverable", {region});
    if (rows.empty()) return StepResult::Fail("undeliverable region: " + region);
    ctx.tx().Exec("INSERT INTO logistics.shipments (order_id, saga_id, region, status) VALUES ($1, $2::uuid, $3, 'created')",
                  {order.at("order_id").get<std::string>(), ctx.saga_id(), region});
    return StepResult::Ok({{"shipment", order.at("order_id")}});
}

StepResult Cancel(StepContext& ctx) {
    ctx.tx().Exec("UPDATE logistics.shipments SET status = 'cancelled' WHERE order_id = $1 AND status = 'created'",
                  {ctx.input().at("order_id").get<std::string>()});
    return StepResult::Ok({{"cancelled", ctx.tx().affected() == 1}});
}

}  // namespace

namespace sample {

ServiceDef LogisticsService() {
    return {"logistics", kSchema, [](sagaflow::worker::Handlers& h) {
        h.Handle("logistics", "create_shipment", Create, MalformedIsPermanent());
        h.Handle("logistics", "cancel_shipment", Cancel, MalformedIsPermanent());
    }};
}

}  // namespace sample
