// The engine: the node's parts in one place (DESIGN §10). The `SagaService` changes sagas,
// one transaction per batch; the `Scheduler` holds due times on the monotonic clock; the
// `Dispatcher` is the one in-flight ledger, handing ready commands to workers with free
// capacity. The engine feeds each from the others: what a committed batch armed goes to
// the ledger (now, or at its due time), what the ledger handed over gets a deadline, and a
// deadline that passes goes back to the service as an event. Reads go through `Queries`.
//
// Sending and deadline tracking happen after commit and in memory; `Recover()` rebuilds
// them from the pending items. Not thread-safe: one thread (the node's loop) owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "dispatcher.hpp"
#include "saga_service.hpp"
#include "scheduler.hpp"

namespace sagaflow::engine {

class Engine {
public:
    Engine(const WorkflowRegistry& registry, SagaStore& store, WorkerChannel& channel,
           const Clock& clock, EngineOptions options = {});
    Engine(const Engine&) = delete;
    Engine& operator=(const Engine&) = delete;

    /// Starts a saga (see `SagaService::Start`).
    [[nodiscard]] Result<StartResult> Start(const StartRequest& request);
    /// Starts many sagas in one transaction (one commit for all); each request is
    /// answered as `Start` would answer it alone.
    [[nodiscard]] std::vector<Result<StartResult>> StartMany(const std::vector<StartRequest>& requests);
    /// As above with the input as JSON text; malformed JSON is kInvalidArgument.
    [[nodiscard]] Result<StartResult> Start(std::string_view workflow, std::string_view input_json,
                                            std::optional<BusinessKey> key = std::nullopt);

    /// Applies events in batches (see `SagaService::ApplyEvents`); one status per event.
    std::vector<Status> ApplyEvents(std::span<const Event> events);
    /// Replies, as events.
    Status ApplyReply(const Reply& reply);
    std::vector<Status> ApplyReplies(std::span<const Reply> replies);
    /// Starts compensation of a running or completed saga. kNotFound for an unknown
    /// saga, kFailedPrecondition in any other state. A command the saga awaits that was
    /// never handed to a worker is withdrawn in the same transaction (it cannot have run);
    /// one that may have run is awaited, then undone.
    Status Compensate(const SagaId& id, const std::string& reason, const Actor& by = {});
    /// Re-runs the compensation that failed, for a failed saga, or every parked node of a
    /// parked saga; kFailedPrecondition else.
    Status Retry(const SagaId& id, const std::string& reason = {}, const Actor& by = {});
    /// Any operator action (see `OperatorAction`): kNotFound for an unknown saga,
    /// kInvalidArgument for a bad node or output, kFailedPrecondition when the saga's
    /// state does not allow it (nothing written then).
    Status Operate(OperatorAction action);
    /// What a manual compensation would run now (see `SagaService::PreviewCompensation`).
    [[nodiscard]] Result<CompensationPreview> PreviewCompensation(const OperatorAction& action) {
        return service_.PreviewCompensation(action);
    }
    /// Sends a signal into a saga (see `SagaService::ApplyEvents` for the answers).
    Status Signal(SignalSent signal);

    /// Moves what is due into the lines, hands ready commands to free workers and applies
    /// every passed deadline. Returns how many commands it handed over or timed out.
    int Tick();
    /// Loads every pending item (on start-up, or after a commit in doubt) so its command is
    /// offered again and its deadline armed. Returns how many it loaded. Items of sagas
    /// whose workflow version is not registered, or whose node that version lacks, are left
    /// in the store, untouched, and counted in `unregistered()`.
    int Recover();
    /// From the last `Recover`: sagas waiting on a workflow version this registry lacks, by
    /// "name vN" (or on a node it lacks: "name vN, unknown node 'x'").
    [[nodiscard]] const std::map<std::string, std::size_t>& unregistered() const { return unregistered_; }
    /// When `Tick()` next has work, if ever.
    [[nodiscard]] std::optional<Timestamp> NextWakeup();
    /// Commands tracked in memory (waiting, ready to send or awaiting a reply).
    [[nodiscard]] std::size_t tracked() const { return dispatcher_.tracked(); }
    /// Timers and deadlines armed in memory.
    [[nodiscard]] std::size_t waits() const { return waits_.size(); }
    /// Due times held, live or left behind by an answered command: never more than twice
    /// the live ones plus `EngineOptions::spare_timers`.
    [[nodiscard]] std::size_t timers() const { return scheduler_.held(); }

    /// The in-flight ledger: the wire side tells it of workers and replies.
    [[nodiscard]] Dispatcher& dispatcher() { return dispatcher_; }

    /// The same reads as `Queries` (queries.hpp), for callers on the engine's thread.
    [[nodiscard]] Result<SagaView> Describe(const SagaId& id);
    /// Sagas matching `filter`, newest first.
    [[nodiscard]] std::vector<SagaRecord> List(const SagaFilter& filter);

private:
    /// What committed batches left: commands into the ledger, due now or at their time.
    void Apply(Effects effects);
    void Track(const PendingRecord& record, Command command, bool recovered);
    /// A timer or deadline: the scheduler alone holds it, and its due time becomes `WaitDue`.
    void ArmWait(const PendingRecord& item);
    Duration TimeoutOf(const Command& command) const;

    const WorkflowRegistry& registry_;
    SagaStore& store_;
    const Clock& clock_;
    EngineOptions options_;
    Dispatcher dispatcher_;
    Scheduler scheduler_;
    SagaService service_;
    std::unordered_set<MsgId> waits_;  ///< The timers and deadlines the scheduler holds.
    bool resync_ = false;
    std::map<std::string, std::size_t> unregistered_;
};

}  // namespace sagaflow::engine
