// The Dispatcher: the one in-flight ledger (DESIGN §10). It holds every command the node
// tracks, from armed to answered, and the workers with their queues and free capacity.
// A command that is due joins its queue's line; `Pump` hands the lines' heads to the
// least-loaded live worker serving that queue (and the command's action) with a free slot,
// and to no one else. A command no worker can take waits in its line, untouched, until a
// slot frees up: nothing is refused and offered again later. A command whose action no
// live worker serves at all waits too, without holding up the commands behind it.
//
// Pure: the wire is behind `WorkerChannel` (ZeroMQ in sagad, a fake in tests). All of it
// is rebuilt from the store's pending items after a restart. Not thread-safe: the node's
// loop thread owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "command.hpp"
#include "saga_service.hpp"
#include "sagaflow/core/clock.hpp"

namespace sagaflow::engine {

/// Where commands leave for a worker.
class WorkerChannel {
public:
    virtual ~WorkerChannel() = default;
    /// Hands `command` to worker `worker`. False when that worker cannot be reached: it
    /// is then taken out of the ledger, and the command goes to another.
    [[nodiscard]] virtual bool Deliver(const std::string& worker, const Command& command) = 0;
};

/// A live worker as the ledger knows it.
struct WorkerSlot {
    std::string id;
    std::vector<std::string> queues;
    /// The actions it serves, per queue, as its hello named them; a queue not in the map
    /// (one handler for the whole queue, or a worker that names none) serves every action.
    std::map<std::string, std::set<std::string>> actions;
    int capacity = 0;
    int in_flight = 0;
    Timestamp last_seen{};

    [[nodiscard]] bool Serves(const std::string& queue, const std::string& action) const;
};

/// Ready commands of an action that no live worker serves (its queue's workers name other
/// actions, or it has none): they wait, and are reported.
struct UnservedAction {
    std::string queue;
    std::string action;
    std::size_t commands = 0;
    std::optional<Timestamp> oldest;  ///< when the oldest of them was armed
};

/// A command `Pump` handed to a worker: its deadline is to be watched.
struct Delivered {
    MsgId msg_id;
    Timestamp deadline;
};

/// What /metrics shows of the ledger, read in one pass.
struct LedgerGauges {
    std::size_t tracked = 0;
    std::size_t in_flight = 0;
    std::size_t sagas = 0;  ///< distinct sagas with a tracked command: the sagas in flight
    std::optional<Timestamp> oldest;  ///< when the oldest tracked command was armed
    struct Queue {
        std::size_t ready = 0;  ///< due, waiting for a worker
        int workers = 0;
        int free = 0;  ///< free capacity over its workers
    };
    std::map<std::string, Queue> queues;
    std::vector<UnservedAction> unserved;  ///< by queue, then action
};


class Dispatcher final : public Deliveries {
public:
    enum class Stage {
        kWaiting,   ///< armed for later (a retry's backoff)
        kReady,     ///< due: in its queue's line
        kInFlight,  ///< handed to a worker, awaiting its reply
    };
    struct Entry {
        PendingRecord record;
        Command command;
        Duration timeout{};  ///< per attempt, from handing over to the deadline
        Stage stage = Stage::kWaiting;
        std::string worker;  ///< kInFlight: to whom (empty once that worker is gone)
        std::optional<Timestamp> sent_at;
        bool recovered = false;  ///< loaded from the store: an earlier process may have sent it
        std::uint64_t line_ticket = 0;
        bool unserved_reported = false;  ///< this attempt was reported unserved
    };

    Dispatcher(WorkerChannel& channel, const Clock& clock) : channel_(channel), clock_(clock) {}

    // --- workers
    /// A worker announced itself (hello or heartbeat), serving `queues` with `capacity`;
    /// `actions`: what it serves of them, per queue (see WorkerSlot::actions).
    void Join(const std::string& id, std::vector<std::string> queues, int capacity,
              std::map<std::string, std::set<std::string>> actions = {});
    /// Heard from `id`; false when it is not a live worker.
    bool Seen(const std::string& id);
    [[nodiscard]] bool Knows(const std::string& id) const { return workers_.contains(id); }
    /// Takes out the workers not heard from since `cutoff`; returns their ids. What they
    /// had in flight stays in flight until its deadline, then goes to another worker.
    std::vector<std::string> ExpireSilent(Timestamp cutoff);
    [[nodiscard]] std::vector<WorkerSlot> Workers() const;
    /// Takes `worker` out (refused, or its connection replaced); what it had in flight is
    /// nobody's: its replies are late, and the deadlines resend.
    void Leave(const std::string& worker);

    // --- commands
    /// Tracks `record`'s command (new, or re-armed for another attempt); it waits until
    /// `MakeReady`. `timeout` is its attempt's.
    void Hold(const PendingRecord& record, Command command, Duration timeout, bool recovered = false);
    /// Its time has come: into its queue's line. A resend (its earlier delivery got no
    /// reply in time) frees that delivery's slot first.
    void MakeReady(const MsgId& id);
    /// Answered or withdrawn: no longer tracked, its slot freed.
    void Forget(const MsgId& id);
    /// A reply for `id` came from `worker`. True when the command is in flight to that
    /// worker (its slot is freed); false when it is not: a late reply.
    bool Answered(const MsgId& id, const std::string& worker);
    /// Hands ready commands to workers with free capacity, each line in order. A line whose
    /// queue has no worker waits. A command whose queue's workers all serve other actions is
    /// set aside (the commands behind it go on) until a worker that serves it joins, and is
    /// reported once per attempt to `TakeUnserved`.
    std::vector<Delivered> Pump();
    /// The commands `Pump` newly found unserved since the last call (events for their sagas).
    [[nodiscard]] std::vector<Unserved> TakeUnserved();
    /// Its report did not land (the store was down): report it again.
    void Unreport(const MsgId& id);

    [[nodiscard]] const Entry* Find(const MsgId& id) const;
    /// Every tracked command's msg id, in no particular order.
    [[nodiscard]] std::vector<MsgId> TrackedIds() const;
    /// Commands tracked (waiting, ready or in flight).
    [[nodiscard]] std::size_t tracked() const { return entries_.size(); }
    /// Commands due that no worker has taken yet.
    [[nodiscard]] std::size_t ready() const { return ready_; }
    /// One pass over the ledger for the metrics endpoint.
    [[nodiscard]] LedgerGauges Gauges() const;
    /// True when `Pump` would hand something over: a line whose queue has a free worker.
    [[nodiscard]] bool Deliverable() const;

    // --- Deliveries
    [[nodiscard]] std::optional<Timestamp> SentAt(const MsgId& id) const override;
    [[nodiscard]] bool SurelyUnsent(const MsgId& id) const override;

private:
    void FreeSlot(Entry& e);
    /// The least-loaded live worker serving `action` of `queue` with a free slot, or nullptr.
    WorkerSlot* FreeWorker(const std::string& queue, const std::string& action);
    [[nodiscard]] bool HasFreeWorker(const std::string& queue, const std::string& action) const;
    /// Some live worker serves `action` of `queue`, free or not.
    [[nodiscard]] bool AnyServes(const std::string& queue, const std::string& action) const;
    /// Some live worker serves `queue`.
    [[nodiscard]] bool HasWorkers(const std::string& queue) const;
    /// Puts back into their lines the commands set aside that a live worker now serves.
    void Unpark();

    WorkerChannel& channel_;
    const Clock& clock_;
    std::unordered_map<MsgId, Entry> entries_;
    std::map<std::string, WorkerSlot> workers_;  // by id
    struct Ticket {
        MsgId msg_id;
        std::uint64_t ticket;
    };
    std::map<std::string, std::deque<Ticket>> lines_;  // by queue
    // Ready commands whose queue has workers, none of which serves their action, by
    // (queue, action): out of their line, so that they hold up nothing behind them.
    std::map<std::pair<std::string, std::string>, std::deque<Ticket>> aside_;
    std::uint64_t next_ticket_ = 1;
    std::size_t ready_ = 0;
    std::vector<Unserved> unserved_;
};

}  // namespace sagaflow::engine
