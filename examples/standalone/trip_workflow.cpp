#include "trip_workflow.hpp"

#include <chrono>

namespace trip {

sagaflow::Workflow Workflow() {
    using std::chrono::seconds;
    return sagaflow::WorkflowBuilder(kWorkflow, 1)
        .Step("rent_car", "cars").CompensateWith("return_car").Timeout(seconds(10))
        .Step("book_hotel", "hotels").CompensateWith("cancel_hotel").Timeout(seconds(10))
        .Step("book_flight", "flights").CompensateWith("cancel_flight").Timeout(seconds(10))
        .Build();
}

void Register(sagaflow::WorkflowRegistry& registry) { registry.Add(Workflow()); }

}  // namespace trip
