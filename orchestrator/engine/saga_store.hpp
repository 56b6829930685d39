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
#include <vector>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/ids.hpp"
#include "sagaflow/core/saga_types.hpp"

namespace sagaflow::engine {

/// One saga row.
struct SagaRecord {
    SagaId id;
    std::string workflow;
    int workflow_version = 0;
    SagaStatus status = SagaStatus::kRunning;
    int position = 0;                  ///< See `SagaPoint`.
    std::optional<MsgId> awaiting;     ///< The command whose outcome the saga waits for.
    nlohmann::json input = nlohmann::json::object();
    nlohmann::json context = nlohmann::json::object();  ///< Step outputs by step name.
    std::optional<BusinessKey> business_key;
    std::string failure_reason;        ///< Why the saga left the happy path; empty if it did not.
    TraceId trace_id;
    std::int64_t version = 0;          ///< Bumped on every update (optimistic concurrency).
    Timestamp created_at{};
    Timestamp updated_at{};
};

enum class CommandState : std::int16_t {
    kPending = 1,  ///< Waiting to be sent, or sent and awaiting its reply.
    kDone = 2,     ///< Its outcome was applied (acknowledged).
};

/// One outbox row: a command to a worker, identical on every resend.
struct CommandRecord {
    MsgId msg_id;
    SagaId saga_id;
    int step_index = 0;
    Phase phase = Phase::kForward;
    std::string action;     ///< Step name (forward) or compensation name.
    std::string queue;
    int attempt = 1;        ///< Attempts started so far, counting the current one.
    Timestamp not_before{}; ///< Earliest time to (re)send.
    CommandState state = CommandState::kPending;
    nlohmann::json payload = nlohmann::json::object();
    Timestamp created_at{};
};

/// The outcome of one attempt of one command.
struct AttemptRecord {
    SagaId saga_id;
    int step_index = 0;
    Phase phase = Phase::kForward;
    MsgId msg_id;
    int attempt = 1;
    std::string outcome;  ///< "ok", "fail", "retry", "timeout".
    std::string detail;   ///< Failure reason or error text.
    Timestamp finished_at{};
};

/// One entry in a saga's append-only history: the trace of every hop.
struct HistoryEvent {
    SagaId saga_id;
    std::int64_t seq = 0;     ///< Assigned by the store; increases with every append.
    Timestamp at{};
    std::string kind;         ///< started, queued, sent, replied, step_completed, ...
    int step_index = -1;      ///< -1 when not about a step.
    std::optional<Phase> phase;
    int attempt = 0;
    std::optional<MsgId> msg_id;
    nlohmann::json detail = nlohmann::json::object();
};

/// Filter for listing sagas, newest first.
struct SagaFilter {
    std::optional<SagaStatus> status;
    std::optional<std::string> workflow;
    int limit = 100;
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
    [[nodiscard]] virtual std::optional<CommandRecord> GetCommand(const MsgId& id) = 0;
    /// A hint: these commands (and their sagas) are about to be read. A store may load them
    /// all at once; reads answer the same either way.
    virtual void Prefetch(const std::vector<MsgId>& /*commands*/) {}
    [[nodiscard]] virtual std::vector<SagaRecord> ListSagas(const SagaFilter& filter) = 0;
    /// Pending commands, earliest `not_before` first.
    [[nodiscard]] virtual std::vector<CommandRecord> PendingCommands(int limit) = 0;
    [[nodiscard]] virtual std::vector<AttemptRecord> Attempts(const SagaId& id) = 0;
    [[nodiscard]] virtual std::vector<HistoryEvent> History(const SagaId& id) = 0;

    /// Inserts a saga. Returns false, writing nothing, when its business key is taken.
    [[nodiscard]] virtual bool InsertSaga(const SagaRecord& saga) = 0;
    /// Replaces the saga row if its stored version is `expected_version`; otherwise
    /// throws `Error(kAborted)` (someone else changed it), here or, for a store that
    /// writes a transaction's rows in one go (PgSagaStore), at the latest from Commit.
    virtual void UpdateSaga(const SagaRecord& saga, std::int64_t expected_version) = 0;
    virtual void InsertCommand(const CommandRecord& command) = 0;
    /// Updates attempt, not_before and state of an existing command.
    virtual void UpdateCommand(const CommandRecord& command) = 0;
    virtual void InsertAttempt(const AttemptRecord& attempt) = 0;
    virtual void AppendHistory(const HistoryEvent& event) = 0;

    virtual void Commit() = 0;
};

/// Opens transactions. Thread-safe: each thread may hold its own transaction.
class SagaStore {
public:
    virtual ~SagaStore() = default;
    [[nodiscard]] virtual std::unique_ptr<StoreTx> Begin() = 0;
};

}  // namespace sagaflow::engine
