// The SagaStore conformance suite: every store must pass it, so the in-memory fake
// cannot drift from PostgreSQL. Instantiate with INSTANTIATE_TEST_SUITE_P(Kind,
// StoreConformance, ::testing::Values(SomeStoreKind()), StoreKindName).
#pragma once

#include <gtest/gtest.h>

#include "store_env.hpp"

namespace sagaflow::testing {

class StoreConformance : public ::testing::TestWithParam<StoreKind> {
protected:
    void SetUp() override {
        env_ = GetParam().make();
        store_ = env_->Open();
    }

    std::unique_ptr<StoreEnv> env_;
    std::shared_ptr<engine::SagaStore> store_;
};

}  // namespace sagaflow::testing
