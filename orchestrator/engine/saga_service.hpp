// The SagaService: every change to a saga, as store transactions (DESIGN §10).
//
// Two entries: `Start`, and `ApplyEvents` for everything that happens to running sagas
// (worker replies, passed deadlines, operator actions). Each batch is one transaction
// holding the state changes, their pending items and one history row per saga (DESIGN §4,
// T1 and T3); a batch of one is the same path. The Plan walks the workflow graph; the
// Boost.MSM lifecycle decides the saga's status from the Plan's signals.
//
// What a committed batch leaves for memory (commands to track, pending items resolved)
// comes back as `Effects`; the service itself keeps no state between batches. A commit
// in doubt (`CommitInDoubt`) is never run again: starts are resolved by re-reading their
// sagas, events answer kUnavailable and the caller re-reads the pending items (`resync`).
//
// Not thread-safe: one thread (the node's loop) calls it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <span>
#include <string_view>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "command.hpp"
#include "lifecycle.hpp"
#include "plan.hpp"
#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/workflow/workflow.hpp"
#include "saga_store.hpp"

namespace sagaflow::engine {

class Observer;

struct EngineOptions {
    /// Seed for backoff jitter; 0 draws one from the OS.
    std::uint64_t seed = 0;
    /// How often one unit of work is retried on kAborted / kUnavailable.
    int max_tx_attempts = 5;
    /// When a batch of deadlines could not be applied (the store is down), how long until
    /// they are tried again.
    Duration retry_after_store_error = std::chrono::milliseconds(100);
    /// Most items one transaction applies; larger batches are split.
    int max_batch = 512;
    /// Due times left behind by answered commands kept, beyond twice the live ones,
    /// before they are dropped in one pass (see `Scheduler`).
    std::size_t spare_timers = 1024;
    /// Record an alert (`AlertRecord`) in the transaction that moves a saga to failed, for
    /// the webhook sender; off when no webhook is configured, so none pile up.
    bool record_alerts = false;
    /// Hears what each committed batch did (metrics, logs); not owned; may be null.
    Observer* observer = nullptr;
};

/// Who asked for a start or an operator action, for the history (the audit trail): the
/// API token's name and the client's address.
struct Actor {
    std::string name;    ///< the token's name; "anonymous" when the API takes no tokens
    std::string remote;  ///< "address:port" of the client
};

struct StartRequest {
    std::string workflow;
    std::optional<int> version = std::nullopt;  ///< Latest when unset.
    nlohmann::json input = nlohmann::json::object();
    std::optional<BusinessKey> business_key = std::nullopt;
    std::optional<TraceId> trace_id = std::nullopt;  ///< The caller's trace (W3C traceparent); a new one when unset.
    std::optional<Actor> by = std::nullopt;          ///< Through the API: who, for the history.
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
    std::vector<SignalRecord> signals;    ///< Every signal it received, in order.
};

/// The webhook's event for a saga that stopped in `status` (failed or parked: an operator
/// is needed) for `reason`: event `saga_failed` or `saga_parked`.
[[nodiscard]] AlertRecord OperatorAlert(const SagaRecord& saga, SagaStatus status, const std::string& reason,
                                        Timestamp now);

/// Why a saga of a workflow version the registry lacks does not move (for `show`).
[[nodiscard]] std::string UnregisteredReason(const SagaRecord& saga);

/// Records who asked (`by`, `from`) in an event's detail: the audit trail.
void Stamp(HistoryEvent& e, const Actor& by);

/// The attempts recorded in a saga's history, oldest first.
[[nodiscard]] std::vector<AttemptRecord> AttemptsFrom(const std::vector<HistoryEvent>& history);

/// A command's attempt got no reply by its deadline.
struct DeadlinePassed {
    MsgId msg_id;
    int attempt = 1;
};

/// An operator's request on one saga.
struct OperatorAction {
    enum class Kind {
        kCompensate,  ///< Undo what is done (running, parked or completed sagas).
        kRetry,       ///< Failed: re-run the stuck compensations. Parked: re-run `node` (empty:
                      ///< every parked node) with a fresh attempt budget.
        kResume,      ///< Parked only: re-run `node` (empty: every parked node), as kRetry does.
        kSkip,        ///< Mark parked or running `node` done with `output`, as if it succeeded.
        kCancel,      ///< Stop without compensating (a reason is required): cancelled.
        kResolve,     ///< Close a case settled outside the system as `resolve_to` (completed
                      ///< or compensated; a reason is required; a running or compensating
                      ///< saga needs `force`).
    };
    Kind kind = Kind::kCompensate;
    SagaId saga_id;
    std::string reason;  ///< Why (for the history; kCompensate: and the saga row).
    Actor by{};          ///< Who asked.
    std::string node;    ///< kRetry and kResume of a parked saga, kSkip.
    /// kCompensate: undo only this node and what completed before it; empty: everything.
    std::string from_node;
    /// kSkip: joins the context as the node's output; null (not given): `{}`, refused when
    /// a later node reads the node's output (`Workflow::readers_of`).
    nlohmann::json output;
    bool force = false;  ///< kCompensate past a pivot, kResolve of a saga still moving.
    SagaStatus resolve_to = SagaStatus::kCompleted;  ///< kResolve.
    std::string bulk_job;  ///< Taken as one saga of this bulk job (for the history).
};

/// One page of a bulk job (`BulkJob`): its sagas' actions, each applied and recorded as if
/// asked alone, and the job's progress, in one transaction. ok, with "applied N, refused
/// M" (a saga whose state no longer allows the action is refused and counted); kNotFound
/// for an unknown job; kAborted when the job is not where the page was read from (`from`:
/// another page moved it, or it finished): read it again.
struct BulkPage {
    std::string job_id;
    std::optional<SagaCursor> from;  ///< The job's cursor the page was listed after.
    std::vector<OperatorAction> actions;
    std::optional<SagaCursor> last;  ///< The page's last saga: the job's cursor after it.
    bool final = false;              ///< No saga is left after it: the job is finished.
};

/// The action's word: compensate, retry, resume, skip, cancel, resolve (history, logs, metrics).
[[nodiscard]] std::string_view ToString(OperatorAction::Kind kind) noexcept;

/// What a compensation would do now (`SagaService::PreviewCompensation`).
struct CompensationPreview {
    SagaRecord saga;
    /// Unset when the compensation would be refused (`refused` says why).
    std::optional<Plan::Preview> plan;
    std::optional<Status> refused;
};

/// A ready command whose action no live worker serves: it waits (it was never sent, so
/// no deadline runs), and its saga's history says why, once per attempt.
struct Unserved {
    MsgId msg_id;
    std::string queue;
    std::string action;
};

/// A timer's or a node deadline's due time came (pending item `id`).
struct WaitDue {
    MsgId id;
};

/// A signal from outside for one saga. Applied once per (saga, `id`): the same id again
/// answers kAlreadyExists and changes nothing.
struct SignalSent {
    SagaId saga_id;
    std::string name;
    std::string id;  ///< The sender's id for it, 1-128 of [A-Za-z0-9_.-].
    nlohmann::json payload = nlohmann::json::object();
    Actor by{};
};

/// The most a signal's payload may hold, as JSON text.
inline constexpr std::size_t kMaxSignalPayloadBytes = 256 * 1024;

/// What an applied signal did, as the message of its ok status.
inline constexpr std::string_view kSignalDelivered = "delivered";  ///< a wait took it
inline constexpr std::string_view kSignalKept = "kept";            ///< kept for a wait to come

/// One thing that happened to a running saga.
using Event = std::variant<Reply, DeadlinePassed, OperatorAction, Unserved, WaitDue, SignalSent, BulkPage>;

/// What the delivery side knows of a command, which the history and manual compensation
/// need (the `Dispatcher` answers).
class Deliveries {
public:
    virtual ~Deliveries() = default;
    /// When this process handed it to a worker; nullopt when it did not (or not yet).
    [[nodiscard]] virtual std::optional<Timestamp> SentAt(const MsgId& id) const = 0;
    /// True when no worker can have seen it: this process queued it and never handed it over.
    [[nodiscard]] virtual bool SurelyUnsent(const MsgId& id) const = 0;
};

/// One thing a committed batch did, for metrics and logs: reported only once it
/// committed, so a rolled-back attempt is never counted.
struct Fact {
    enum class Kind {
        kStarted,       ///< a saga was created
        kStatus,        ///< a saga's status changed (to `status`, for `reason`)
        kAttempt,       ///< a command's attempt ended with `outcome` (ok, fail, retry, timeout)
        kRetry,         ///< a command is to be sent again after a backoff
        kIgnoredReply,  ///< a reply its saga did not await (duplicate, late, stale)
        kOperator,      ///< an operator's compensate or retry was applied
        kStoreTx,       ///< one store transaction committed, in `latency`
    };
    Kind kind = Kind::kStarted;
    std::string workflow;
    SagaId saga_id;     ///< for logs; never a metric label
    TraceId trace_id;   ///< for logs
    SagaStatus status = SagaStatus::kRunning;
    std::string node;   ///< the step's node id
    Phase phase = Phase::kForward;
    std::string outcome;
    std::optional<MsgId> msg_id;
    Duration latency{0};  ///< kStatus: since the saga was created; kAttempt: since sent (0 if unknown)
    std::string reason;
    /// kStatus to an ended status (`IsEnded`): the saga's context and failure reason, for
    /// whoever awaits it.
    nlohmann::json context;
    std::string failure_reason;
};

/// True for the statuses a caller waiting for a saga's result stops at: completed,
/// compensated, and failed or parked (it then waits for an operator).
[[nodiscard]] constexpr bool IsEnded(SagaStatus s) noexcept {
    return IsTerminal(s) || s == SagaStatus::kFailed || s == SagaStatus::kParked;
}

/// True for the statuses a child saga's parent moves on at: ended, but not parked (an
/// operator is fixing the child; its parent waits for the outcome).
[[nodiscard]] constexpr bool IsChildOutcome(SagaStatus s) noexcept { return IsEnded(s) && s != SagaStatus::kParked; }

/// Hears the facts of every committed batch, on the thread that ran it.
class Observer {
public:
    virtual ~Observer() = default;
    virtual void Observe(std::span<const Fact> facts) = 0;
};

/// Tells several observers, in order.
class Observers final : public Observer {
public:
    explicit Observers(std::vector<Observer*> all) : all_(std::move(all)) {}
    void Observe(std::span<const Fact> facts) override {
        for (Observer* o : all_) o->Observe(facts);
    }

private:
    std::vector<Observer*> all_;
};

/// What committed batches leave for memory, in order.
struct Effects {
    std::vector<std::pair<PendingRecord, Command>> track;  ///< armed or re-armed commands
    std::vector<PendingRecord> due;                        ///< armed timers and deadlines
    std::vector<MsgId> forget;                             ///< resolved pending items
    std::vector<Fact> facts;                               ///< for the `Observer`
    bool resync = false;  ///< a commit was in doubt: reload the pending items from the store
};

class SagaService {
public:
    SagaService(const WorkflowRegistry& registry, SagaStore& store, const Clock& clock,
                const Deliveries& deliveries, EngineOptions options = {});

    /// Starts sagas, in one transaction; each request is answered as it would be alone:
    /// the new saga, or the existing one for the same (workflow, business key). Errors:
    /// kNotFound (unknown workflow or version), kInvalidArgument (input is not a JSON
    /// object, bad business key), kAlreadyExists (the key names a saga with another input);
    /// nothing is written for those.
    [[nodiscard]] std::vector<Result<StartResult>> Start(std::span<const StartRequest> requests, Effects& effects);

    /// Applies events, one transaction per `max_batch`; one status per event, in order.
    /// Reply: ok when applied; kFailedPrecondition when the saga does not await this msg
    /// id (a duplicate or late reply: recorded in its history, the saga unchanged) or its
    /// version is unregistered; kNotFound for an unknown msg id; kInvalidArgument when it
    /// names another saga than its command's (forged; nothing written). Deadline: always
    /// ok (one that lost the race to a reply changes nothing). Operator: kNotFound for an
    /// unknown saga, kFailedPrecondition when its state does not allow the action.
    /// Unserved: always ok (a history event on a saga that still awaits the command).
    /// WaitDue: always ok (a timer or deadline that lost the race changes nothing).
    /// SignalSent: ok with message `kSignalDelivered` or `kSignalKept`; kAlreadyExists for
    /// a signal id applied before; kNotFound for an unknown saga and kInvalidArgument for
    /// a bad name, id or payload (nothing written); kFailedPrecondition for a saga that is
    /// not running and kInvalidArgument for a signal no wait of its workflow names (both
    /// recorded in its history).
    /// kUnavailable for every event of a batch whose commit was in doubt. Throws `Error`
    /// when the store keeps failing.
    [[nodiscard]] std::vector<Status> ApplyEvents(std::span<const Event> events, Effects& effects);

    /// What `action` (a kCompensate, maybe with `from_node`) would run were it applied now
    /// and every compensation to succeed, writing nothing: the Plan's walk on a copy of the
    /// saga (`Plan::PreviewCompensation`), after the same checks as the action itself.
    /// kNotFound for an unknown saga, kInvalidArgument for a bad `from_node`; a refusal the
    /// saga's state makes comes back in `refused`.
    [[nodiscard]] Result<CompensationPreview> PreviewCompensation(const OperatorAction& action);

private:
    /// Why a manual compensation of `saga` as `action` asks is refused, or ok: its status,
    /// a passed pivot without force, a bad `from_node`. The one set of checks for the
    /// action and its preview.
    Status CompensationRefused(const SagaRecord& saga, const Workflow& wf, const OperatorAction& action);
    /// The forward commands of running `saga` that no worker can have seen: a manual
    /// compensation withdraws them.
    std::vector<PendingRecord> Withdrawable(StoreTx& tx, const SagaRecord& saga) const;

    /// One event on one saga, as `Advance` applies it.
    struct Move {
        std::optional<LifecycleEvent> first;  ///< Decided before the Plan walks (begin, operators).
        PlanEvent event;
        std::optional<PendingRecord> answered;  ///< The pending item this event resolves.
        std::vector<PendingRecord> withdrawn;   ///< Never sent: dropped (a manual compensation).
        std::string reason;                     ///< Why, should the saga leave the happy path.
        std::vector<HistoryEvent> events;       ///< What the history records before the walk.
        std::optional<Actor> by;                ///< A start's: who asked.
    };
    enum class Outcome { kCommitted, kInDoubt };
    /// Runs `fn` in a transaction and commits, running it again on a retryable failure
    /// before the commit; `fn` must be safe to run again then. A commit in doubt is not
    /// run again: kInDoubt, and `effects.resync` is set.
    Outcome RunTx(const std::function<void(StoreTx&, Effects&)>& fn, Effects& effects);
    const Workflow* WorkflowOf(const SagaRecord& saga) const;
    const Plan& PlanOf(const Workflow& wf);
    /// Applies `move` to `saga` in `tx`: the lifecycle decides `first`, the Plan walks the
    /// event, the lifecycle decides each of the Plan's signals; then the saga row, its
    /// pending items and one history row are written. False, writing nothing, when the
    /// lifecycle refuses `first` or the Plan refuses the event.
    bool Advance(StoreTx& tx, SagaRecord& saga, Move move, Effects& after);
    Status ApplyOne(StoreTx& tx, const Event& event, Effects& after);
    Status ApplyReply(StoreTx& tx, const Reply& reply, Effects& after);
    Status ApplyDeadline(StoreTx& tx, const DeadlinePassed& deadline, Effects& after);
    Status ApplyOperator(StoreTx& tx, const OperatorAction& action, Effects& after);
    /// The msg id of the last forward command of `node`, from the history.
    static std::optional<MsgId> LastCommandOf(StoreTx& tx, const SagaId& id, const std::string& node);
    Status ApplyUnserved(StoreTx& tx, const Unserved& unserved);
    Status ApplyWaitDue(StoreTx& tx, const WaitDue& due, Effects& after);
    /// A child node's saga: started (once, by its business key `ChildKey`), compensated as
    /// one unit, and its end told to its parent, each in the transaction of the change.
    static BusinessKey ChildKey(const SagaRecord& parent, const NodeDef& node);
    void StartChild(StoreTx& tx, const SagaRecord& parent, const NodeDef& node, Effects& after);
    void CompensateChild(StoreTx& tx, const SagaRecord& parent, const NodeDef& node, Effects& after);
    void ChildEnded(StoreTx& tx, const SagaRecord& child, Effects& after);
    Status ApplySignal(StoreTx& tx, const SignalSent& signal, Effects& after);
    Status ApplyBulkPage(StoreTx& tx, const BulkPage& page, Effects& after);
    std::vector<HistoryEvent> SentEvents(const PendingRecord& item) const;
    static std::string CompensationCause(StoreTx& tx, const SagaId& id);
    /// A history event of `kind` about `saga`, or about one of its pending items.
    HistoryEvent Note(const SagaRecord& saga, std::string kind) const;
    HistoryEvent Note(const PendingRecord& item, std::string kind) const;
    /// A new pending item of `kind` (not a command) for `node` of `saga`, armed now.
    PendingRecord WaitItem(const SagaRecord& saga, const std::string& node, PendingKind kind) const;
    double NextUnitRandom();
    [[nodiscard]] Fact FactOf(const SagaRecord& saga, Fact::Kind kind) const;
    /// An attempt of `item` ended with `outcome`; its latency runs from when it was sent.
    [[nodiscard]] Fact AttemptFact(const SagaRecord& saga, const PendingRecord& item, std::string outcome) const;

    const WorkflowRegistry& registry_;
    SagaStore& store_;
    const Clock& clock_;
    const Deliveries& deliveries_;
    EngineOptions options_;
    std::mt19937_64 rng_;
    std::map<const Workflow*, Plan> plans_;
};

}  // namespace sagaflow::engine
