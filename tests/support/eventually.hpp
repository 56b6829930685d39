// Waiting on a condition with a bounded deadline: the tests' one way to wait for
// something another thread or process does (never a bare sleep).
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace sagaflow::testing {

/// Polls `done` every 10 ms until it holds or `limit` passes; whether it held.
inline bool Eventually(const std::function<bool()>& done, std::chrono::milliseconds limit = std::chrono::seconds(20)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) return false;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the poll period, bounded by `limit`
    }
    return true;
}

}  // namespace sagaflow::testing
