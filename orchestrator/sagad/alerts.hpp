// The alert hook: POSTs each alert the engine recorded (a saga stopped in failed) to the
// operator's webhook, with retries and backoff, and deletes it once taken (a 2xx answer).
// The alerts live in the store (saga_alerts), written in the transaction that failed the
// saga, so one is sent even when sagad dies between the failure and the POST: the next
// active sagad finds it. Delivery is at least once; each event carries `alert_id` for the
// receiver to drop repeats.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <random>
#include <string>

#include "backoff.hpp"
#include "http/client.hpp"
#include "loop_guard.hpp"
#include "periodic.hpp"
#include "saga_store.hpp"
#include "sagaflow/core/clock.hpp"

namespace sagaflow::sagad {

struct AlertOptions {
    std::string webhook;   ///< http://host:port/path
    std::string sagad_url; ///< this sagad's HTTP URL, for a link to the saga in the event
    std::chrono::milliseconds poll{1000};
    std::chrono::milliseconds timeout{5000};
    /// Between tries of one alert: 1 s doubling to 5 min, with jitter (no give-up limit).
    RetryPolicy backoff{1, std::chrono::seconds(1), 2.0, std::chrono::minutes(5), 0.2};
};

class AlertSender {
public:
    /// Throws Error(kInvalidArgument) for a webhook that is not an http:// URL.
    AlertSender(engine::SagaStore& store, const Clock& clock, AlertOptions options);
    ~AlertSender();  ///< Stops.
    AlertSender(const AlertSender&) = delete;
    AlertSender& operator=(const AlertSender&) = delete;

    void Start() { loop_.Start(); }
    void Stop() { loop_.Stop(); }
    /// A saga just failed: look now rather than at the next poll. Any thread.
    void Wake() { loop_.Wake(); }

    [[nodiscard]] std::uint64_t sent() const { return sent_; }
    [[nodiscard]] std::uint64_t failed_attempts() const { return failed_; }
    [[nodiscard]] std::uint64_t pending() const { return pending_; }

private:
    /// One look: sends what is due; returns the pause before the next.
    std::chrono::milliseconds Tick();
    /// Sends what is due; returns how many it tried.
    int SendDue();

    engine::SagaStore& store_;
    const Clock& clock_;
    AlertOptions options_;
    http::Url webhook_;
    std::mt19937_64 rng_{std::random_device{}()};  // the backoff's jitter; the sender's thread only
    std::atomic<std::uint64_t> sent_{0}, failed_{0}, pending_{0};
    runtime::LoopGuard guard_{"alerts"};
    runtime::Periodic loop_{[this] { return Tick(); }};  // last: stopped before the rest goes
};

}  // namespace sagaflow::sagad
