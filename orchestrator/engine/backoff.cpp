#include "backoff.hpp"

#include <algorithm>
#include <cmath>

namespace sagaflow::engine {

Duration BackoffDelay(const RetryPolicy& policy, int failed_attempts, double unit_random) {
    using std::chrono::duration_cast;
    const double cap_us = static_cast<double>(duration_cast<Duration>(policy.max_backoff).count());
    const double initial_us =
        static_cast<double>(duration_cast<Duration>(policy.initial_backoff).count());
    const int exponent = std::max(0, failed_attempts - 1);
    // Cap before jitter so a large exponent cannot overflow into inf.
    const double base = std::min(cap_us, initial_us * std::pow(policy.multiplier, exponent));
    const double factor = 1.0 + policy.jitter * (2.0 * std::clamp(unit_random, 0.0, 1.0) - 1.0);
    const double us = std::clamp(base * factor, 0.0, cap_us);
    return Duration{static_cast<Duration::rep>(std::llround(us))};
}

}  // namespace sagaflow::engine
