// The cars service: rent_car writes a rental, return_car marks it returned. Each runs in
// the worker's transaction with its inbox row, so a resent command does not rent twice.
#include "services.hpp"
#include "trip.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

StepResult RentCar(StepContext& ctx) {
    const auto t = ctx.input<trip::Trip>();
    ctx.tx().Exec("INSERT INTO cars.rentals (trip_id, saga_id, car) VALUES ($1, $2::uuid, $3)",
                  {t.trip_id, ctx.saga_id(), t.car});
    return StepResult::Ok({{"car", t.car}});
}

StepResult ReturnCar(StepContext& ctx) {
    const auto t = ctx.input<trip::Trip>();
    ctx.tx().Exec("UPDATE cars.rentals SET returned = true WHERE trip_id = $1", {t.trip_id});
    return StepResult::Ok({{"returned", ctx.tx().affected() == 1}});
}

}  // namespace

namespace trip {

const char* const kCarsSchema = R"sql(
    CREATE SCHEMA IF NOT EXISTS cars;
    CREATE TABLE IF NOT EXISTS cars.rentals (
        trip_id  text PRIMARY KEY,
        saga_id  uuid NOT NULL,
        car      text NOT NULL,
        returned boolean NOT NULL DEFAULT false);
)sql";

void ServeCars(sagaflow::worker::Handlers& h) {
    h.Handle("cars", "rent_car", RentCar);
    h.Handle("cars", "return_car", ReturnCar);
}

}  // namespace trip
