// Bulk operator actions: cancel, compensate or retry every saga a filter matches (`sagactl
// bulk`, POST /api/v1/bulk), tens of thousands at a time, without psql.
//
// A job is a row (`engine::BulkJob`). One loop takes the oldest running job's next page
// (newest sagas first, after the job's cursor), and hands it to the engine as one
// `engine::BulkPage`: each saga's action is applied and recorded as if asked alone, and
// the job's cursor and counts move in the same transaction. So a sagad killed mid-job goes
// on, when it comes back, from the last committed page: no saga is acted on twice, none is
// missed. Pages are throttled to the job's rate, so a big job leaves room for live
// traffic. A job never takes a saga created after it was made.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "loop_guard.hpp"
#include "node.hpp"
#include "periodic.hpp"
#include "saga_service.hpp"
#include "sagaflow/client/api.hpp"
#include "sagaflow/core/clock.hpp"

namespace sagaflow::sagad {

struct BulkOptions {
    int page = 100;             ///< Sagas in one transaction at most.
    std::int64_t confirm_over = 1000;  ///< A job matching more needs `confirm_count`.
    int default_rate = 500;     ///< Sagas a second, when the request names none.
    int max_rate = 5000;        ///< A faster rate asked for is clamped to it.
    std::chrono::milliseconds idle{1000};  ///< The pause when no job runs (a new job wakes the loop).
};

/// Monotonic counters since this sagad started.
struct BulkCounts {
    std::uint64_t jobs = 0;     ///< made here
    std::uint64_t pages = 0;    ///< committed
    std::uint64_t sagas = 0;    ///< taken by committed pages (the jobs count applied and refused)
};

class BulkJobs {
public:
    BulkJobs(engine::SagaStore& store, runtime::Node& node, const Clock& clock, BulkOptions options = {});
    ~BulkJobs();  ///< Stops.
    BulkJobs(const BulkJobs&) = delete;
    BulkJobs& operator=(const BulkJobs&) = delete;

    /// Makes a job (any thread), or counts and samples the matches of a dry run (nothing
    /// written). kInvalidArgument: no reason; kFailedPrecondition: the filter matches more
    /// than `confirm_over` and `confirm_count` is not the number it matches (the message
    /// says it), or a `confirm_count` that is not it.
    [[nodiscard]] Result<api::BulkJobInfo> Create(const api::BulkRequest& request, const engine::Actor& by);
    /// kNotFound for an unknown id.
    [[nodiscard]] Result<api::BulkJobInfo> Get(const std::string& id);
    /// Newest first.
    [[nodiscard]] std::vector<api::BulkJobInfo> List(int limit);

    /// Runs the jobs on a thread of its own; Stop before the node stops.
    void Start() { loop_.Start(); }
    void Stop() { loop_.Stop(); }
    /// One page of the oldest running job, on the caller's thread; how long to pause
    /// before the next (the job's rate), or `idle` when none runs. Throws what the store
    /// throws.
    std::chrono::milliseconds Step();

    [[nodiscard]] BulkCounts counts() const;

private:
    std::chrono::milliseconds Tick();

    engine::SagaStore& store_;
    runtime::Node& node_;
    const Clock& clock_;
    BulkOptions options_;
    std::atomic<std::uint64_t> jobs_{0}, pages_{0}, sagas_{0};
    runtime::LoopGuard guard_{"bulk"};
    runtime::Periodic loop_{[this] { return Tick(); }};  // last: stopped before the rest goes
};

}  // namespace sagaflow::sagad
