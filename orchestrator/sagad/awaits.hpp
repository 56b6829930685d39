// Start-and-wait: callers waiting for a saga to end (DBOS `handle.getResult()`, Temporal
// `ExecuteWorkflow`). A waiter is answered when the engine reports the saga ended (its
// `Observer` facts carry the status, context and reason), or when its time is up, with
// the last status known. Nothing polls the database: each waiter costs one read when it
// starts (the saga may have ended already), done by the caller.
//
// Bounded: at most `max_waiters` wait at once; one more is refused with
// kResourceExhausted. Answers are made on the Awaits' own thread, never on the engine's.
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>

#include "saga_service.hpp"

namespace sagaflow::sagad {

class Awaits final : public engine::Observer {
public:
    /// What a waiter is told.
    struct Answer {
        SagaId saga_id;
        std::optional<SagaStatus> status;  ///< nullopt: no such saga
        std::string reason;                ///< the failure reason, when it left the happy path
        nlohmann::json context = nlohmann::json::object();
        bool done = false;                 ///< ended (completed, compensated, failed); false: timed out
        bool stopping = false;             ///< not done: sagad is stopping
    };
    using Responder = std::function<void(Answer)>;
    using Ticket = std::uint64_t;

    explicit Awaits(std::size_t max_waiters = 10000);
    /// Stop(), unless it ran.
    ~Awaits() override;
    Awaits(const Awaits&) = delete;
    Awaits& operator=(const Awaits&) = delete;

    /// Waits for saga `id` for `timeout`; `respond` is called once, on the Awaits' thread.
    /// kResourceExhausted when `max_waiters` already wait; kUnavailable once stopping.
    [[nodiscard]] Result<Ticket> Add(const SagaId& id, std::chrono::milliseconds timeout, Responder respond);
    /// What the caller read after `Add`: the saga as it is now (nullopt: no such saga).
    /// Answers at once when it ended or does not exist; else the waiter keeps waiting,
    /// knowing its status (a timeout then reports it).
    void Seen(Ticket ticket, const std::optional<engine::SagaRecord>& saga);

    void Observe(std::span<const engine::Fact> facts) override;

    /// Answers every waiter left (`stopping`), refuses new ones and stops the thread.
    /// Call it while the HTTP server that sends the answers still exists. Idempotent.
    void Stop();

    [[nodiscard]] std::size_t waiting() const;

private:
    struct Waiter {
        SagaId saga_id;
        std::chrono::steady_clock::time_point deadline;
        Responder respond;
        Answer last;  ///< what a timeout answers
    };
    void Finish(Ticket ticket, Answer answer);  // under mu_
    void Loop();

    const std::size_t max_waiters_;
    mutable std::mutex mu_;
    std::condition_variable wake_;
    std::unordered_map<Ticket, Waiter> waiters_;
    std::unordered_multimap<SagaId, Ticket> by_saga_;
    std::multimap<std::chrono::steady_clock::time_point, Ticket> by_deadline_;
    std::deque<std::pair<Responder, Answer>> ready_;  ///< answers to make, on the thread
    Ticket next_ = 1;
    bool stopping_ = false;
    std::thread thread_;
};

}  // namespace sagaflow::sagad
