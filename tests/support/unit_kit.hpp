// Small checks the unit tests share: a workflow's registration error, and counting a
// saga's history events by kind.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "saga_store.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::testing {

/// Builds `b` (a WorkflowBuilder, or the chain one of its calls returns, within the
/// expression that built it) and returns the kInvalidArgument message; fails the test if
/// it built.
template <class Builder>
std::string BuildError(const Builder& b) {
    try {
        (void)b.Build();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        return e.what();
    }
    ADD_FAILURE() << "built an invalid workflow";
    return {};
}

/// How many events of `kind` the history holds.
inline int CountEvents(const std::vector<engine::HistoryEvent>& history, const std::string& kind) {
    int n = 0;
    for (const auto& e : history) n += e.kind == kind;
    return n;
}

}  // namespace sagaflow::testing
