// The handlers of the trip's two worker services, registered through
// sagaflow::worker::Handlers: the worker mains serve them, trip_test.cpp tests them.
#pragma once

#include "sagaflow/worker/worker.hpp"

namespace trip {

/// The cars service's tables, and its actions (queue cars).
extern const char* const kCarsSchema;
void ServeCars(sagaflow::worker::Handlers& h);

/// The travel service's tables, and its actions (queues hotels and flights).
extern const char* const kTravelSchema;
void ServeTravel(sagaflow::worker::Handlers& h);

}  // namespace trip
