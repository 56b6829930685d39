#include "backoff.hpp"

#include <gtest/gtest.h>

namespace sagaflow::engine {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, GrowsByTheMultiplierUpToTheCap) {
    const RetryPolicy p{10, milliseconds(100), 2.0, milliseconds(1000), 0.0};
    const int expected_ms[] = {100, 200, 400, 800, 1000, 1000};
    for (int n = 1; n <= 6; ++n) {
        EXPECT_EQ(BackoffDelay(p, n, 0.9), milliseconds(expected_ms[n - 1])) << n;
    }
}

TEST(Backoff, JitterStaysWithinItsFractionAndTheCap) {
    const RetryPolicy p{10, milliseconds(1000), 2.0, milliseconds(3000), 0.25};
    EXPECT_EQ(BackoffDelay(p, 1, 0.0), milliseconds(750));
    EXPECT_EQ(BackoffDelay(p, 1, 0.5), milliseconds(1000));
    EXPECT_EQ(BackoffDelay(p, 1, 1.0), milliseconds(1250));
    EXPECT_EQ(BackoffDelay(p, 5, 1.0), milliseconds(3000)) << "jitter never exceeds the cap";
}

TEST(Backoff, HugeAttemptCountsDoNotOverflow) {
    const RetryPolicy p{1000, milliseconds(100), 10.0, milliseconds(60'000), 0.0};
    EXPECT_EQ(BackoffDelay(p, 900, 0.3), milliseconds(60'000));
}

TEST(Backoff, ZeroInitialBackoffMeansImmediately) {
    const RetryPolicy p{3, milliseconds(0), 2.0, milliseconds(0), 0.5};
    EXPECT_EQ(BackoffDelay(p, 2, 0.99), Duration::zero());
}

}  // namespace
}  // namespace sagaflow::engine
