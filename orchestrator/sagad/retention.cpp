#include "retention.hpp"

#include "sagaflow/log.hpp"

namespace sagaflow::sagad {

RetentionJob::RetentionJob(engine::SagaStore& store, const Clock& clock, RetentionOptions options)
    : store_(store), clock_(clock), options_(options) {}

RetentionJob::~RetentionJob() { Stop(); }

std::chrono::milliseconds RetentionJob::Tick() {
    try {
        Pass();
        guard_.Succeeded();
        return options_.interval;
    } catch (const std::exception& e) {
        return std::min(guard_.Failed(e), options_.interval);  // the store is away: sooner than a pass
    }
}

void RetentionJob::Pass() {
    const auto started = std::chrono::steady_clock::now();
    engine::ExpiredCounts total;
    std::uint64_t batches = 0;
    bool locked_out = false;
    for (const auto& [status, window] : {std::pair{SagaStatus::kCompleted, options_.completed},
                                         std::pair{SagaStatus::kCompensated, options_.compensated},
                                         std::pair{SagaStatus::kCancelled, options_.compensated}}) {
        const Timestamp cutoff = clock_.Now() - std::chrono::duration_cast<Duration>(window);
        for (bool more = true; more && !locked_out;) {
            if (loop_.stopping()) return;
            auto tx = store_.Begin();
            const engine::ExpiredCounts gone = tx->ExpireEnded(status, cutoff, options_.batch);
            tx->Commit();
            ++batches;
            locked_out = gone.locked_out;
            more = gone.sagas == options_.batch;
            total.sagas += gone.sagas;
            total.history_rows += gone.history_rows;
            total.pending += gone.pending;
            total.alerts += gone.alerts;
            std::lock_guard lock(mu_);
            counts_.batches += 1;
            counts_.sagas += static_cast<std::uint64_t>(gone.sagas);
            counts_.history_rows += static_cast<std::uint64_t>(gone.history_rows);
            counts_.pending += static_cast<std::uint64_t>(gone.pending);
            counts_.alerts += static_cast<std::uint64_t>(gone.alerts);
        }
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    {
        std::lock_guard lock(mu_);
        counts_.passes += 1;
        counts_.locked_out += locked_out ? 1 : 0;
        counts_.last_pass_unix_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(clock_.Now().time_since_epoch()).count();
        counts_.last_pass_ms = took.count();
    }
    if (total.sagas > 0 || locked_out) {
        log::Info("retention_pass", {{"sagas", total.sagas}, {"history_rows", total.history_rows},
                                     {"pending", total.pending}, {"alerts", total.alerts}, {"batches", batches},
                                     {"ms", took.count()}, {"locked_out", locked_out}});
    }
}

RetentionCounts RetentionJob::counts() const {
    std::lock_guard lock(mu_);
    RetentionCounts out = counts_;
    out.completed_window = options_.completed;
    out.compensated_window = options_.compensated;
    return out;
}

}  // namespace sagaflow::sagad
