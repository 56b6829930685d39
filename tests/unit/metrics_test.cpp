// The Prometheus text exposition: families, labels escaped, histogram buckets cumulative.
#include "metrics/metrics.hpp"

#include <gtest/gtest.h>

namespace sagaflow::testing {
namespace {

TEST(Metrics, CountersAndGaugesInTheTextFormat) {
    metrics::Registry r;
    auto& started = r.AddCounter("x_started_total", "Sagas\nstarted.", {"workflow"});
    started.With({"order"}).Inc();
    started.With({"order"}).Inc(2);
    started.With({"we\"ird\\"}).Inc();
    r.AddCallback("x_in_flight", "In flight.", {}, [] { return std::vector<metrics::Sample>{{{}, 7}}; });
    const std::string text = r.Expose();
    EXPECT_NE(text.find("# HELP x_started_total Sagas\\nstarted.\n# TYPE x_started_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("x_started_total{workflow=\"order\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("x_started_total{workflow=\"we\\\"ird\\\\\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE x_in_flight gauge\nx_in_flight 7\n"), std::string::npos) << text;
    EXPECT_THROW(r.AddCounter("9bad", "x"), std::invalid_argument);
}

TEST(Metrics, HistogramBucketsAreCumulativeWithSumAndCount) {
    metrics::Registry r;
    auto& h = r.AddHistogram("x_seconds", "Latency.", {"step"}, {0.1, 1});
    h.With({"a"}).Observe(0.05);
    h.With({"a"}).Observe(0.5);
    h.With({"a"}).Observe(5);
    const std::string text = r.Expose();
    EXPECT_NE(text.find("x_seconds_bucket{step=\"a\",le=\"0.1\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("x_seconds_bucket{step=\"a\",le=\"1\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("x_seconds_bucket{step=\"a\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("x_seconds_sum{step=\"a\"} 5.55\n"), std::string::npos) << text;
    EXPECT_NE(text.find("x_seconds_count{step=\"a\"} 3\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace sagaflow::testing
