// The shared suites on the in-memory store.
#include "engine_scenarios.hpp"
#include "store_conformance.hpp"

namespace sagaflow::testing {

INSTANTIATE_TEST_SUITE_P(Memory, StoreConformance, ::testing::Values(MemoryStoreKind()),
                         StoreKindName);
INSTANTIATE_TEST_SUITE_P(Memory, EngineScenario, ::testing::Values(MemoryStoreKind()),
                         StoreKindName);

}  // namespace sagaflow::testing
