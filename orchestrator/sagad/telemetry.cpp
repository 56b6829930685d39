#include "telemetry.hpp"

#include "sagaflow/log.hpp"

namespace sagaflow::sagad {
namespace {

using metrics::Sample;

double Seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

Telemetry::Telemetry(const std::string& version)
    : started_(registry_.AddCounter("sagaflow_sagas_started_total", "Sagas created.", {"workflow"})),
      ended_(registry_.AddCounter("sagaflow_sagas_ended_total",
                                  "Sagas that ended (completed, compensated, cancelled) or stopped for an operator (failed, parked).",
                                  {"workflow", "status"})),
      attempts_(registry_.AddCounter("sagaflow_step_attempts_total", "Command attempts by outcome.",
                                     {"workflow", "step", "phase", "outcome"})),
      retries_(registry_.AddCounter("sagaflow_step_retries_total", "Commands scheduled to be sent again.",
                                    {"workflow", "step", "phase"})),
      timeouts_(registry_.AddCounter("sagaflow_step_timeouts_total", "Command attempts that got no reply in time.",
                                     {"workflow", "step", "phase"})),
      ignored_(registry_.AddCounter("sagaflow_replies_ignored_total",
                                    "Replies their saga did not await: duplicates, late or stale.", {"workflow"})),
      operator_(registry_.AddCounter("sagaflow_operator_actions_total", "Operator actions applied (compensate, retry, resume, skip, cancel, resolve).",
                                     {"workflow", "action"})),
      requests_(registry_.AddCounter("sagaflow_http_requests_total", "API requests answered.",
                                     {"route", "method", "code"})),
      saga_seconds_(registry_.AddHistogram("sagaflow_saga_duration_seconds",
                                           "From a saga's start to its end (completed, compensated or failed).",
                                           {"workflow", "status"}, metrics::LatencyBuckets())),
      step_seconds_(registry_.AddHistogram("sagaflow_step_duration_seconds",
                                           "From handing a command to a worker to its reply.",
                                           {"workflow", "step", "phase"}, metrics::LatencyBuckets())),
      tx_seconds_(registry_.AddHistogram("sagaflow_store_transaction_duration_seconds",
                                         "One committed store transaction of the engine.", {},
                                         metrics::LatencyBuckets())),
      request_seconds_(registry_.AddHistogram("sagaflow_http_request_duration_seconds", "API request handling.",
                                              {"route"}, metrics::LatencyBuckets())) {
    auto ledger = [this](auto read) {
        return [this, read] {
            std::vector<Sample> out;
            if (snapshot_) read(*snapshot_, out);
            return out;
        };
    };
    registry_.AddCallback("sagaflow_node_active", "1 while this sagad runs sagas; 0 as a standby.", {},
                          [this] { return std::vector<Sample>{{{}, snapshot_ ? 1.0 : 0.0}}; });
    registry_.AddCallback("sagaflow_sagas_in_flight", "Sagas with a command outstanding.", {},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              out.push_back({{}, static_cast<double>(s.ledger.sagas)});
                          }));
    registry_.AddCallback("sagaflow_commands_pending", "Commands awaiting a reply, a worker or a backoff.", {},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              out.push_back({{}, static_cast<double>(s.ledger.tracked)});
                          }));
    registry_.AddCallback("sagaflow_commands_in_flight", "Commands handed to a worker, awaiting its reply.", {},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              out.push_back({{}, static_cast<double>(s.ledger.in_flight)});
                          }));
    registry_.AddCallback("sagaflow_commands_ready", "Commands due that no worker has taken yet.", {"queue"},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              for (const auto& [q, g] : s.ledger.queues) out.push_back({{q}, static_cast<double>(g.ready)});
                          }));
    registry_.AddCallback("sagaflow_oldest_pending_command_age_seconds",
                          "Age of the oldest command not yet answered (consumer lag); 0 when none.", {},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              out.push_back({{}, s.ledger.oldest ? std::max(0.0, Seconds(s.now - *s.ledger.oldest)) : 0.0});
                          }));
    registry_.AddCallback("sagaflow_workers_connected", "Live workers serving each queue.", {"queue"},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              for (const auto& [q, g] : s.ledger.queues) out.push_back({{q}, static_cast<double>(g.workers)});
                          }));
    registry_.AddCallback("sagaflow_commands_unserved",
                          "Ready commands whose action no connected worker serves: they wait for one.",
                          {"queue", "action"}, ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              for (const auto& u : s.ledger.unserved) {
                                  out.push_back({{u.queue, u.action}, static_cast<double>(u.commands)});
                              }
                          }));
    registry_.AddCallback("sagaflow_worker_free_capacity", "Free command slots over each queue's workers.", {"queue"},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              for (const auto& [q, g] : s.ledger.queues) out.push_back({{q}, static_cast<double>(g.free)});
                          }));
    registry_.AddCallback(
        "sagaflow_worker_frames_rejected_total", "Frames on the worker socket counted and dropped.", {"reason"},
        ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
            const auto& c = s.link;
            for (const auto& [reason, n] :
                 {std::pair{"malformed", c.malformed_frames}, {"bad_version", c.bad_version},
                  {"unexpected_kind", c.unexpected_kind}, {"unknown_queue", c.unknown_queue_claims},
                  {"unknown_msg", c.unknown_msg_replies}, {"forged", c.forged_replies}}) {
                out.push_back({{reason}, static_cast<double>(n)});
            }
        }),
        true);
    registry_.AddCallback("sagaflow_worker_unknown_actions_total",
                          "Actions workers announced in their hello that no registered workflow sends.", {},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              out.push_back({{}, static_cast<double>(s.link.unknown_action_claims)});
                          }),
                          true);
    registry_.AddCallback("sagaflow_loop_errors_total", "Exceptions the node's loop caught and backed off from.", {},
                          ledger([](const NodeSnapshot& s, std::vector<Sample>& out) {
                              out.push_back({{}, static_cast<double>(s.loop_errors)});
                          }),
                          true);
    registry_.AddCallback(
        "sagaflow_http_rejected_total", "HTTP requests and connections refused before any handler.", {"reason"},
        [this] {
            const auto& c = http_snapshot_;
            return std::vector<Sample>{{{"too_many_connections"}, static_cast<double>(c.refused_connections)},
                                       {{"queue_full"}, static_cast<double>(c.queue_full)},
                                       {{"timeout"}, static_cast<double>(c.timeouts)},
                                       {{"malformed"}, static_cast<double>(c.malformed)},
                                       {{"tls"}, static_cast<double>(c.tls_refused)}};
        },
        true);
    registry_.AddCallback("sagaflow_http_open_connections", "HTTP connections open now.", {}, [this] {
        return std::vector<Sample>{{{}, static_cast<double>(http_snapshot_.open_connections)}};
    });
    registry_.AddCallback("sagaflow_alerts_sent_total", "Alerts the webhook took.", {}, [this] {
        return std::vector<Sample>{{{}, static_cast<double>(alert_snapshot_.sent)}};
    }, true);
    registry_.AddCallback("sagaflow_alert_failures_total", "Alert POSTs that failed (each is retried).", {}, [this] {
        return std::vector<Sample>{{{}, static_cast<double>(alert_snapshot_.failed)}};
    }, true);
    registry_.AddCallback("sagaflow_alerts_pending", "Alerts due at the sender's last look, not yet taken.", {}, [this] {
        return std::vector<Sample>{{{}, static_cast<double>(alert_snapshot_.pending)}};
    });
    registry_.AddCallback(
        "sagaflow_retention_removed_total", "What the retention job removed: ended sagas past their window and their rows.",
        {"what"},
        [this] {
            const auto& r = retention_snapshot_;
            return std::vector<Sample>{{{"sagas"}, static_cast<double>(r.sagas)},
                                       {{"history_rows"}, static_cast<double>(r.history_rows)},
                                       {{"pending"}, static_cast<double>(r.pending)},
                                       {{"alerts"}, static_cast<double>(r.alerts)}};
        },
        true);
    registry_.AddCallback("sagaflow_retention_passes_total", "Passes of the retention job.", {}, [this] {
        return std::vector<Sample>{{{}, static_cast<double>(retention_snapshot_.passes)}};
    }, true);
    registry_.AddCallback("sagaflow_retention_last_pass_timestamp_seconds", "When the retention job last finished a pass.",
                          {}, [this] {
                              return std::vector<Sample>{{{}, static_cast<double>(retention_snapshot_.last_pass_unix_ms) / 1000.0}};
                          });
    registry_.AddCallback("sagaflow_build_info", "The running sagad's version.", {"version"},
                          [version] { return std::vector<Sample>{{{version}, 1.0}}; });
}

void Telemetry::Observe(std::span<const engine::Fact> facts) {
    using Kind = engine::Fact::Kind;
    for (const engine::Fact& f : facts) {
        const std::string phase(f.phase == Phase::kForward ? "forward" : "compensate");
        switch (f.kind) {
            case Kind::kStarted:
                started_.With({f.workflow}).Inc();
                break;
            case Kind::kStatus: {
                const std::string status(ToString(f.status));
                const nlohmann::json fields{{"saga_id", f.saga_id.str()}, {"trace_id", f.trace_id.str()},
                                       {"workflow", f.workflow}, {"reason", f.reason}};
                if (engine::IsEnded(f.status)) {
                    ended_.With({f.workflow, status}).Inc();
                    saga_seconds_.With({f.workflow, status}).Observe(Seconds(f.latency));
                }
                if (f.status == SagaStatus::kFailed || f.status == SagaStatus::kParked) {
                    log::Warn("saga_" + status, fields);  // an operator is needed
                    if (on_failed_) on_failed_();
                } else if (f.status == SagaStatus::kCompensating) {
                    log::Info("saga_compensating", fields);
                } else if (f.status == SagaStatus::kCompensated) {
                    log::Info("saga_compensated", fields);
                } else {
                    log::Debug("saga_" + status, fields);
                }
                break;
            }
            case Kind::kAttempt:
                attempts_.With({f.workflow, f.node, phase, f.outcome}).Inc();
                if (f.latency.count() > 0) step_seconds_.With({f.workflow, f.node, phase}).Observe(Seconds(f.latency));
                if (f.outcome == "timeout") {
                    timeouts_.With({f.workflow, f.node, phase}).Inc();
                    log::Debug("step_timed_out", {{"saga_id", f.saga_id.str()}, {"trace_id", f.trace_id.str()},
                                                  {"node", f.node}, {"phase", phase},
                                                  {"msg_id", f.msg_id ? f.msg_id->str() : ""}});
                }
                break;
            case Kind::kRetry:
                retries_.With({f.workflow, f.node, phase}).Inc();
                log::Debug("step_retry_scheduled",
                           {{"saga_id", f.saga_id.str()}, {"trace_id", f.trace_id.str()}, {"node", f.node},
                            {"phase", phase}, {"msg_id", f.msg_id ? f.msg_id->str() : ""},
                            {"delay_ms", std::chrono::duration_cast<std::chrono::milliseconds>(f.latency).count()}});
                break;
            case Kind::kIgnoredReply:
                ignored_.With({f.workflow}).Inc();
                log::Debug("reply_ignored", {{"saga_id", f.saga_id.str()}, {"msg_id", f.msg_id ? f.msg_id->str() : ""},
                                             {"why", f.reason}});
                break;
            case Kind::kOperator:
                operator_.With({f.workflow, f.outcome}).Inc();
                log::Info("operator_action", {{"saga_id", f.saga_id.str()}, {"trace_id", f.trace_id.str()},
                                              {"action", f.outcome}, {"reason", f.reason}});
                break;
            case Kind::kStoreTx:
                tx_seconds_.With({}).Observe(Seconds(f.latency));
                break;
        }
    }
}

void Telemetry::Request(const std::string& route, const std::string& method, int status, double seconds) {
    requests_.With({route, method, std::to_string(status)}).Inc();
    request_seconds_.With({route}).Observe(seconds);
}

std::function<std::optional<NodeSnapshot>()> SnapshotOf(runtime::Node& node, const Clock& clock,
                                                       std::function<bool()> active) {
    return [&node, &clock, active = std::move(active)]() -> std::optional<NodeSnapshot> {
        if (!active()) return std::nullopt;
        return node.Submit<NodeSnapshot>([&](engine::Engine& e, runtime::WorkerLink& link) {
            return NodeSnapshot{e.dispatcher().Gauges(), link.counters(), node.loop_errors(), clock.Now()};
        });
    };
}

void Telemetry::Watch(std::function<std::optional<NodeSnapshot>()> node, std::function<http::ServerCounters()> http) {
    std::lock_guard lock(scrape_mu_);
    node_ = std::move(node);
    http_ = std::move(http);
}

void Telemetry::WatchAlerts(std::function<AlertCounts()> read) {
    std::lock_guard lock(scrape_mu_);
    alerts_ = std::move(read);
}

void Telemetry::WatchRetention(std::function<RetentionCounts()> read) {
    std::lock_guard lock(scrape_mu_);
    retention_ = std::move(read);
}

std::optional<RetentionCounts> Telemetry::Retention() {
    std::lock_guard lock(scrape_mu_);
    if (!retention_) return std::nullopt;
    return retention_();
}

std::string Telemetry::Expose() {
    std::lock_guard lock(scrape_mu_);
    alert_snapshot_ = alerts_ ? alerts_() : AlertCounts{};
    retention_snapshot_ = retention_ ? retention_() : RetentionCounts{};
    snapshot_ = node_ ? node_() : std::nullopt;
    http_snapshot_ = http_ ? http_() : http::ServerCounters{};
    return registry_.Expose();
}

}  // namespace sagaflow::sagad
