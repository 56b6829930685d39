// The trip-booking workflow: rent a car, book a hotel, book a flight. When a step fails
// for good, the steps before it are undone in reverse order.
#pragma once

#include "sagaflow/workflow/workflow.hpp"

namespace trip {

inline constexpr const char* kWorkflow = "trip_booking";

/// The workflow, version 1.
[[nodiscard]] sagaflow::Workflow Workflow();
/// Adds it to `registry` (what the daemon serves).
void Register(sagaflow::WorkflowRegistry& registry);

}  // namespace trip
