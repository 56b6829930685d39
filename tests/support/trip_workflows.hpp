// The child-saga test workflows: a trip books a car, its flights as a child saga of
// workflow "flights", then a hotel; each step has a compensation.
#pragma once

#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::testing {

inline void AddTripWorkflows(WorkflowRegistry& registry) {
    registry.Add(WorkflowBuilder("flights", 1).Step("book_flight", "q").CompensateWith("cancel_flight").Build());
    registry.Add(WorkflowBuilder("trip", 1)
                     .Step("book_car", "q").CompensateWith("return_car")
                     .Child("flights", "flights")
                     .Step("book_hotel", "q").CompensateWith("cancel_hotel")
                     .Build());
}

}  // namespace sagaflow::testing
