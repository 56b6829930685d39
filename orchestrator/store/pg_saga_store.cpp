#include "pg_saga_store.hpp"

#include "pg_rows.hpp"

#include <algorithm>
#include <unordered_map>

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
#define SF_UPDATE_SAGA                                                                    \
    "UPDATE sagas SET state_code = $2::smallint, step_position = $3::int,"                  \
    " awaiting_msg_id = $4::uuid, context = $5::jsonb, failure_reason = $6,"               \
    " version = $7::bigint, updated_at = " SF_TS(8) " WHERE id = $1::uuid AND version = $9::bigint"
#define SF_UPDATE_COMMAND                                                                         \
    "UPDATE saga_outbox SET attempt = $3::int, not_before = " SF_TS(4) ", state = $5::smallint" \
    " WHERE saga_id = $1::uuid AND msg_id = $2::uuid"
constexpr Statement kUpdateSaga{"sf_update_saga", SF_UPDATE_SAGA};
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
constexpr Statement kUpdateCommand{"sf_update_command", SF_UPDATE_COMMAND};
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
// A transaction's saga and command writes go the same way: kept (and read back) in
// memory, then written with one statement per kind before COMMIT. A saga's optimistic
// version check moves into the batched UPDATE: fewer rows changed than sent is a conflict.
constexpr Statement kInsertCommands{
    "sf_insert_commands",
    "INSERT INTO saga_outbox (saga_id, msg_id, step_index, phase, action, queue, attempt,"
    " not_before, state, payload, created_at)"
    " SELECT x.saga_id, x.msg_id, x.step_index, x.phase, x.action, x.queue, x.attempt,"
    " 'epoch'::timestamptz + x.not_before_us * interval '1 microsecond', x.state, x.payload,"
    " 'epoch'::timestamptz + x.created_us * interval '1 microsecond'"
    " FROM jsonb_to_recordset($1::jsonb) AS x(saga_id uuid, msg_id uuid, step_index int, phase smallint,"
    " action text, queue text, attempt int, not_before_us bigint, state smallint, payload jsonb, created_us bigint)"};
// The deferred writes that must change every row they name fail in the database when they
// do not (sagaflow_expect_rows, migration 0002: SQLSTATE 40001, a concurrent change), so
// they can travel with COMMIT in one round trip.
#define SF_EXPECT(want, what) " SELECT sagaflow_expect_rows(count(*), " want ", '" what "') FROM u"
constexpr Statement kUpdateSagaChecked{"sf_update_saga_checked",
                                       "WITH u AS (" SF_UPDATE_SAGA " RETURNING 1)" SF_EXPECT("1", "a saga")};
constexpr Statement kUpdateCommandChecked{
    "sf_update_command_checked", "WITH u AS (" SF_UPDATE_COMMAND " RETURNING 1)" SF_EXPECT("1", "an outbox command")};
constexpr Statement kUpdateCommands{
    "sf_update_commands",
    "WITH u AS (UPDATE saga_outbox o SET attempt = x.attempt,"
    " not_before = 'epoch'::timestamptz + x.not_before_us * interval '1 microsecond', state = x.state"
    " FROM jsonb_to_recordset($1::jsonb) AS x(saga_id uuid, msg_id uuid, attempt int, not_before_us bigint,"
    " state smallint) WHERE o.saga_id = x.saga_id AND o.msg_id = x.msg_id RETURNING 1)"
    SF_EXPECT("jsonb_array_length($1::jsonb)", "an outbox command")};
constexpr Statement kUpdateSagas{
    "sf_update_sagas",
    "WITH u AS (UPDATE sagas s SET state_code = x.state_code, step_position = x.step_position,"
    " awaiting_msg_id = x.awaiting, context = x.context, failure_reason = x.failure_reason,"
    " version = x.version, updated_at = 'epoch'::timestamptz + x.updated_us * interval '1 microsecond'"
    " FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, state_code smallint, step_position int, awaiting uuid,"
    " context jsonb, failure_reason text, version bigint, updated_us bigint, expected bigint)"
    " WHERE s.id = x.id AND s.version = x.expected RETURNING 1)"
    SF_EXPECT("jsonb_array_length($1::jsonb)", "a saga")};
#undef SF_EXPECT
#undef SF_UPDATE_SAGA
#undef SF_UPDATE_COMMAND
// The commands of a batch of replies and their sagas, sent together in one round trip.
constexpr Statement kPrefetchCommands{
    "sf_prefetch_commands",
    "SELECT " SF_COMMAND_COLUMNS " FROM saga_outbox WHERE msg_id = ANY($1::uuid[])"};
constexpr Statement kPrefetchSagas{
    "sf_prefetch_sagas",
    "SELECT " SF_SAGA_COLUMNS " FROM sagas"
    " WHERE id IN (SELECT saga_id FROM saga_outbox WHERE msg_id = ANY($1::uuid[]))"};
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
        if (auto it = sagas_.find(id.str()); it != sagas_.end()) return it->second;
        auto r = conn_->Exec(kGetSaga, {id.str()});
        if (r.rows() == 0) return std::nullopt;
        return sagas_[id.str()] = SagaFromRow(r, 0);
    }

    std::optional<SagaId> FindByBusinessKey(const std::string& workflow,
                                            const BusinessKey& key) override {
        Flush();
        auto r = conn_->Exec(kFindByKey, {workflow, key.str()});
        if (r.rows() == 0) return std::nullopt;
        return SagaId(r.Text(0, 0));
    }

    std::optional<CommandRecord> GetCommand(const MsgId& id) override {
        if (auto it = commands_.find(id.str()); it != commands_.end()) return it->second;
        auto r = conn_->Exec(kGetCommand, {id.str()});
        if (r.rows() == 0) return std::nullopt;
        return commands_[id.str()] = CommandFromRow(r, 0);
    }

    void Prefetch(const std::vector<MsgId>& ids) override {
        std::string array = "{";
        for (const MsgId& id : ids) {
            if (commands_.count(id.str())) continue;
            array += (array.size() > 1 ? "," : "") + id.str();
        }
        if (array.size() == 1) return;
        array += "}";
        // The commands and their sagas, in one round trip (with BEGIN, when first).
        const auto r = conn_->Pipeline({{&kPrefetchCommands, {}, {array}}, {&kPrefetchSagas, {}, {array}}});
        for (int i = 0; i < r[0].rows(); ++i) {
            CommandRecord c = CommandFromRow(r[0], i);
            commands_.emplace(c.msg_id.str(), std::move(c));
        }
        for (int i = 0; i < r[1].rows(); ++i) {
            SagaRecord v = SagaFromRow(r[1], i);
            sagas_.emplace(v.id.str(), std::move(v));  // a saga changed here keeps its new state
        }
    }

    std::vector<SagaRecord> ListSagas(const SagaFilter& f) override {
        Params p{f.status ? pg::Param(std::to_string(static_cast<int>(*f.status))) : std::nullopt,
                 f.workflow, std::to_string(f.limit)};
        Flush();
        auto r = conn_->Exec(kListSagas, p);
        std::vector<SagaRecord> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(SagaFromRow(r, i));
        return out;
    }

    std::vector<CommandRecord> PendingCommands(int limit) override {
        Flush();
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
        if (r.affected() != 1) return false;
        sagas_[s.id.str()] = s;
        return true;
    }

    void UpdateSaga(const SagaRecord& s, std::int64_t expected_version) override {
        const std::string id = s.id.str();
        auto it = sagas_.find(id);
        if (it == sagas_.end()) {  // never read here: update now, checking the version
            WriteSaga(s, expected_version);
            return;
        }
        if (it->second.version != expected_version) {
            throw Error(ErrorCode::kAborted, "saga " + id + " changed concurrently");
        }
        if (saga_expected_.emplace(id, expected_version).second) dirty_sagas_.push_back(id);
        it->second = s;
    }

    void InsertCommand(const CommandRecord& c) override {
        const std::string id = c.msg_id.str();
        if (!commands_.emplace(id, c).second) throw Error(ErrorCode::kAlreadyExists, "command " + id);
        new_commands_.push_back(id);
    }

    void UpdateCommand(const CommandRecord& c) override {
        const std::string id = c.msg_id.str();
        auto it = commands_.find(id);
        if (it == commands_.end()) {  // never read here: update now
            if (!WriteCommand(c)) throw Error(ErrorCode::kNotFound, "command " + id);
            return;
        }
        it->second = c;
        if (std::find(new_commands_.begin(), new_commands_.end(), id) == new_commands_.end() &&
            std::find(dirty_commands_.begin(), dirty_commands_.end(), id) == dirty_commands_.end()) {
            dirty_commands_.push_back(id);
        }
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
        tx_->Commit(PendingWrites());  // the writes and COMMIT in one round trip
    }

private:
    static pg::Query SagaWrite(const SagaRecord& s, std::int64_t expected, const Statement* st = &kUpdateSaga) {
        return {st,
                {},
                {s.id.str(), std::to_string(static_cast<int>(s.status)), std::to_string(s.position),
                 OptId(s.awaiting), s.context.dump(), s.failure_reason, std::to_string(s.version),
                 Micros(s.updated_at), std::to_string(expected)}};
    }
    static pg::Query CommandWrite(const CommandRecord& c, const Statement* st = &kUpdateCommand) {
        return {st,
                {},
                {c.saga_id.str(), c.msg_id.str(), std::to_string(c.attempt), Micros(c.not_before),
                 std::to_string(static_cast<int>(c.state))}};
    }
    // One saga row, if it still has `expected` as its version; else kAborted.
    void WriteSaga(const SagaRecord& s, std::int64_t expected) {
        const pg::Query q = SagaWrite(s, expected);
        if (conn_->Exec(*q.statement, q.params).affected() != 1) {
            throw Error(ErrorCode::kAborted, "saga " + s.id.str() + " changed concurrently");
        }
    }
    // One outbox row; false if it is not there.
    bool WriteCommand(const CommandRecord& c) {
        const pg::Query q = CommandWrite(c);
        return conn_->Exec(*q.statement, q.params).affected() == 1;
    }

    // The deferred writes, as statements; those that must change every row they name
    // check that in the database.
    std::vector<pg::Query> PendingWrites() {
        std::vector<pg::Query> out;
        // One row of a kind goes through the plain prepared statement: cheaper than JSON.
        if (new_commands_.size() == 1) {
            const CommandRecord& c = commands_.at(new_commands_.front());
            out.push_back({&kInsertCommand,
                           {},
                           {c.saga_id.str(), c.msg_id.str(), std::to_string(c.step_index),
                            std::to_string(static_cast<int>(c.phase)), c.action, c.queue,
                            std::to_string(c.attempt), Micros(c.not_before),
                            std::to_string(static_cast<int>(c.state)), c.payload.dump(), Micros(c.created_at)}});
        } else if (!new_commands_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : new_commands_) {
                const CommandRecord& c = commands_.at(id);
                rows.push_back({{"saga_id", c.saga_id.str()}, {"msg_id", id}, {"step_index", c.step_index},
                                {"phase", static_cast<int>(c.phase)}, {"action", c.action}, {"queue", c.queue},
                                {"attempt", c.attempt}, {"not_before_us", c.not_before.time_since_epoch().count()},
                                {"state", static_cast<int>(c.state)}, {"payload", c.payload},
                                {"created_us", c.created_at.time_since_epoch().count()}});
            }
            out.push_back({&kInsertCommands, {}, {rows.dump()}});
        }
        if (dirty_commands_.size() == 1) {
            out.push_back(CommandWrite(commands_.at(dirty_commands_.front()), &kUpdateCommandChecked));
        } else if (!dirty_commands_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : dirty_commands_) {
                const CommandRecord& c = commands_.at(id);
                rows.push_back({{"saga_id", c.saga_id.str()}, {"msg_id", id}, {"attempt", c.attempt},
                                {"not_before_us", c.not_before.time_since_epoch().count()},
                                {"state", static_cast<int>(c.state)}});
            }
            out.push_back({&kUpdateCommands, {}, {rows.dump()}});
        }
        if (dirty_sagas_.size() == 1) {
            const std::string& id = dirty_sagas_.front();
            out.push_back(SagaWrite(sagas_.at(id), saga_expected_.at(id), &kUpdateSagaChecked));
        } else if (!dirty_sagas_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : dirty_sagas_) {
                const SagaRecord& v = sagas_.at(id);
                rows.push_back({{"id", id}, {"state_code", static_cast<int>(v.status)}, {"step_position", v.position},
                                {"awaiting", v.awaiting ? nlohmann::json(v.awaiting->str()) : nlohmann::json(nullptr)},
                                {"context", v.context}, {"failure_reason", v.failure_reason}, {"version", v.version},
                                {"updated_us", v.updated_at.time_since_epoch().count()},
                                {"expected", saga_expected_.at(id)}});
            }
            out.push_back({&kUpdateSagas, {}, {rows.dump()}});
        }
        if (!attempts_.empty()) out.push_back({&kInsertAttempts, {}, {attempts_.dump()}});
        if (!history_.empty()) out.push_back({&kAppendHistory, {}, {history_.dump()}});
        new_commands_.clear();
        dirty_commands_.clear();
        dirty_sagas_.clear();
        saga_expected_.clear();
        attempts_ = nlohmann::json::array();
        history_ = nlohmann::json::array();
        return out;
    }

    // Everything deferred so far, in one round trip; a row that changed under us aborts.
    void Flush() {
        const std::vector<pg::Query> writes = PendingWrites();
        if (!writes.empty()) conn_->Pipeline(writes);
    }

    // What this transaction read or wrote, latest first-class copy; and what it must write.
    std::unordered_map<std::string, SagaRecord> sagas_;
    std::unordered_map<std::string, std::int64_t> saga_expected_;  // version the row must still have
    std::vector<std::string> dirty_sagas_;
    std::unordered_map<std::string, CommandRecord> commands_;
    std::vector<std::string> new_commands_, dirty_commands_;
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
    if (options_.on_connect) options_.on_connect();
    auto conn = std::make_unique<pg::Connection>(options_.dsn, options_.schema);
    // Every statement of the store finds its rows by key, through an index. But a
    // connection keeps its prepared statements' plans, and a plan made while the tables
    // were small (a fresh database: the first minute of a new install) scans them whole,
    // or hashes them whole to join a batch, long after they have grown. Sequential scans,
    // hash joins and merge joins are priced out on these connections only: a batch is
    // then joined by one index lookup per row, whatever the statistics said at the time.
    conn->Exec("SET enable_seqscan = off; SET enable_hashjoin = off; SET enable_mergejoin = off");
    return conn;
}

void PgSagaStore::Release(std::unique_ptr<pg::Connection> conn) {
    if (!conn || !conn->healthy()) return;
    std::lock_guard lock(mu_);
    if (static_cast<int>(idle_.size()) < options_.max_idle_connections) {
        idle_.push_back(std::move(conn));
    }
}

}  // namespace sagaflow::store
