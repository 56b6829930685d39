// The travel service serves two queues: hotels and flights. A flight marked "full" in the
// trip's input fails for good, so the saga returns the hotel and then the car.
#include "sagaflow/worker/main.hpp"

using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

// One booking table per kind; `kind` is "hotel" or "flight", never user input.
StepResult Book(StepContext& ctx, const std::string& kind) {
    const std::string trip = ctx.input().at("trip_id").get<std::string>();
    const std::string what = ctx.input().at(kind).get<std::string>();
    if (what == "full") return StepResult::Fail("no " + kind + " available for trip " + trip);
    ctx.tx().Exec("INSERT INTO travel.bookings (trip_id, kind, saga_id, what) VALUES ($1, $2, $3::uuid, $4)",
                  {trip, kind, ctx.saga_id(), what});
    return StepResult::Ok({{kind, what}});
}

StepResult Cancel(StepContext& ctx, const std::string& kind) {
    ctx.tx().Exec("UPDATE travel.bookings SET cancelled = true WHERE trip_id = $1 AND kind = $2",
                  {ctx.input().at("trip_id").get<std::string>(), kind});
    return StepResult::Ok({{"cancelled", ctx.tx().affected() == 1}});
}

}  // namespace

int main(int argc, char** argv) {
    sagaflow::worker::Service s;
    s.name = "travel";
    s.default_capacity = 8;
    s.schema_sql = R"sql(
        CREATE SCHEMA IF NOT EXISTS travel;
        CREATE TABLE IF NOT EXISTS travel.bookings (
            trip_id   text NOT NULL,
            kind      text NOT NULL,
            saga_id   uuid NOT NULL,
            what      text NOT NULL,
            cancelled boolean NOT NULL DEFAULT false,
            PRIMARY KEY (trip_id, kind));
    )sql";
    s.setup = [](sagaflow::worker::Worker& w, const sagaflow::worker::WorkerOptions&) {
        w.Register("hotels", [](StepContext& ctx) {
            return ctx.action() == "book_hotel" ? Book(ctx, "hotel") : Cancel(ctx, "hotel");
        });
        w.Register("flights", [](StepContext& ctx) {
            return ctx.action() == "book_flight" ? Book(ctx, "flight") : Cancel(ctx, "flight");
        });
    };
    return sagaflow::worker::Main(argc, argv, s);
}
