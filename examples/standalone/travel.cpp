// The travel service serves two queues: hotels and flights. A flight marked "full" in the
// trip's input fails for good, so the saga cancels the hotel and then returns the car.
#include "services.hpp"
#include "trip.hpp"

using sagaflow::worker::Permanent;
using sagaflow::worker::StepContext;
using sagaflow::worker::StepResult;

namespace {

// One booking table for both kinds; `kind` is "hotel" or "flight", never user input.
void Book(StepContext& ctx, const std::string& kind, const std::string& trip_id, const std::string& what) {
    ctx.tx().Exec("INSERT INTO travel.bookings (trip_id, kind, saga_id, what) VALUES ($1, $2, $3::uuid, $4)",
                  {trip_id, kind, ctx.saga_id(), what});
}

StepResult Cancel(StepContext& ctx, const std::string& kind) {
    const auto t = ctx.input<trip::Trip>();
    ctx.tx().Exec("UPDATE travel.bookings SET cancelled = true WHERE trip_id = $1 AND kind = $2", {t.trip_id, kind});
    return StepResult::Ok({{"cancelled", ctx.tx().affected() == 1}});
}

StepResult BookHotel(StepContext& ctx) {
    const auto t = ctx.input<trip::Trip>();
    Book(ctx, "hotel", t.trip_id, t.hotel);
    return StepResult::Ok({{"hotel", t.hotel}});
}

StepResult BookFlight(StepContext& ctx) {
    const auto t = ctx.input<trip::Trip>();
    if (t.flight == "full") throw Permanent("no seat on any flight for trip " + t.trip_id);  // not retried
    Book(ctx, "flight", t.trip_id, t.flight);
    return StepResult::Ok({{"flight", t.flight}});
}

}  // namespace

namespace trip {

const char* const kTravelSchema = R"sql(
    CREATE SCHEMA IF NOT EXISTS travel;
    CREATE TABLE IF NOT EXISTS travel.bookings (
        trip_id   text NOT NULL,
        kind      text NOT NULL,
        saga_id   uuid NOT NULL,
        what      text NOT NULL,
        cancelled boolean NOT NULL DEFAULT false,
        PRIMARY KEY (trip_id, kind));
)sql";

void ServeTravel(sagaflow::worker::Handlers& h) {
    h.Handle("hotels", "book_hotel", BookHotel);
    h.Handle("hotels", "cancel_hotel", [](StepContext& ctx) { return Cancel(ctx, "hotel"); });
    h.Handle("flights", "book_flight", BookFlight);
    h.Handle("flights", "cancel_flight", [](StepContext& ctx) { return Cancel(ctx, "flight"); });
}

}  // namespace trip
