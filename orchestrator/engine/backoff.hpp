// Retry delays per `RetryPolicy`: exponential, capped, with jitter.
#pragma once

#include <chrono>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::engine {

/// The delay before the next attempt after `failed_attempts` (>= 1) attempts failed.
/// `unit_random` is a number in [0, 1) that picks the jitter; 0.5 means none.
[[nodiscard]] Duration BackoffDelay(const RetryPolicy& policy, int failed_attempts,
                                    double unit_random);

}  // namespace sagaflow::engine
