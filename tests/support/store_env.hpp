// Stores under test: the conformance suite and the engine scenarios run against each.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <ostream>
#include <string>

#include "saga_store.hpp"

namespace sagaflow::testing {

/// One durable place; `Open()` gives a new store handle on it (a new process would).
class StoreEnv {
public:
    virtual ~StoreEnv() = default;
    [[nodiscard]] virtual std::shared_ptr<engine::SagaStore> Open() = 0;
};

struct StoreKind {
    std::string name;
    std::function<std::unique_ptr<StoreEnv>()> make;
    /// False when a store runs one transaction at a time (the memory store): two open at
    /// once would wait for each other.
    bool concurrent_transactions = true;
};

inline std::ostream& operator<<(std::ostream& os, const StoreKind& k) { return os << k.name; }
inline std::string StoreKindName(const ::testing::TestParamInfo<StoreKind>& info) {
    return info.param.name;
}

/// The in-memory store: every Open() returns the same instance.
StoreKind MemoryStoreKind();

}  // namespace sagaflow::testing
