// The engine's view of durable storage. One `StoreTx` is one database transaction:
// everything written through it commits together or not at all. Implementations:
// `MemorySagaStore` (tests of pure logic) and `PgSagaStore` (the product); one
// conformance suite holds both to the same behaviour.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/core/ids.hpp"
#include "plan.hpp"
#include "sagaflow/core/saga_types.hpp"

namespace sagaflow::engine {

/// One saga row.
struct SagaRecord {
    SagaId id;
    std::string workflow;
    int workflow_version = 0;
    SagaStatus status = SagaStatus::kRunning;
    FlowState nodes;                   ///< Per-node states: what the Plan walks.
    nlohmann::json input = nlohmann::json::object();
    nlohmann::json context = nlohmann::json::object();  ///< Step outputs by step name.
    std::optional<BusinessKey> business_key;
    std::string failure_reason;        ///< Why the saga left the happy path; empty if it did not.
    TraceId trace_id;
    std::int64_t version = 0;          ///< Bumped on every update (optimistic concurrency).
    Timestamp created_at{};
    Timestamp updated_at{};
    std::optional<SagaId> parent_id;  ///< A child saga's parent.
    std::string parent_node;          ///< The parent's child node that started it.
};

/// What a pending item waits for. The numeric values are stored; they never change meaning.
enum class PendingKind : std::int16_t {
    kCommand = 1,   ///< A command's outcome.
    kTimer = 2,     ///< A timer node's due time (`not_before`).
    kSignal = 3,    ///< A signal named `action`.
    kDeadline = 4,  ///< A node's deadline (`not_before`).
    kChild = 5,     ///< A child saga's end; the item's id is the child saga's id.
};

[[nodiscard]] std::string_view ToString(PendingKind kind) noexcept;
[[nodiscard]] std::optional<PendingKind> PendingKindFromCode(int code) noexcept;
/// True for what the scheduler alone holds: a due time, no command.
[[nodiscard]] constexpr bool IsDueTime(PendingKind kind) noexcept {
    return kind == PendingKind::kTimer || kind == PendingKind::kDeadline;
}

/// One pending item: a thing a saga waits for. Inserted when armed, deleted when resolved.
/// A command's is the command to a worker, identical on every resend; its payload is the
/// saga's input and context, read from the saga row. A timer's or a deadline's is its due
/// time; a signal wait's is the signal's name.
struct PendingRecord {
    MsgId msg_id;            ///< A command's msg id; for the other kinds, the item's own id.
    SagaId saga_id;
    PendingKind kind = PendingKind::kCommand;
    std::string node;        ///< The node that waits.
    Phase phase = Phase::kForward;
    std::string action;      ///< Step name (forward) or compensation name; a signal's name.
    std::string queue;       ///< A command's queue; empty for the other kinds.
    int attempt = 1;         ///< Attempts started so far, counting the current one.
    Timestamp not_before{};  ///< Earliest time to (re)send; when a timer or deadline is due.
    Timestamp created_at{};
};

/// A signal a saga received, kept for its id: the same id again is applied once. One that
/// came before its wait is kept untaken until the saga reaches the wait.
struct SignalRecord {
    SagaId saga_id;
    std::string id;           ///< The sender's id for it (idempotency), unique per saga.
    std::string name;
    nlohmann::json payload = nlohmann::json::object();
    std::string consumed_by;  ///< The node that took it; empty while it waits for one.
    Timestamp received_at{};
};

/// An event for the operator's webhook (a saga stopped in failed), kept until it is taken.
struct AlertRecord {
    SagaId saga_id;
    std::int64_t id = 0;  ///< Assigned by the store; with the saga id, the alert's identity.
    nlohmann::json event = nlohmann::json::object();
    int attempts = 0;     ///< POSTs tried so far.
    Timestamp next_at{};  ///< Earliest time to try (again).
    Timestamp created_at{};
};

/// What one retention batch removed (StoreTx::ExpireEnded).
struct ExpiredCounts {
    std::int64_t sagas = 0;
    std::int64_t history_rows = 0;
    std::int64_t pending = 0;
    std::int64_t alerts = 0;
    std::int64_t signals = 0;
    bool locked_out = false;  ///< another node's batch holds the retention lock: nothing removed
};

/// One entry in a saga's append-only history: the trace of every hop. The store keeps one
/// row per saga per transaction, holding that transaction's events in order.
struct HistoryEvent {
    SagaId saga_id;
    std::int64_t seq = 0;     ///< The transaction's row, assigned by the store; increases.
    Timestamp at{};
    std::string kind;         ///< started, queued, sent, replied, timed_out, ...
    std::string node;         ///< Empty when not about a node.
    std::optional<Phase> phase;
    int attempt = 0;
    std::optional<MsgId> msg_id;
    nlohmann::json detail = nlohmann::json::object();
};

/// The outcome of one attempt of one command, as `show` lists it: read from the history.
struct AttemptRecord {
    SagaId saga_id;
    std::string node;
    Phase phase = Phase::kForward;
    MsgId msg_id;
    int attempt = 1;
    std::string outcome;  ///< "ok", "fail", "retry", "timeout".
    std::string detail;   ///< Failure reason or error text.
    Timestamp finished_at{};
    std::string worker;   ///< who answered (empty for a timeout)
    std::string key;      ///< its CURVE key's fingerprint (empty without CURVE)
};

/// One codec for a history event inside a history row (both stores, and the dump of a
/// database written before node ids, whose events carry `step_index` instead).
void to_json(nlohmann::json& j, const HistoryEvent& e);
void from_json(const nlohmann::json& j, HistoryEvent& e);

/// Filter for listing sagas, newest first.
/// A saga's place in the list order (created_at, then id, both descending).
struct SagaCursor {
    Timestamp created_at{};
    SagaId id;
};

/// Which sagas to list; every field set must match. Newest first, `limit` at most.
struct SagaFilter {
    std::optional<SagaStatus> status = std::nullopt;
    std::optional<std::string> workflow = std::nullopt;
    std::optional<int> version = std::nullopt;
    std::optional<BusinessKey> business_key = std::nullopt;
    std::optional<Timestamp> created_after = std::nullopt;   ///< inclusive
    std::optional<Timestamp> created_before = std::nullopt;  ///< exclusive
    std::optional<SagaCursor> after = std::nullopt;          ///< only sagas after this one in the order
    int limit = 100;

    /// The rule both stores apply (the memory store calls it; the SQL says the same).
    [[nodiscard]] bool Matches(const SagaRecord& s) const {
        return (!status || s.status == *status) && (!workflow || s.workflow == *workflow) &&
               (!version || s.workflow_version == *version) &&
               (!business_key || (s.business_key && *s.business_key == *business_key)) &&
               (!created_after || s.created_at >= *created_after) &&
               (!created_before || s.created_at < *created_before) &&
               (!after || s.created_at < after->created_at || (s.created_at == after->created_at && s.id < after->id));
    }
};

/// One codec for a filter kept in a row (a bulk job's): the set fields, timestamps in
/// microseconds; `limit` is not kept. Throws `Error(kInternal)` on a malformed document.
void to_json(nlohmann::json& j, const SagaFilter& f);
void from_json(const nlohmann::json& j, SagaFilter& f);

/// Where a bulk job is. The numeric values are stored; they never change meaning.
enum class BulkState : std::int16_t {
    kRunning = 1,   ///< Pages are still being taken.
    kFinished = 2,  ///< Every matching saga was taken.
};
[[nodiscard]] std::string_view ToString(BulkState s) noexcept;

/// An operator's action on every saga a filter matches (`sagactl bulk`), taken in pages,
/// newest first. Its progress (`filter.after`, the last saga taken, and the counts) is
/// written in the transaction of each page's actions, so a restarted sagad goes on from
/// where the last committed page ended and no saga is acted on twice.
struct BulkJob {
    std::string id;            ///< A UUID.
    std::string action;        ///< compensate, retry or cancel.
    SagaFilter filter;         ///< `after`: the last saga taken; `created_before` at most the job's creation.
    std::string reason;
    std::string requested_by;  ///< The API token's name.
    int rate = 500;            ///< Sagas a second at most.
    std::int64_t matched = 0;  ///< Sagas the filter matched when the job was made.
    std::int64_t done = 0;     ///< Actions applied.
    std::int64_t refused = 0;  ///< Sagas whose state no longer allowed the action (or gone).
    BulkState state = BulkState::kRunning;
    Timestamp created_at{};
    Timestamp updated_at{};
};

/// One open transaction. Destroying it without `Commit()` rolls it back. Not thread-safe.
/// Reads see the transaction's own writes. Store failures throw `Error`; kAborted and
/// kUnavailable mean the whole unit may be retried.
class StoreTx {
public:
    virtual ~StoreTx() = default;

    [[nodiscard]] virtual std::optional<SagaRecord> GetSaga(const SagaId& id) = 0;
    [[nodiscard]] virtual std::optional<SagaId> FindByBusinessKey(const std::string& workflow,
                                                                  const BusinessKey& key) = 0;
    [[nodiscard]] virtual std::optional<PendingRecord> GetPending(const MsgId& id) = 0;
    /// A hint: these pending items (and their sagas) are about to be read. A store may load
    /// them all at once; reads answer the same either way.
    virtual void Prefetch(const std::vector<MsgId>& /*pending*/) {}
    [[nodiscard]] virtual std::vector<SagaRecord> ListSagas(const SagaFilter& filter) = 0;
    /// How many sagas `filter` matches (its `limit` aside).
    [[nodiscard]] virtual std::int64_t CountSagas(const SagaFilter& filter) = 0;
    /// Pending items with their sagas, earliest `not_before` first.
    [[nodiscard]] virtual std::vector<std::pair<PendingRecord, SagaRecord>> PendingWork(int limit) = 0;
    /// The pending items of one saga.
    [[nodiscard]] virtual std::vector<PendingRecord> PendingOf(const SagaId& id) = 0;
    [[nodiscard]] virtual std::vector<HistoryEvent> History(const SagaId& id) = 0;

    /// Inserts a saga. Returns false, writing nothing, when its business key is taken. A
    /// saga without a key may be written with the transaction's other writes (PgSagaStore
    /// does: a batch of starts is one statement); its id is new, so only a reused id
    /// fails, here or at the latest from Commit.
    [[nodiscard]] virtual bool InsertSaga(const SagaRecord& saga) = 0;
    /// Replaces the saga row if its stored version is `expected_version`; otherwise
    /// throws `Error(kAborted)` (someone else changed it), here or, for a store that
    /// writes a transaction's rows in one go (PgSagaStore), at the latest from Commit.
    virtual void UpdateSaga(const SagaRecord& saga, std::int64_t expected_version) = 0;
    virtual void InsertPending(const PendingRecord& item) = 0;
    /// Updates attempt and not_before of an existing pending item (a resend).
    virtual void UpdatePending(const PendingRecord& item) = 0;
    /// Deletes a resolved pending item; throws `Error(kAborted)` when it is not there
    /// (someone else resolved it), here or at the latest from Commit.
    virtual void DeletePending(const PendingRecord& item) = 0;
    virtual void AppendHistory(const HistoryEvent& event) = 0;

    /// The signal with sender id `id` this saga received, if any.
    [[nodiscard]] virtual std::optional<SignalRecord> GetSignal(const SagaId& saga, const std::string& id) = 0;
    /// The earliest signal named `name` that no wait of this saga has taken.
    [[nodiscard]] virtual std::optional<SignalRecord> WaitingSignal(const SagaId& saga, const std::string& name) = 0;
    /// Every signal the saga received, in order.
    [[nodiscard]] virtual std::vector<SignalRecord> SignalsOf(const SagaId& saga) = 0;
    /// Records a signal; kAborted when its id is taken (by a concurrent transaction: run
    /// again, the signal is then found applied).
    virtual void InsertSignal(const SignalRecord& signal) = 0;
    /// A kept signal is taken by node `signal.consumed_by`.
    virtual void ConsumeSignal(const SignalRecord& signal) = 0;

    /// Records an alert for the webhook, written with the transaction (`id` is assigned).
    virtual void InsertAlert(const AlertRecord& alert) = 0;
    /// Alerts due by `now`, earliest first, at most `limit`.
    [[nodiscard]] virtual std::vector<AlertRecord> DueAlerts(Timestamp now, int limit) = 0;
    /// The webhook took it: gone.
    virtual void DeleteAlert(const AlertRecord& alert) = 0;
    /// Not taken: try again at `alert.next_at`, `alert.attempts` counted.
    virtual void DeferAlert(const AlertRecord& alert) = 0;

    /// Bulk jobs: written whole; `UpdateBulkJob` of an unknown id is kInternal.
    virtual void InsertBulkJob(const BulkJob& job) = 0;
    virtual void UpdateBulkJob(const BulkJob& job) = 0;
    [[nodiscard]] virtual std::optional<BulkJob> GetBulkJob(const std::string& id) = 0;
    /// Newest first, at most `limit`; only running ones when `running_only`.
    [[nodiscard]] virtual std::vector<BulkJob> ListBulkJobs(int limit, bool running_only) = 0;

    /// Retention: removes up to `limit` sagas in `status` (an ended status, IsTerminal; any
    /// other is kInvalidArgument) whose last change was before `cutoff`, oldest first, with
    /// their history, pending items, signals and alerts. A saga another transaction is changing is
    /// skipped. One batch at a time per database: while another node's batch runs, this
    /// one removes nothing and says `locked_out`.
    [[nodiscard]] virtual ExpiredCounts ExpireEnded(SagaStatus status, Timestamp cutoff, int limit) = 0;

    virtual void Commit() = 0;
};

/// Opens transactions. Thread-safe: each thread may hold its own transaction.
class SagaStore {
public:
    virtual ~SagaStore() = default;
    [[nodiscard]] virtual std::unique_ptr<StoreTx> Begin() = 0;
};

/// Runs `read` in a transaction that writes nothing (rolled back at the end), again on
/// kAborted / kUnavailable up to `max_attempts` times: a read is safe to run again.
template <class Fn>
void ReadTx(SagaStore& store, int max_attempts, Fn&& read) {
    for (int attempt = 1;; ++attempt) {
        try {
            auto tx = store.Begin();
            read(*tx);
            return;
        } catch (const Error& e) {
            if (!IsRetryable(e.code()) || attempt >= max_attempts) throw;
        }
    }
}

}  // namespace sagaflow::engine
