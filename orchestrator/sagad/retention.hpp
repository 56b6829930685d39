// The retention job: removes ended sagas once they are older than their window, with
// their history, pending items and alerts, in bounded batches (StoreTx::ExpireEnded), so
// the database stops growing under a steady load. Completed and compensated sagas have a
// window each (cancelled ones share the compensated window); failed and parked sagas are
// kept until someone resolves them. The age is counted from
// a saga's last change (when it ended). A store shared by several sagads runs one batch
// at a time (an advisory lock); here only the active node runs the job.
//
// A removed saga is gone for every reader: `sagactl show` answers not_found, and its
// business key may start a new saga. Each pass that removed something is logged
// (`retention_pass`); the counters are in /metrics and `sagactl stats` (group retention).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

#include "loop_guard.hpp"
#include "periodic.hpp"
#include "saga_store.hpp"
#include "sagaflow/core/clock.hpp"

namespace sagaflow::sagad {

struct RetentionOptions {
    std::chrono::milliseconds completed{std::chrono::hours(24 * 7)};
    std::chrono::milliseconds compensated{std::chrono::hours(24 * 30)};
    std::chrono::milliseconds interval{std::chrono::minutes(1)};  ///< between passes
    int batch = 500;  ///< sagas per transaction: short row locks, bounded WAL per commit
};

/// Monotonic counters since this sagad started, and the last pass.
struct RetentionCounts {
    std::uint64_t passes = 0;
    std::uint64_t batches = 0;
    std::uint64_t sagas = 0;
    std::uint64_t history_rows = 0;
    std::uint64_t pending = 0;
    std::uint64_t alerts = 0;
    std::uint64_t locked_out = 0;     ///< passes that found another node's batch running
    std::int64_t last_pass_unix_ms = 0;  ///< 0: none yet
    std::int64_t last_pass_ms = 0;       ///< how long it took
    std::chrono::milliseconds completed_window{0}, compensated_window{0};  ///< the options in force
};

class RetentionJob {
public:
    RetentionJob(engine::SagaStore& store, const Clock& clock, RetentionOptions options);
    ~RetentionJob();  ///< Stops.
    RetentionJob(const RetentionJob&) = delete;
    RetentionJob& operator=(const RetentionJob&) = delete;

    /// Passes every `interval`, the first at once, on a thread of its own.
    void Start() { loop_.Start(); }
    void Stop() { loop_.Stop(); }
    /// One pass now, on the caller's thread: every batch due, both statuses. Throws what
    /// the store throws.
    void Pass();

    [[nodiscard]] RetentionCounts counts() const;
    [[nodiscard]] const RetentionOptions& options() const { return options_; }

private:
    std::chrono::milliseconds Tick();

    engine::SagaStore& store_;
    const Clock& clock_;
    RetentionOptions options_;
    mutable std::mutex mu_;  // counts_
    RetentionCounts counts_;
    runtime::LoopGuard guard_{"retention"};
    runtime::Periodic loop_{[this] { return Tick(); }};  // last: stopped before the rest goes
};

}  // namespace sagaflow::sagad
