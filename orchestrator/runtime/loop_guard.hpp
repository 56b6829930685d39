// The boundary of every long-running loop (DESIGN §10): an exception that reaches it is
// counted, logged (once per streak of failures, not once per retry) and answered with a
// growing pause, 50 ms doubling to 5 s; the loop goes on. Nothing unexpected ends sagad.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <string>

#include "sagaflow/core/error.hpp"
#include "sagaflow/log.hpp"

namespace sagaflow::runtime {

class LoopGuard {
public:
    /// `loop` names the loop in the log ("node", "http", "alerts", "watchdog").
    explicit LoopGuard(std::string loop) : loop_(std::move(loop)) {}

    /// Counts and logs `e`; returns how long the loop should pause before trying again.
    std::chrono::milliseconds Failed(const std::exception& e) {
        errors_.fetch_add(1, std::memory_order_relaxed);
        if (pause_.count() == 0) {
            const auto* error = dynamic_cast<const Error*>(&e);
            log::Warn("loop_error", {{"loop", loop_},
                                     {"code", ToString(error != nullptr ? error->code() : ErrorCode::kInternal)},
                                     {"error", e.what()},
                                     {"detail", "retrying with backoff"}});
        }
        pause_ = std::clamp(pause_ * 2, std::chrono::milliseconds(50), std::chrono::milliseconds(5000));
        return pause_;
    }
    /// The loop went round without an exception: the streak (if any) is over.
    void Succeeded() {
        if (pause_.count() == 0) return;
        pause_ = std::chrono::milliseconds(0);
        log::Info("loop_recovered", {{"loop", loop_}});
    }
    [[nodiscard]] bool failing() const { return pause_.count() > 0; }
    /// Exceptions caught so far. Thread-safe.
    [[nodiscard]] std::uint64_t errors() const { return errors_.load(std::memory_order_relaxed); }

private:
    std::string loop_;
    std::chrono::milliseconds pause_{0};
    std::atomic<std::uint64_t> errors_{0};
};

}  // namespace sagaflow::runtime
