#include "pg_saga_store.hpp"

#include "pg_rows.hpp"

namespace sagaflow::store {
namespace {

using engine::AttemptRecord;
using engine::CommandRecord;
using engine::HistoryEvent;
using engine::SagaFilter;
using engine::SagaRecord;
using pg::Params;
using pg::Statement;

// Timestamps cross the wire as microseconds since the epoch, exactly.
#define SF_TS(n) "('epoch'::timestamptz + $" #n "::bigint * interval '1 microsecond')"
#define SF_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"

#define SF_SAGA_COLUMNS                                                                     \
    "id, workflow, workflow_version, state_code, step_position, awaiting_msg_id, input::text," \
    " context::text, business_key, failure_reason, trace_id, version, " SF_US("created_at")  \
    ", " SF_US("updated_at")
#define SF_COMMAND_COLUMNS                                                                 \
    "saga_id, msg_id, step_index, phase, action, queue, attempt, " SF_US("not_before")      \
    ", state, payload::text, " SF_US("created_at")

constexpr Statement kGetSaga{"sf_get_saga", "SELECT " SF_SAGA_COLUMNS " FROM sagas WHERE id = $1::uuid"};
constexpr Statement kFindByKey{"sf_find_by_key",
                               "SELECT id FROM sagas WHERE workflow = $1 AND business_key = $2"};
constexpr Statement kListSagas{
    "sf_list_sagas",
    "SELECT " SF_SAGA_COLUMNS " FROM sagas"
    " WHERE ($1::smallint IS NULL OR state_code = $1::smallint)"
    " AND ($2::text IS NULL OR workflow = $2::text)"
    " ORDER BY created_at DESC, id DESC LIMIT $3::int"};
constexpr Statement kInsertSaga{
    "sf_insert_saga",
    "INSERT INTO sagas (id, workflow, workflow_version, state_code, step_position,"
    " awaiting_msg_id, input, context, business_key, failure_reason, trace_id, version,"
    " created_at, updated_at)"
    " VALUES ($1::uuid, $2, $3::int, $4::smallint, $5::int, $6::uuid, $7::jsonb, $8::jsonb, $9,"
    " $10, $11, $12::bigint, " SF_TS(13) ", " SF_TS(14) ")"
    " ON CONFLICT (workflow, business_key) WHERE business_key IS NOT NULL DO NOTHING"};
constexpr Statement kUpdateSaga{
    "sf_update_saga",
    "UPDATE sagas SET state_code = $2::smallint, step_position = $3::int,"
    " awaiting_msg_id = $4::uuid, context = $5::jsonb, failure_reason = $6,"
    " version = $7::bigint, updated_at = " SF_TS(8)
    " WHERE id = $1::uuid AND version = $9::bigint"};
constexpr Statement kGetCommand{"sf_get_command",
                                "SELECT " SF_COMMAND_COLUMNS " FROM saga_outbox WHERE msg_id = $1::uuid"};
constexpr Statement kPendingCommands{
    "sf_pending_commands",
    "SELECT " SF_COMMAND_COLUMNS " FROM saga_outbox WHERE state = 1"
    " ORDER BY not_before, msg_id LIMIT $1::int"};
constexpr Statement kInsertCommand{
    "sf_insert_command",
    "INSERT INTO saga_outbox (saga_id, msg_id, step_index, phase, action, queue, attempt,"
    " not_before, state, payload, created_at)"
    " VALUES ($1::uuid, $2::uuid, $3::int, $4::smallint, $5, $6, $7::int, " SF_TS(8)
    ", $9::smallint, $10::jsonb, " SF_TS(11) ")"};
constexpr Statement kUpdateCommand{
    "sf_update_command",
    "UPDATE saga_outbox SET attempt = $3::int, not_before = " SF_TS(4) ", state = $5::smallint"
    " WHERE saga_id = $1::uuid AND msg_id = $2::uuid"};
// Attempts and history rows are append-only and never read back by the transaction that
// writes them, so a transaction collects them and writes each kind with one multi-row
// INSERT just before COMMIT (one round trip per batch instead of one per row).
constexpr Statement kInsertAttempts{
    "sf_insert_attempts",
    "INSERT INTO saga_step_attempts (saga_id, step_index, phase, msg_id, attempt, outcome,"
    " detail, finished_at)"
    " SELECT x.saga_id, x.step_index, x.phase, x.msg_id, x.attempt, x.outcome, x.detail,"
    " 'epoch'::timestamptz + x.finished_us * interval '1 microsecond'"
    " FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (saga_id uuid, step_index int, phase smallint,"
    " msg_id uuid, attempt int, outcome text, detail text, finished_us bigint)) WITH ORDINALITY"
    " AS x(saga_id, step_index, phase, msg_id, attempt, outcome, detail, finished_us, n) ORDER BY x.n"};
constexpr Statement kAttempts{
    "sf_attempts",
    "SELECT saga_id, step_index, phase, msg_id, attempt, outcome, detail, " SF_US("finished_at")
    " FROM saga_step_attempts WHERE saga_id = $1::uuid ORDER BY seq"};
constexpr Statement kAppendHistory{
    "sf_append_history",
    "INSERT INTO saga_history (saga_id, at, kind, step_index, phase, attempt, msg_id, detail)"
    " SELECT x.saga_id, 'epoch'::timestamptz + x.at_us * interval '1 microsecond', x.kind, x.step_index,"
    " x.phase, x.attempt, x.msg_id, x.detail"
    " FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (saga_id uuid, at_us bigint, kind text,"
    " step_index int, phase smallint, attempt int, msg_id uuid, detail jsonb)) WITH ORDINALITY"
    " AS x(saga_id, at_us, kind, step_index, phase, attempt, msg_id, detail, n) ORDER BY x.n"};
constexpr Statement kHistory{
    "sf_history",
    "SELECT saga_id, seq, " SF_US("at") ", kind, step_index, phase, attempt, msg_id, detail::text"
    " FROM saga_history WHERE saga_id = $1::uuid ORDER BY seq"};

#undef SF_TS
#undef SF_US
#undef SF_SAGA_COLUMNS
#undef SF_COMMAND_COLUMNS

}  // namespace

class PgSagaStore::Tx final : public engine::StoreTx {
public:
    Tx(PgSagaStore& store, std::unique_ptr<pg::Connection> conn)
        : store_(store), conn_(std::move(conn)), tx_(std::make_unique<pg::Transaction>(*conn_)) {}

    ~Tx() override {
        tx_.reset();  // rolls back unless committed
        store_.Release(std::move(conn_));
    }

    std::optional<SagaRecord> GetSaga(const SagaId& id) override {
        auto r = conn_->Exec(kGetSaga, {id.str()});
        if (r.rows() == 0) return std::nullopt;
        return SagaFromRow(r, 0);
    }

    std::optional<SagaId> FindByBusinessKey(const std::string& workflow,
                                            const BusinessKey& key) override {
        auto r = conn_->Exec(kFindByKey, {workflow, key.str()});
        if (r.rows() == 0) return std::nullopt;
        return SagaId(r.Text(0, 0));
    }

    std::optional<CommandRecord> GetCommand(const MsgId& id) override {
        auto r = conn_->Exec(kGetCommand, {id.str()});
        if (r.rows() == 0) return std::nullopt;
        return CommandFromRow(r, 0);
    }

    std::vector<SagaRecord> ListSagas(const SagaFilter& f) override {
        Params p{f.status ? pg::Param(std::to_string(static_cast<int>(*f.status))) : std::nullopt,
                 f.workflow, std::to_string(f.limit)};
        auto r = conn_->Exec(kListSagas, p);
        std::vector<SagaRecord> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(SagaFromRow(r, i));
        return out;
    }

    std::vector<CommandRecord> PendingCommands(int limit) override {
        auto r = conn_->Exec(kPendingCommands, {std::to_string(limit)});
        std::vector<CommandRecord> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(CommandFromRow(r, i));
        return out;
    }

    std::vector<AttemptRecord> Attempts(const SagaId& id) override {
        Flush();
        auto r = conn_->Exec(kAttempts, {id.str()});
        std::vector<AttemptRecord> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(AttemptFromRow(r, i));
        return out;
    }

    std::vector<HistoryEvent> History(const SagaId& id) override {
        Flush();
        auto r = conn_->Exec(kHistory, {id.str()});
        std::vector<HistoryEvent> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(HistoryFromRow(r, i));
        return out;
    }

    bool InsertSaga(const SagaRecord& s) override {
        auto r = conn_->Exec(kInsertSaga,
                             {s.id.str(), s.workflow, std::to_string(s.workflow_version),
                              std::to_string(static_cast<int>(s.status)),
                              std::to_string(s.position), OptId(s.awaiting), s.input.dump(),
                              s.context.dump(), OptId(s.business_key), s.failure_reason,
                              s.trace_id.str(), std::to_string(s.version), Micros(s.created_at),
                              Micros(s.updated_at)});
        return r.affected() == 1;
    }

    void UpdateSaga(const SagaRecord& s, std::int64_t expected_version) override {
        auto r = conn_->Exec(kUpdateSaga,
                             {s.id.str(), std::to_string(static_cast<int>(s.status)),
                              std::to_string(s.position), OptId(s.awaiting), s.context.dump(),
                              s.failure_reason, std::to_string(s.version), Micros(s.updated_at),
                              std::to_string(expected_version)});
        if (r.affected() != 1) {
            throw Error(ErrorCode::kAborted, "saga " + s.id.str() + " changed concurrently");
        }
    }

    void InsertCommand(const CommandRecord& c) override {
        conn_->Exec(kInsertCommand,
                    {c.saga_id.str(), c.msg_id.str(), std::to_string(c.step_index),
                     std::to_string(static_cast<int>(c.phase)), c.action, c.queue,
                     std::to_string(c.attempt), Micros(c.not_before),
                     std::to_string(static_cast<int>(c.state)), c.payload.dump(),
                     Micros(c.created_at)});
    }

    void UpdateCommand(const CommandRecord& c) override {
        auto r = conn_->Exec(kUpdateCommand,
                             {c.saga_id.str(), c.msg_id.str(), std::to_string(c.attempt),
                              Micros(c.not_before), std::to_string(static_cast<int>(c.state))});
        if (r.affected() != 1) throw Error(ErrorCode::kNotFound, "command " + c.msg_id.str());
    }

    void InsertAttempt(const AttemptRecord& a) override {
        attempts_.push_back({{"saga_id", a.saga_id.str()},
                             {"step_index", a.step_index},
                             {"phase", static_cast<int>(a.phase)},
                             {"msg_id", a.msg_id.str()},
                             {"attempt", a.attempt},
                             {"outcome", a.outcome},
                             {"detail", a.detail},
                             {"finished_us", a.finished_at.time_since_epoch().count()}});
    }

    void AppendHistory(const HistoryEvent& e) override {
        history_.push_back({{"saga_id", e.saga_id.str()},
                            {"at_us", e.at.time_since_epoch().count()},
                            {"kind", e.kind},
                            {"step_index", e.step_index},
                            {"phase", e.phase ? nlohmann::json(static_cast<int>(*e.phase)) : nlohmann::json(nullptr)},
                            {"attempt", e.attempt},
                            {"msg_id", e.msg_id ? nlohmann::json(e.msg_id->str()) : nlohmann::json(nullptr)},
                            {"detail", e.detail}});
    }

    void Commit() override {
        Flush();
        tx_->Commit();
    }

private:
    void Flush() {
        if (!attempts_.empty()) conn_->Exec(kInsertAttempts, {attempts_.dump()});
        if (!history_.empty()) conn_->Exec(kAppendHistory, {history_.dump()});
        attempts_ = nlohmann::json::array();
        history_ = nlohmann::json::array();
    }

    nlohmann::json attempts_ = nlohmann::json::array();
    nlohmann::json history_ = nlohmann::json::array();
    PgSagaStore& store_;
    std::unique_ptr<pg::Connection> conn_;
    std::unique_ptr<pg::Transaction> tx_;
};

PgSagaStore::PgSagaStore(PgStoreOptions options) : options_(std::move(options)) {}

PgSagaStore::~PgSagaStore() = default;

std::unique_ptr<engine::StoreTx> PgSagaStore::Begin() {
    auto conn = Acquire();
    return std::make_unique<Tx>(*this, std::move(conn));
}

std::unique_ptr<pg::Connection> PgSagaStore::Acquire() {
    {
        std::lock_guard lock(mu_);
        while (!idle_.empty()) {
            auto conn = std::move(idle_.back());
            idle_.pop_back();
            if (conn->healthy()) return conn;
        }
    }
    return std::make_unique<pg::Connection>(options_.dsn, options_.schema);
}

void PgSagaStore::Release(std::unique_ptr<pg::Connection> conn) {
    if (!conn || !conn->healthy()) return;
    std::lock_guard lock(mu_);
    if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
        idle_.push_back(std::move(conn));
    }
}

}  // namespace sagaflow::store
