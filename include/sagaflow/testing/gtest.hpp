// The test kit in GoogleTest: one test case per failure point of a workflow, plus one run
// without faults.
//
//     sagaflow::testing::FlowTest TripFlow() {
//         sagaflow::testing::FlowTest t(trip::Workflow());
//         t.Input({{"trip_id", "T-1"}});
//         trip::ServeCars(t);  // the same Handle calls as the worker's
//         return t;
//     }
//     SAGAFLOW_FAILURE_POINTS(TripSaga, TripFlow);
//
// gives FailurePoints/TripSaga.Holds/no_fault, .../rent_car_business_failure, ...
// .../book_flight_lost_reply: each fails with the run's report when a check does not
// hold, and is skipped when its step is not on the input's path. `factory` is called when
// the cases are made (after main starts) and once per case, so each case is independent.
// Link Sagaflow::testing and GTest::gtest_main (or your own main).
#pragma once

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "sagaflow/testing/flow_test.hpp"

namespace sagaflow::testing {

/// The parameter of one case: a failure point, or none for the run without faults.
using PointParam = std::optional<FailurePoint>;

/// The run without faults first, then every failure point of `test`.
inline std::vector<PointParam> PointParams(const FlowTest& test) {
    std::vector<PointParam> out{std::nullopt};
    for (auto& p : test.FailurePoints()) out.emplace_back(std::move(p));
    return out;
}

inline void PrintTo(const FailurePoint& p, std::ostream* out) { *out << p.node << " / " << ToString(p.kind); }

inline std::string PointName(const ::testing::TestParamInfo<PointParam>& info) {
    return info.param ? info.param->name() : "no_fault";
}

/// Runs the case's point and turns the report into the case's verdict.
inline void ExpectHolds(const FlowTest& test, const PointParam& point) {
    const RunReport r = point ? test.Run(*point) : test.Run();
    if (!r.reached) GTEST_SKIP() << r.Describe();
    EXPECT_TRUE(r.ok()) << r.Describe();
}

}  // namespace sagaflow::testing

/// One GoogleTest case per failure point of the FlowTest `factory()` returns.
#define SAGAFLOW_FAILURE_POINTS(suite, factory)                                                         \
    class suite : public ::testing::TestWithParam<::sagaflow::testing::PointParam> {};                  \
    TEST_P(suite, Holds) { ::sagaflow::testing::ExpectHolds(factory(), GetParam()); }                   \
    INSTANTIATE_TEST_SUITE_P(FailurePoints, suite,                                                      \
                             ::testing::ValuesIn(::sagaflow::testing::PointParams(factory())),          \
                             ::sagaflow::testing::PointName)
