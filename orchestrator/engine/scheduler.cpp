#include "scheduler.hpp"

#include <algorithm>

namespace sagaflow::engine {

bool Scheduler::Live(const Entry& e) const {
    auto it = live_.find(e.key);
    return it != live_.end() && it->second == e.generation;
}

void Scheduler::ArmAt(const MsgId& key, Timestamp at) {
    ArmIn(key, std::max(Duration::zero(), std::chrono::duration_cast<Duration>(at - clock_.Now())));
}

void Scheduler::ArmIn(const MsgId& key, Duration delay) {
    const std::uint64_t generation = next_generation_++;
    live_[key] = generation;
    heap_.push(Entry{clock_.Monotonic() + delay, key, generation});
    // A command answered before its deadline leaves that entry behind until it would
    // have fired (30 s by default): thousands under load. Drop them once they outnumber
    // the live ones, so memory follows the commands in flight, not rate x timeout.
    if (heap_.size() > 2 * live_.size() + spare_) {
        heap_.DropIf([this](const Entry& e) { return !Live(e); });
    }
}

std::vector<MsgId> Scheduler::TakeDue() {
    const SteadyTime now = clock_.Monotonic();
    std::vector<MsgId> due;
    while (!heap_.empty() && heap_.top().due <= now) {
        const Entry e = heap_.top();
        heap_.pop();
        if (!Live(e)) continue;
        live_.erase(e.key);
        due.push_back(e.key);
    }
    return due;
}

std::optional<Timestamp> Scheduler::Next() {
    while (!heap_.empty() && !Live(heap_.top())) heap_.pop();
    if (heap_.empty()) return std::nullopt;
    return clock_.Now() + std::chrono::duration_cast<Duration>(heap_.top().due - clock_.Monotonic());
}

}  // namespace sagaflow::engine
