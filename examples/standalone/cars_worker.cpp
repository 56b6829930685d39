// The cars service: rent_car writes a rental, return_car marks it returned. Each runs in
// the worker's transaction with its inbox row, so a resent command does not rent twice.
#include "sagaflow/worker/main.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

StepResult RentCar(StepContext& ctx) {
    const std::string trip = ctx.input().at("trip_id").get<std::string>();
    const std::string car = ctx.input().at("car").get<std::string>();
    ctx.tx().Exec("INSERT INTO cars.rentals (trip_id, saga_id, car) VALUES ($1, $2::uuid, $3)",
                  {trip, ctx.saga_id(), car});
    return StepResult::Ok({{"car", car}});
}

StepResult ReturnCar(StepContext& ctx) {
    ctx.tx().Exec("UPDATE cars.rentals SET returned = true WHERE trip_id = $1",
                  {ctx.input().at("trip_id").get<std::string>()});
    return StepResult::Ok({{"returned", ctx.tx().affected() == 1}});  // none: it never ran
}

}  // namespace

int main(int argc, char** argv) {
    sagaflow::worker::Service s;
    s.name = "cars";
    s.schema_sql = R"sql(
        CREATE SCHEMA IF NOT EXISTS cars;
        CREATE TABLE IF NOT EXISTS cars.rentals (
            trip_id  text PRIMARY KEY,
            saga_id  uuid NOT NULL,
            car      text NOT NULL,
            returned boolean NOT NULL DEFAULT false);
    )sql";
    s.setup = [](sagaflow::worker::Worker& w, const sagaflow::worker::WorkerOptions&) {
        w.Register("cars", [](StepContext& ctx) { return ctx.action() == "rent_car" ? RentCar(ctx) : ReturnCar(ctx); });
    };
    return sagaflow::worker::Main(argc, argv, s);
}
