// The inventory service: products with stock. reserve_inventory decrements stock and
// writes a reservation, failing for good when stock is short; release_inventory puts it back.
#include "service.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

const char* kSchema = R"sql(
CREATE SCHEMA IF NOT EXISTS inventory;
CREATE TABLE IF NOT EXISTS inventory.products (
    sku   text PRIMARY KEY,
    stock integer NOT NULL CHECK (stock >= 0));
CREATE TABLE IF NOT EXISTS inventory.reservations (
    order_id text PRIMARY KEY,
    saga_id  uuid NOT NULL,
    items    jsonb NOT NULL,
    released boolean NOT NULL DEFAULT false);
)sql";

StepResult Reserve(StepContext& ctx) {
    const auto& order = ctx.input();
    for (const auto& item : order.at("items")) {
        const std::string sku = item.at("sku").get<std::string>();
        const long long qty = sample::Int(item, "qty");
        ctx.tx().Exec("UPDATE inventory.products SET stock = stock - $2::int WHERE sku = $1 AND stock >= $2::int",
                      {sku, std::to_string(qty)});
        if (ctx.tx().affected() == 0) return StepResult::Fail("out of stock: " + sku);
    }
    ctx.tx().Exec("INSERT INTO inventory.reservations (order_id, saga_id, items) VALUES ($1, $2::uuid, $3::jsonb)",
                  {order.at("order_id").get<std::string>(), ctx.saga_id(), order.at("items").dump()});
    return StepResult::Ok({{"reserved", order.at("items").size()}});
}

StepResult Release(StepContext& ctx) {
    const std::string order_id = ctx.input().at("order_id").get<std::string>();
    auto rows = ctx.tx().Exec(
        "UPDATE inventory.reservations SET released = true WHERE order_id = $1 AND NOT released RETURNING items::text",
        {order_id});
    if (rows.empty()) return StepResult::Ok({{"released", false}});
    for (const auto& item : nlohmann::json::parse(*rows[0][0])) {
        ctx.tx().Exec("UPDATE inventory.products SET stock = stock + $2::int WHERE sku = $1",
                      {item.at("sku").get<std::string>(), std::to_string(sample::Int(item, "qty"))});
    }
    return StepResult::Ok({{"released", true}});
}

}  // namespace

namespace sample {

ServiceDef InventoryService() {
    return {"inventory", kSchema, [](sagaflow::worker::Handlers& h) {
        h.Handle("inventory", "reserve_inventory", Reserve, MalformedIsPermanent());
        h.Handle("inventory", "release_inventory", Release, MalformedIsPermanent());
    }};
}

}  // namespace sample
