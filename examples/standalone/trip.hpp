// The trip a saga books: its input, decoded by each handler with ctx.input<Trip>().
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace trip {

struct Trip {
    std::string trip_id;
    std::string car;
    std::string hotel;
    std::string flight;  // "full": no seat, the booking fails for good
};

// nlohmann's ADL decoder: a missing field fails the step for good, naming the field.
inline void from_json(const nlohmann::json& j, Trip& t) {
    j.at("trip_id").get_to(t.trip_id);
    j.at("car").get_to(t.car);
    j.at("hotel").get_to(t.hotel);
    j.at("flight").get_to(t.flight);
}

}  // namespace trip
