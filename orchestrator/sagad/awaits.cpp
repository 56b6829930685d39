#include "awaits.hpp"

#include "sagaflow/log.hpp"

namespace sagaflow::sagad {

Awaits::Awaits(std::size_t max_waiters) : max_waiters_(max_waiters), thread_([this] { Loop(); }) {}

Awaits::~Awaits() { Stop(); }

void Awaits::Stop() {
    {
        std::lock_guard lock(mu_);
        stopping_ = true;
        std::vector<Ticket> all;
        for (const auto& [ticket, w] : waiters_) all.push_back(ticket);
        for (Ticket t : all) {
            Answer a = waiters_.at(t).last;
            a.stopping = true;
            Finish(t, std::move(a));
        }
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

Result<Awaits::Ticket> Awaits::Add(const SagaId& id, std::chrono::milliseconds timeout, Responder respond) {
    std::lock_guard lock(mu_);
    if (stopping_) return Status{ErrorCode::kUnavailable, "sagad is stopping; await again"};
    if (waiters_.size() >= max_waiters_) {
        return Status{ErrorCode::kResourceExhausted,
                      "too many callers await sagas (" + std::to_string(max_waiters_) + "); retry later"};
    }
    const Ticket t = next_++;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Answer last;
    last.saga_id = id;
    waiters_.emplace(t, Waiter{id, deadline, std::move(respond), std::move(last)});
    by_saga_.emplace(id, t);
    by_deadline_.emplace(deadline, t);
    wake_.notify_all();
    return t;
}

void Awaits::Seen(Ticket ticket, const std::optional<engine::SagaRecord>& saga) {
    std::lock_guard lock(mu_);
    auto it = waiters_.find(ticket);
    if (it == waiters_.end()) return;  // answered already (it ended meanwhile, or timed out)
    Answer& a = it->second.last;
    if (!saga) {
        Finish(ticket, a);  // status nullopt: no such saga
        return;
    }
    if (!a.status) {  // a fact may have told a later status already
        a.status = saga->status;
        a.reason = saga->failure_reason;
        a.context = saga->context;
    }
    if (engine::IsEnded(saga->status)) {
        a.status = saga->status;
        a.done = true;
        Finish(ticket, a);
    }
}

void Awaits::Observe(std::span<const engine::Fact> facts) {
    std::lock_guard lock(mu_);
    if (waiters_.empty()) return;
    bool any = false;
    for (const engine::Fact& f : facts) {
        if (f.kind != engine::Fact::Kind::kStatus) continue;
        auto [first, last] = by_saga_.equal_range(f.saga_id);
        if (first == last) continue;
        std::vector<Ticket> tickets;
        for (auto it = first; it != last; ++it) tickets.push_back(it->second);
        for (Ticket t : tickets) {
            Answer& a = waiters_.at(t).last;
            a.status = f.status;
            if (!engine::IsEnded(f.status)) continue;
            a.reason = f.failure_reason;
            a.context = f.context;
            a.done = true;
            Finish(t, a);
            any = true;
        }
    }
    if (any) wake_.notify_all();
}

std::size_t Awaits::waiting() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
}

void Awaits::Finish(Ticket ticket, Answer answer) {
    auto it = waiters_.find(ticket);
    if (it == waiters_.end()) return;
    Waiter w = std::move(it->second);
    waiters_.erase(it);
    for (auto [first, last] = by_saga_.equal_range(w.saga_id); first != last; ++first) {
        if (first->second == ticket) {
            by_saga_.erase(first);
            break;
        }
    }
    for (auto [first, last] = by_deadline_.equal_range(w.deadline); first != last; ++first) {
        if (first->second == ticket) {
            by_deadline_.erase(first);
            break;
        }
    }
    ready_.emplace_back(std::move(w.respond), std::move(answer));
}

void Awaits::Loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        const auto now = std::chrono::steady_clock::now();
        while (!by_deadline_.empty() && by_deadline_.begin()->first <= now) {
            const Ticket t = by_deadline_.begin()->second;
            Finish(t, waiters_.at(t).last);  // timed out: done stays false
        }
        while (!ready_.empty()) {
            auto [respond, answer] = std::move(ready_.front());
            ready_.pop_front();
            lock.unlock();
            try {
                respond(std::move(answer));
            } catch (const std::exception& e) {
                log::Error("await_answer_failed", {{"error", e.what()}});
            }
            lock.lock();
        }
        if (stopping_ && waiters_.empty() && ready_.empty()) return;
        if (by_deadline_.empty()) {
            wake_.wait(lock, [&] { return stopping_ || !ready_.empty() || !by_deadline_.empty(); });
        } else {
            const auto next = by_deadline_.begin()->first;
            wake_.wait_until(lock, next, [&] {
                return stopping_ || !ready_.empty() || by_deadline_.empty() || by_deadline_.begin()->first < next;
            });
        }
    }
}

}  // namespace sagaflow::sagad
