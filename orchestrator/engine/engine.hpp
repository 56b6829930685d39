// The saga engine: runs every saga of the registered workflows against a `SagaStore`,
// sending commands through a `CommandSink`.
//
// Each operation is one store transaction holding the state change, its pending items
// and one history row of its events (DESIGN §4, T1 and T3). The Plan walks the workflow
// graph; the Boost.MSM lifecycle decides the saga's status from the Plan's signals. Replies and deadlines are applied in
// batches: one transaction serves every item of a batch. Sending and deadline tracking
// happen after commit and in memory; `Recover()` rebuilds them from the pending items.
//
// Not thread-safe: one thread (the daemon's engine loop) owns an engine.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <queue>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "command.hpp"
#include "lifecycle.hpp"
#include "plan.hpp"
#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/workflow/workflow.hpp"
#include "saga_store.hpp"

namespace sagaflow::engine {

struct EngineOptions {
    /// Seed for backoff jitter; 0 draws one from the OS.
    std::uint64_t seed = 0;
    /// How often one unit of work is retried on kAborted / kUnavailable.
    int max_tx_attempts = 5;
    /// When the sink refuses a command, how long until it is offered again.
    Duration resend_when_refused = std::chrono::milliseconds(100);
    /// Most items one transaction applies; larger batches are split.
    int max_batch = 512;
    /// Timers of answered commands kept, beyond twice the tracked commands, before they
    /// are dropped in one pass.
    std::size_t spare_timers = 1024;
};

struct StartRequest {
    std::string workflow;
    std::optional<int> version;  ///< Latest when unset.
    nlohmann::json input = nlohmann::json::object();
    std::optional<BusinessKey> business_key;
};

struct StartResult {
    SagaId saga_id;
    bool created = false;  ///< False when the business key named an existing saga.
};

/// A saga with its pending items, step attempts and history, for inspection.
struct SagaView {
    SagaRecord saga;
    std::vector<PendingRecord> pending;
    std::vector<AttemptRecord> attempts;  ///< Read from the history's replied and timed_out events.
    std::vector<HistoryEvent> history;
};

/// Why a saga of a workflow version the registry lacks does not move (for `show`).
[[nodiscard]] std::string UnregisteredReason(const SagaRecord& saga);

/// The attempts recorded in a saga's history, oldest first.
[[nodiscard]] std::vector<AttemptRecord> AttemptsFrom(const std::vector<HistoryEvent>& history);

class Engine {
public:
    Engine(const WorkflowRegistry& registry, SagaStore& store, CommandSink& sink,
           const Clock& clock, EngineOptions options = {});
    ~Engine();
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// Starts a saga, or returns the existing one for the same (workflow, business key).
    /// Errors: kNotFound (unknown workflow or version), kInvalidArgument (input is not
    /// a JSON object); nothing is written then.
    [[nodiscard]] Result<StartResult> Start(const StartRequest& request);
    /// Starts many sagas in one transaction (one commit for all); each request is
    /// answered as `Start` would answer it alone.
    [[nodiscard]] std::vector<Result<StartResult>> StartMany(const std::vector<StartRequest>& requests);
    /// As above with the input as JSON text; malformed JSON is kInvalidArgument.
    [[nodiscard]] Result<StartResult> Start(std::string_view workflow, std::string_view input_json,
                                            std::optional<BusinessKey> key = std::nullopt);

    /// Applies a worker's reply. Idempotent. Ok when applied; kFailedPrecondition when
    /// the saga does not await this msg id (a duplicate or late reply: the saga is left
    /// as it was, and the reply is recorded in its history); kNotFound for an unknown
    /// msg id (nothing written); kInvalidArgument when `reply.saga_id` is not the
    /// command's saga (forged; nothing written).
    Status ApplyReply(const Reply& reply);
    /// The same for many replies in one transaction; one status per reply, in order.
    std::vector<Status> ApplyReplies(std::span<const Reply> replies);

    /// Starts compensation of a running or completed saga. kNotFound for an unknown
    /// saga, kFailedPrecondition in any other state. A command the saga awaits that was
    /// never handed to a worker is withdrawn in the same transaction (it cannot have run);
    /// one that may have run is awaited, then undone.
    Status Compensate(const SagaId& id, const std::string& reason);
    /// Re-runs the compensation that failed, for a failed saga; kFailedPrecondition else.
    Status Retry(const SagaId& id);

    /// Sends the commands that are due and handles every passed deadline.
    /// Returns how many commands it sent or timed out.
    int Tick();
    /// Loads every pending item (on start-up, or after a commit in doubt) so its command is
    /// offered again and its deadline armed. Returns how many it loaded. Items of sagas
    /// whose workflow version is not registered, or whose node that version lacks, are left
    /// in the store, untouched, and counted in `unregistered()`.
    int Recover();
    /// From the last `Recover`: sagas waiting on a workflow version this registry lacks, by
    /// "name vN" (or on a node it lacks: "name vN, unknown node 'x'").
    [[nodiscard]] const std::map<std::string, std::size_t>& unregistered() const { return unregistered_; }
    /// Offers again, at the next `Tick()`, every command the sink refused for want of
    /// capacity. The dispatcher's loop calls it when capacity frees up.
    void OfferRefusedNow();
    /// When `Tick()` next has work, if ever.
    [[nodiscard]] std::optional<Timestamp> NextWakeup();
    /// Commands tracked in memory (waiting to be sent or awaiting a reply).
    [[nodiscard]] std::size_t tracked() const { return tracked_.size(); }
    /// Timers held, live or left behind by an answered command: never more than twice
    /// `tracked()` plus `EngineOptions::spare_timers`.
    [[nodiscard]] std::size_t timers() const { return timers_.size(); }

    /// The same reads as `Queries` (queries.hpp), for callers on the engine's thread.
    [[nodiscard]] Result<SagaView> Describe(const SagaId& id);
    /// Sagas matching `filter`, newest first.
    [[nodiscard]] std::vector<SagaRecord> List(const SagaFilter& filter);

private:
    enum class Stage { kWaitingToSend, kInFlight };
    struct Tracked {
        PendingRecord record;
        Command command;
        Stage stage = Stage::kWaitingToSend;
        Timestamp due{};
        std::optional<Timestamp> sent_at;
        /// Loaded from the store at start-up: an earlier process may have sent it.
        bool recovered = false;
        std::uint64_t generation = 0;
    };
    struct Timer {
        Timestamp due;
        MsgId msg_id;
        std::uint64_t generation;
        bool operator>(const Timer& o) const { return due > o.due; }
    };
    /// A min-heap of timers that can drop the ones no longer wanted in one pass.
    struct TimerQueue : std::priority_queue<Timer, std::vector<Timer>, std::greater<>> {
        template <class Pred>
        void DropIf(Pred stale) {
            std::erase_if(c, stale);
            std::make_heap(c.begin(), c.end(), comp);
        }
    };
    /// What a transaction leaves for after its commit: commands to track or forget.
    struct AfterCommit {
        std::vector<std::pair<PendingRecord, Command>> track;
        std::vector<MsgId> forget;
    };
    /// One event on one saga, as the engine applies it (see `Advance`).
    struct Move {
        std::optional<LifecycleEvent> first;  ///< Decided before the Plan walks (begin, operators).
        PlanEvent event;
        std::optional<PendingRecord> answered;  ///< The pending item this event resolves.
        std::vector<PendingRecord> withdrawn;   ///< Never sent: dropped (a manual compensation).
        std::string reason;                     ///< Why, should the saga leave the happy path.
        std::vector<HistoryEvent> events;       ///< What the history records before the walk.
    };
    /// Runs `fn` in a transaction and commits, retrying retryable failures; then applies
    /// what it left for after the commit. `fn` must be safe to run again.
    void RunTx(const std::function<void(StoreTx&, AfterCommit&)>& fn);
    const Workflow* WorkflowOf(const SagaRecord& saga) const;
    const Plan& PlanOf(const Workflow& wf);
    /// Applies `move` to `saga` in `tx`: the lifecycle decides `first`, the Plan walks the
    /// event, the lifecycle decides each of the Plan's signals; then the saga row, its
    /// pending items and one history row are written. False, writing nothing, when the
    /// lifecycle refuses `first` or the Plan refuses the event.
    bool Advance(StoreTx& tx, SagaRecord& saga, Move move, AfterCommit& after);
    /// Compensate and Retry: one operator event on one saga, refused outside `allowed`.
    Status Operate(const SagaId& id, LifecycleEvent event, HistoryEvent requested,
                   const std::string& reason, const std::string& allowed);
    std::vector<HistoryEvent> SentEvents(const PendingRecord& item) const;
    static std::string CompensationCause(StoreTx& tx, const SagaId& id);
    Status ApplyOneReply(StoreTx& tx, const Reply& reply, AfterCommit& after);
    void ApplyDeadline(StoreTx& tx, const MsgId& id, int attempt, AfterCommit& after);
    void Track(const PendingRecord& record, Command command);
    /// True when no worker can have seen this command: this process queued it and never
    /// handed it over.
    [[nodiscard]] bool SurelyUnsent(const MsgId& id) const;
    void Arm(Tracked& t, Timestamp due);
    /// The tracked command whose live timer `timer` is; nullptr when it was answered or
    /// re-armed since.
    Tracked* Owner(const Timer& timer);
    void Apply(const AfterCommit& after);
    HistoryEvent Event(const SagaRecord& saga, std::string kind) const;
    HistoryEvent Event(const PendingRecord& item, std::string kind) const;
    Duration TimeoutOf(const Command& command) const;
    double NextUnitRandom();

    const WorkflowRegistry& registry_;
    SagaStore& store_;
    CommandSink& sink_;
    const Clock& clock_;
    EngineOptions options_;
    std::mt19937_64 rng_;
    std::map<const Workflow*, Plan> plans_;
    std::unordered_map<MsgId, Tracked> tracked_;
    TimerQueue timers_;
    std::uint64_t next_generation_ = 1;
    bool resync_ = false;
    std::vector<MsgId> refused_;
    std::map<std::string, std::size_t> unregistered_;
};

}  // namespace sagaflow::engine
