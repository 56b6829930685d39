// The trip saga under every failure point: each step fails for good, times out, crashes
// its worker before and after commit, and has its reply duplicated and lost, in turn. The
// handlers are the services' own; their SQL goes to the kit's recording transaction.
#include "sagaflow/testing/gtest.hpp"
#include "services.hpp"
#include "trip_workflow.hpp"

namespace {

sagaflow::testing::FlowTest TripFlow() {
    sagaflow::testing::FlowTest t(trip::Workflow());
    t.Input({{"trip_id", "T-1"}, {"car", "compact"}, {"hotel", "Ritz"}, {"flight", "LH-400"}});
    trip::ServeCars(t);
    trip::ServeTravel(t);
    return t;
}
SAGAFLOW_FAILURE_POINTS(TripSaga, TripFlow);

// A full flight fails for good in the handler itself: no retry, hotel and car undone.
TEST(TripSaga, AFullFlightUndoesTheHotelThenTheCar) {
    auto t = TripFlow();
    t.Input({{"trip_id", "T-2"}, {"car", "compact"}, {"hotel", "Ritz"}, {"flight", "full"}});
    const auto run = t.Run();
    ASSERT_TRUE(run.ok()) << run;
    EXPECT_EQ(run.status, sagaflow::SagaStatus::kCompensated);
    EXPECT_EQ(run.actions(sagaflow::Phase::kCompensate), (std::vector<std::string>{"cancel_hotel", "return_car"}));
}

}  // namespace
