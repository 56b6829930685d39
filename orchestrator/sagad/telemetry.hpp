// What sagad tells operators: the Prometheus metrics served at /metrics and the log
// lines of what the engine did. Fed by the engine's committed facts (it is the engine's
// `Observer`), by the API for each request, and at scrape time by the node's ledger, the
// worker link and the HTTP server.
//
// Metric names (labels in braces; none carries a saga id):
//   sagaflow_sagas_started_total{workflow}
//   sagaflow_sagas_ended_total{workflow,status}            completed, compensated, failed
//   sagaflow_step_attempts_total{workflow,step,phase,outcome}  ok, fail, retry, timeout
//   sagaflow_step_retries_total{workflow,step,phase}
//   sagaflow_step_timeouts_total{workflow,step,phase}
//   sagaflow_replies_ignored_total{workflow}               duplicate, late or stale replies
//   sagaflow_operator_actions_total{workflow,action}
//   sagaflow_worker_frames_rejected_total{reason}          bad frames on the worker socket
//   sagaflow_http_requests_total{route,method,code}
//   sagaflow_http_rejected_total{reason}                   before any handler: limits, timeouts
//   sagaflow_saga_duration_seconds{workflow,status}        histogram, start to end
//   sagaflow_step_duration_seconds{workflow,step,phase}    histogram, sent to reply
//   sagaflow_store_transaction_duration_seconds            histogram
//   sagaflow_http_request_duration_seconds{route}          histogram
//   sagaflow_sagas_in_flight, sagaflow_commands_pending, sagaflow_commands_in_flight
//   sagaflow_commands_ready{queue}                         due, no worker free yet
//   sagaflow_oldest_pending_command_age_seconds            the consumer lag
//   sagaflow_workers_connected{queue}, sagaflow_worker_free_capacity{queue}
//   sagaflow_alerts_sent_total, sagaflow_alert_failures_total, sagaflow_alerts_pending
//   sagaflow_retention_removed_total{what}                 sagas, history_rows, pending, alerts
//   sagaflow_retention_passes_total, sagaflow_retention_last_pass_timestamp_seconds
//   sagaflow_node_active, sagaflow_loop_errors_total, sagaflow_build_info{version}
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "dispatcher.hpp"
#include "http/server.hpp"
#include "metrics/metrics.hpp"
#include "node.hpp"
#include "retention.hpp"
#include "saga_service.hpp"
#include "worker_link.hpp"

namespace sagaflow::sagad {

/// The node's state at one scrape, read on its loop.
struct NodeSnapshot {
    engine::LedgerGauges ledger;
    runtime::LinkCounters link;
    std::uint64_t loop_errors = 0;
    Timestamp now{};
};

/// Reads a `NodeSnapshot` on `node`'s loop while `active()` says the loop runs.
[[nodiscard]] std::function<std::optional<NodeSnapshot>()> SnapshotOf(runtime::Node& node, const Clock& clock,
                                                                      std::function<bool()> active);

class Telemetry final : public engine::Observer {
public:
    explicit Telemetry(const std::string& version);

    /// Counts and logs what a committed batch did. On the node's loop.
    void Observe(std::span<const engine::Fact> facts) override;
    /// One API request answered. Any thread.
    void Request(const std::string& route, const std::string& method, int status, double seconds);

    /// Where the scrape-time gauges come from: `node` returns nullopt while this sagad
    /// is a standby (its loop does not run).
    void Watch(std::function<std::optional<NodeSnapshot>()> node, std::function<http::ServerCounters()> http);

    /// The text exposition. Any thread.
    [[nodiscard]] std::string Expose();

    /// Called (on the node's loop) each time a saga stops in failed: the alert sender's wake-up.
    void OnFailed(std::function<void()> hook) { on_failed_ = std::move(hook); }
    /// The alert sender's counters (sent, failed attempts, pending), read at each scrape.
    struct AlertCounts {
        std::uint64_t sent = 0, failed = 0, pending = 0;
    };
    void WatchAlerts(std::function<AlertCounts()> read);
    /// The retention job's counters, read at each scrape and by `Retention()`.
    void WatchRetention(std::function<RetentionCounts()> read);
    /// What the retention job did, for `sagactl stats`; nullopt while it does not run here.
    [[nodiscard]] std::optional<RetentionCounts> Retention();

private:
    metrics::Registry registry_;
    metrics::Family<metrics::Counter>& started_;
    metrics::Family<metrics::Counter>& ended_;
    metrics::Family<metrics::Counter>& attempts_;
    metrics::Family<metrics::Counter>& retries_;
    metrics::Family<metrics::Counter>& timeouts_;
    metrics::Family<metrics::Counter>& ignored_;
    metrics::Family<metrics::Counter>& operator_;
    metrics::Family<metrics::Counter>& requests_;
    metrics::Family<metrics::Histogram>& saga_seconds_;
    metrics::Family<metrics::Histogram>& step_seconds_;
    metrics::Family<metrics::Histogram>& tx_seconds_;
    metrics::Family<metrics::Histogram>& request_seconds_;

    std::function<void()> on_failed_;
    std::mutex scrape_mu_;  // one scrape at a time; guards the two below
    std::function<std::optional<NodeSnapshot>()> node_;
    std::function<http::ServerCounters()> http_;
    std::function<AlertCounts()> alerts_;
    std::function<RetentionCounts()> retention_;
    std::optional<NodeSnapshot> snapshot_;
    AlertCounts alert_snapshot_;
    RetentionCounts retention_snapshot_;
    http::ServerCounters http_snapshot_;
};

}  // namespace sagaflow::sagad
