// The Scheduler: due times in memory, on the monotonic clock (DESIGN §10). Each key (a
// command's msg id) has at most one live due time; arming it again replaces it, and
// cancelling forgets it. What the time means (send now, or the reply is overdue) is the
// caller's; the Scheduler only says which keys are due.
//
// Everything it holds is rebuilt from the store's pending items after a restart.
// Not thread-safe: the node's loop thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <queue>
#include <unordered_map>
#include <vector>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/ids.hpp"

namespace sagaflow::engine {

class Scheduler {
public:
    /// `spare`: entries left behind by replaced or cancelled due times that are kept,
    /// beyond twice the live ones, before they are dropped in one pass.
    explicit Scheduler(const Clock& clock, std::size_t spare = 1024) : clock_(clock), spare_(spare) {}

    /// `key` is due at wall time `at` (measured from now on the monotonic clock, so a
    /// wall-clock jump moves nothing).
    void ArmAt(const MsgId& key, Timestamp at);
    /// `key` is due after `delay`.
    void ArmIn(const MsgId& key, Duration delay);
    void Cancel(const MsgId& key) { live_.erase(key); }
    [[nodiscard]] bool Armed(const MsgId& key) const { return live_.contains(key); }

    /// The keys due by now, earliest first; each is disarmed.
    [[nodiscard]] std::vector<MsgId> TakeDue();
    /// When the earliest live key is due, as wall time; nullopt when none is armed.
    [[nodiscard]] std::optional<Timestamp> Next();

    [[nodiscard]] std::size_t live() const { return live_.size(); }
    /// Entries held, live or left behind: never more than twice `live()` plus `spare`.
    [[nodiscard]] std::size_t held() const { return heap_.size(); }

private:
    struct Entry {
        SteadyTime due;
        MsgId key;
        std::uint64_t generation;
        bool operator>(const Entry& o) const { return due > o.due; }
    };
    /// A min-heap that can drop the entries no longer wanted in one pass.
    struct Heap : std::priority_queue<Entry, std::vector<Entry>, std::greater<>> {
        template <class Pred>
        void DropIf(Pred stale) {
            std::erase_if(c, stale);
            std::make_heap(c.begin(), c.end(), comp);
        }
    };
    [[nodiscard]] bool Live(const Entry& e) const;

    const Clock& clock_;
    std::size_t spare_;
    Heap heap_;
    std::unordered_map<MsgId, std::uint64_t> live_;  ///< key -> generation of its live entry
    std::uint64_t next_generation_ = 1;
};

}  // namespace sagaflow::engine
