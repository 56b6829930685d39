#include "pg_saga_store.hpp"

#include "pg_rows.hpp"

#include <algorithm>
#include <unordered_map>

namespace sagaflow::store {
namespace {

using engine::HistoryEvent;
using engine::PendingRecord;
using engine::SagaFilter;
using engine::SagaRecord;
using pg::Params;
using pg::Statement;

// Timestamps cross the wire as microseconds since the epoch, exactly.
#define SF_TS(n) "('epoch'::timestamptz + $" #n "::bigint * interval '1 microsecond')"
#define SF_US(col) "(extract(epoch FROM " col ") * 1000000)::bigint"
#define SF_AT(col) "'epoch'::timestamptz + " col " * interval '1 microsecond'"

#define SF_SAGA_COLUMNS(t)                                                                      \
    t "id, " t "workflow, " t "workflow_version, " t "state_code, " t "nodes::text, " t          \
      "input::text, " t "context::text, " t "business_key, " t "failure_reason, " t "trace_id, " t \
      "version, " SF_US(t "created_at") ", " SF_US(t "updated_at") ", " t "parent_id, " t "parent_node"
#define SF_PENDING_COLUMNS(t)                                                                  \
    t "saga_id, " t "msg_id, " t "node, " t "phase, " t "action, " t "queue, " t "attempt, " SF_US( \
        t "not_before") ", " SF_US(t "created_at") ", " t "kind"

constexpr Statement kGetSaga{"sf_get_saga", "SELECT " SF_SAGA_COLUMNS("") " FROM sagas WHERE id = $1::uuid"};
constexpr Statement kFindByKey{"sf_find_by_key", "SELECT id FROM sagas WHERE workflow = $1 AND business_key = $2"};
// SagaFilter::Matches in SQL ($1..$8), for the list and the count.
#define SF_SAGA_FILTER                                                        \
    " WHERE ($1::smallint IS NULL OR state_code = $1::smallint)"              \
    " AND ($2::text IS NULL OR workflow = $2::text)"                          \
    " AND ($3::int IS NULL OR workflow_version = $3::int)"                    \
    " AND ($4::text IS NULL OR business_key = $4::text)"                      \
    " AND ($5::bigint IS NULL OR created_at >= " SF_TS(5) ")"                 \
    " AND ($6::bigint IS NULL OR created_at < " SF_TS(6) ")"                  \
    " AND ($7::bigint IS NULL OR (created_at, id) < (" SF_TS(7) ", $8::uuid))"
constexpr Statement kListSagas{
    "sf_list_sagas",
    "SELECT " SF_SAGA_COLUMNS("") " FROM sagas" SF_SAGA_FILTER " ORDER BY created_at DESC, id DESC LIMIT $9::int"};
constexpr Statement kCountSagas{"sf_count_sagas", "SELECT count(*) FROM sagas" SF_SAGA_FILTER};
// Bulk jobs: a few rows, one statement each.
#define SF_BULK_COLUMNS \
    "id, action, filter::text, reason, requested_by, rate, matched, done, refused, state_code, " \
    SF_US("created_at") ", " SF_US("updated_at")
constexpr Statement kInsertBulkJob{
    "sf_insert_bulk_job",
    "INSERT INTO saga_bulk_jobs (id, action, filter, reason, requested_by, rate, matched, done, refused, state_code,"
    " created_at, updated_at) VALUES ($1::uuid, $2, $3::jsonb, $4, $5, $6::int, $7::bigint, $8::bigint, $9::bigint,"
    " $10::smallint, " SF_TS(11) ", " SF_TS(12) ")"};
constexpr Statement kUpdateBulkJob{
    "sf_update_bulk_job",
    "UPDATE saga_bulk_jobs SET filter = $2::jsonb, done = $3::bigint, refused = $4::bigint, state_code = $5::smallint,"
    " updated_at = " SF_TS(6) " WHERE id = $1::uuid"};
constexpr Statement kGetBulkJob{"sf_get_bulk_job", "SELECT " SF_BULK_COLUMNS " FROM saga_bulk_jobs WHERE id = $1::uuid"};
constexpr Statement kListBulkJobs{
    "sf_list_bulk_jobs",
    "SELECT " SF_BULK_COLUMNS " FROM saga_bulk_jobs WHERE (NOT $2::bool OR state_code = 1)"
    " ORDER BY created_at DESC, id DESC LIMIT $1::int"};
constexpr Statement kInsertSaga{
    "sf_insert_saga",
    "INSERT INTO sagas (id, workflow, workflow_version, state_code, nodes, input, context, business_key,"
    " failure_reason, trace_id, version, created_at, updated_at, parent_id, parent_node)"
    " VALUES ($1::uuid, $2, $3::int, $4::smallint, $5::jsonb, $6::jsonb, $7::jsonb, $8, $9, $10, $11::bigint, "
    SF_TS(12) ", " SF_TS(13) ", $14::uuid, $15)"
    " ON CONFLICT (workflow, business_key) WHERE business_key IS NOT NULL DO NOTHING"};
// The sagas a transaction starts without a business key, written with it in one statement
// (such a row has no unique key but its fresh id, so nothing is taken by anyone else).
constexpr Statement kInsertSagas{
    "sf_insert_sagas",
    "INSERT INTO sagas (id, workflow, workflow_version, state_code, nodes, input, context, business_key,"
    " failure_reason, trace_id, version, created_at, updated_at, parent_id, parent_node)"
    " SELECT x.id, x.workflow, x.workflow_version, x.state_code, x.nodes, x.input, x.context, NULL,"
    " x.failure_reason, x.trace_id, x.version, " SF_AT("x.created_us") ", " SF_AT("x.updated_us")
    ", x.parent_id, x.parent_node"
    " FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, workflow text, workflow_version int, state_code smallint,"
    " nodes jsonb, input jsonb, context jsonb, failure_reason text, trace_id text, version bigint, created_us bigint,"
    " updated_us bigint, parent_id uuid, parent_node text)"};
constexpr Statement kGetPending{"sf_get_pending",
                                "SELECT " SF_PENDING_COLUMNS("") " FROM saga_pending WHERE msg_id = $1::uuid"};
constexpr Statement kPendingOf{"sf_pending_of",
                               "SELECT " SF_PENDING_COLUMNS("") " FROM saga_pending WHERE saga_id = $1::uuid"
                               " ORDER BY created_at, msg_id"};
// Recovery: every pending item with its saga (the command's payload), earliest first.
constexpr Statement kPendingWork{
    "sf_pending_work",
    "SELECT " SF_PENDING_COLUMNS("p.") ", " SF_SAGA_COLUMNS("s.")
    " FROM saga_pending p JOIN sagas s ON s.id = p.saga_id ORDER BY p.not_before, p.msg_id LIMIT $1::int"};
// The pending items of a batch of replies and their sagas, sent together in one round trip.
constexpr Statement kPrefetchPending{
    "sf_prefetch_pending", "SELECT " SF_PENDING_COLUMNS("") " FROM saga_pending WHERE msg_id = ANY($1::uuid[])"};
constexpr Statement kPrefetchSagas{
    "sf_prefetch_sagas",
    "SELECT " SF_SAGA_COLUMNS("") " FROM sagas"
    " WHERE id IN (SELECT saga_id FROM saga_pending WHERE msg_id = ANY($1::uuid[]))"};
constexpr Statement kHistory{"sf_history",
                             "SELECT seq, events::text FROM saga_events WHERE saga_id = $1::uuid ORDER BY seq"};

// A transaction's writes are kept (and read back) in memory, then written with one
// statement per kind just before COMMIT, in the same round trip. The writes that must
// change every row they name fail in the database when they do not (sagaflow_expect_rows,
// migration 0002: SQLSTATE 40001, a concurrent change), so they can travel with COMMIT.
// One row of a kind goes through a plain prepared statement: cheaper than JSON.
#define SF_EXPECT(want, what) " SELECT sagaflow_expect_rows(count(*), " want ", '" what "') FROM u"
#define SF_UPDATE_SAGA                                                                               \
    "UPDATE sagas SET state_code = $2::smallint, nodes = $3::jsonb, context = $4::jsonb, failure_reason = $5," \
    " version = $6::bigint, updated_at = " SF_TS(7) " WHERE id = $1::uuid AND version = $8::bigint"
constexpr Statement kUpdateSaga{"sf_update_saga", SF_UPDATE_SAGA};
constexpr Statement kUpdateSagaChecked{"sf_update_saga_checked",
                                       "WITH u AS (" SF_UPDATE_SAGA " RETURNING 1)" SF_EXPECT("1", "a saga")};
constexpr Statement kUpdateSagas{
    "sf_update_sagas",
    "WITH u AS (UPDATE sagas s SET state_code = x.state_code, nodes = x.nodes, context = x.context,"
    " failure_reason = x.failure_reason, version = x.version, updated_at = " SF_AT("x.updated_us")
    " FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, state_code smallint, nodes jsonb, context jsonb,"
    " failure_reason text, version bigint, updated_us bigint, expected bigint)"
    " WHERE s.id = x.id AND s.version = x.expected RETURNING 1)" SF_EXPECT("jsonb_array_length($1::jsonb)", "a saga")};
// Alerts for the webhook: rare (a saga stopping in failed), so one row per statement.
constexpr Statement kInsertAlert{
    "sf_insert_alert",
    "INSERT INTO saga_alerts (saga_id, event, attempts, next_at, created_at)"
    " VALUES ($1::uuid, $2::jsonb, $3::int, " SF_TS(4) ", " SF_TS(5) ")"};
constexpr Statement kDueAlerts{
    "sf_due_alerts",
    "SELECT saga_id, id, event::text, attempts, " SF_US("next_at") ", " SF_US("created_at")
    " FROM saga_alerts WHERE next_at <= " SF_TS(1) " ORDER BY next_at, id LIMIT $2::int"};
constexpr Statement kDeleteAlert{"sf_delete_alert",
                                 "DELETE FROM saga_alerts WHERE saga_id = $1::uuid AND id = $2::bigint"};
constexpr Statement kDeferAlert{
    "sf_defer_alert",
    "UPDATE saga_alerts SET attempts = $3::int, next_at = " SF_TS(4) " WHERE saga_id = $1::uuid AND id = $2::bigint"};
// Retention (StoreTx::ExpireEnded): one statement removes a batch of ended sagas and
// everything keyed by them. The sagas are taken oldest first through sagas_state
// (state_code, created_at): a saga that last changed before the cutoff was created before
// it too. SKIP LOCKED passes over a saga a transaction is changing now (an operator
// compensating a completed saga); the advisory lock lets one node's batch run at a time.
constexpr Statement kExpireEnded{
    "sf_expire_ended",
    "WITH lock AS (SELECT pg_try_advisory_xact_lock(1397573447, hashtext(current_schema())) AS got),"
    " doomed AS (SELECT s.id FROM sagas s, lock WHERE lock.got AND s.state_code = $1::smallint"
    "   AND s.created_at < " SF_TS(2) " AND s.updated_at < " SF_TS(2)
    "   ORDER BY s.created_at, s.id LIMIT $3::int FOR UPDATE OF s SKIP LOCKED),"
    " e AS (DELETE FROM saga_events x USING doomed d WHERE x.saga_id = d.id RETURNING 1),"
    " p AS (DELETE FROM saga_pending x USING doomed d WHERE x.saga_id = d.id RETURNING 1),"
    " g AS (DELETE FROM saga_signals x USING doomed d WHERE x.saga_id = d.id RETURNING 1),"
    " a AS (DELETE FROM saga_alerts x USING doomed d WHERE x.saga_id = d.id RETURNING 1),"
    " s AS (DELETE FROM sagas x USING doomed d WHERE x.id = d.id RETURNING 1)"
    " SELECT (SELECT got FROM lock)::int, (SELECT count(*) FROM s), (SELECT count(*) FROM e),"
    " (SELECT count(*) FROM p), (SELECT count(*) FROM a), (SELECT count(*) FROM g)"};
constexpr Statement kInsertPending{
    "sf_insert_pending",
    "INSERT INTO saga_pending (saga_id, msg_id, node, phase, action, queue, attempt, not_before, created_at, kind)"
    " VALUES ($1::uuid, $2::uuid, $3, $4::smallint, $5, $6, $7::int, " SF_TS(8) ", " SF_TS(9) ", $10::smallint)"};
constexpr Statement kInsertPendings{
    "sf_insert_pendings",
    "INSERT INTO saga_pending (saga_id, msg_id, node, phase, action, queue, attempt, not_before, created_at, kind)"
    " SELECT x.saga_id, x.msg_id, x.node, x.phase, x.action, x.queue, x.attempt, " SF_AT("x.not_before_us")
    ", " SF_AT("x.created_us") ", x.kind"
    " FROM jsonb_to_recordset($1::jsonb) AS x(saga_id uuid, msg_id uuid, node text, phase smallint, action text,"
    " queue text, attempt int, not_before_us bigint, created_us bigint, kind smallint)"};
// Signals: a few per saga at most, so one row per statement, sent when asked.
#define SF_SIGNAL_COLUMNS "saga_id, signal_id, name, payload::text, coalesce(consumed_by, ''), " SF_US("received_at")
constexpr Statement kGetSignal{"sf_get_signal", "SELECT " SF_SIGNAL_COLUMNS " FROM saga_signals"
                                                " WHERE saga_id = $1::uuid AND signal_id = $2"};
constexpr Statement kWaitingSignal{"sf_waiting_signal",
                                   "SELECT " SF_SIGNAL_COLUMNS " FROM saga_signals WHERE saga_id = $1::uuid"
                                   " AND name = $2 AND consumed_by IS NULL ORDER BY seq LIMIT 1"};
constexpr Statement kSignalsOf{"sf_signals_of",
                               "SELECT " SF_SIGNAL_COLUMNS " FROM saga_signals WHERE saga_id = $1::uuid ORDER BY seq"};
constexpr Statement kInsertSignal{
    "sf_insert_signal",
    "INSERT INTO saga_signals (saga_id, signal_id, name, payload, consumed_by, received_at)"
    " VALUES ($1::uuid, $2, $3, $4::jsonb, nullif($5, ''), " SF_TS(6) ") ON CONFLICT DO NOTHING"};
constexpr Statement kConsumeSignal{
    "sf_consume_signal",
    "UPDATE saga_signals SET consumed_by = $3 WHERE saga_id = $1::uuid AND signal_id = $2 AND consumed_by IS NULL"};
#undef SF_SIGNAL_COLUMNS
constexpr Statement kUpdatePendings{
    "sf_update_pendings",
    "WITH u AS (UPDATE saga_pending p SET attempt = x.attempt, not_before = " SF_AT("x.not_before_us")
    " FROM jsonb_to_recordset($1::jsonb) AS x(msg_id uuid, attempt int, not_before_us bigint)"
    " WHERE p.msg_id = x.msg_id RETURNING 1)" SF_EXPECT("jsonb_array_length($1::jsonb)", "a pending item")};
constexpr Statement kDeletePending{
    "sf_delete_pending", "WITH u AS (DELETE FROM saga_pending WHERE msg_id = $1::uuid RETURNING 1)"
                         SF_EXPECT("1", "a pending item")};
constexpr Statement kDeletePendings{
    "sf_delete_pendings", "WITH u AS (DELETE FROM saga_pending WHERE msg_id = ANY($1::uuid[]) RETURNING 1)"
                          SF_EXPECT("cardinality($1::uuid[])", "a pending item")};
constexpr Statement kAppendEvents{"sf_append_events",
                                  "INSERT INTO saga_events (saga_id, at, events) VALUES ($1::uuid, " SF_TS(2)
                                  ", $3::jsonb)"};
constexpr Statement kAppendEventRows{
    "sf_append_event_rows",
    "INSERT INTO saga_events (saga_id, at, events)"
    " SELECT x.saga_id, " SF_AT("x.at_us") ", x.events"
    " FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (saga_id uuid, at_us bigint, events jsonb)) WITH ORDINALITY"
    " AS x(saga_id, at_us, events, n) ORDER BY x.n"};

#undef SF_EXPECT
#undef SF_UPDATE_SAGA
#undef SF_TS
#undef SF_US
#undef SF_AT
#undef SF_SAGA_COLUMNS
#undef SF_PENDING_COLUMNS


std::string UuidArray(const std::vector<std::string>& ids) {
    std::string array = "{";
    for (const auto& id : ids) array += (array.size() > 1 ? "," : "") + id;
    return array + "}";
}

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

    std::optional<SagaId> FindByBusinessKey(const std::string& workflow, const BusinessKey& key) override {
        Flush();
        auto r = conn_->Exec(kFindByKey, {workflow, key.str()});
        if (r.rows() == 0) return std::nullopt;
        return SagaId(r.Text(0, 0));
    }

    std::optional<PendingRecord> GetPending(const MsgId& id) override {
        if (auto it = pending_.find(id.str()); it != pending_.end()) return it->second;
        auto r = conn_->Exec(kGetPending, {id.str()});
        if (r.rows() == 0) return pending_[id.str()] = std::nullopt;
        return pending_[id.str()] = PendingFromRow(r, 0);
    }

    void Prefetch(const std::vector<MsgId>& ids) override {
        std::vector<std::string> wanted;
        for (const MsgId& id : ids) {
            if (!pending_.count(id.str())) wanted.push_back(id.str());
        }
        if (wanted.empty()) return;
        const std::string array = UuidArray(wanted);
        // The pending items and their sagas, in one round trip (with BEGIN, when first).
        const auto r = conn_->Pipeline({{&kPrefetchPending, {}, {array}}, {&kPrefetchSagas, {}, {array}}});
        for (const auto& id : wanted) pending_.emplace(id, std::nullopt);  // absent unless found
        for (int i = 0; i < r[0].rows(); ++i) {
            PendingRecord p = PendingFromRow(r[0], i);
            pending_[p.msg_id.str()] = std::move(p);
        }
        for (int i = 0; i < r[1].rows(); ++i) {
            SagaRecord v = SagaFromRow(r[1], i);
            sagas_.emplace(v.id.str(), std::move(v));  // a saga changed here keeps its new state
        }
    }

    // $1..$8 of SF_SAGA_FILTER.
    static Params FilterParams(const SagaFilter& f) {
        auto micros = [](const std::optional<Timestamp>& t) {
            return t ? pg::Param(std::to_string(t->time_since_epoch().count())) : std::nullopt;
        };
        return {f.status ? pg::Param(std::to_string(static_cast<int>(*f.status))) : std::nullopt,
                f.workflow,
                f.version ? pg::Param(std::to_string(*f.version)) : std::nullopt,
                f.business_key ? pg::Param(f.business_key->str()) : std::nullopt,
                micros(f.created_after),
                micros(f.created_before),
                micros(f.after ? std::optional(f.after->created_at) : std::nullopt),
                f.after ? pg::Param(f.after->id.str()) : std::nullopt};
    }

    std::vector<SagaRecord> ListSagas(const SagaFilter& f) override {
        Params p = FilterParams(f);
        p.push_back(std::to_string(f.limit));
        Flush();
        auto r = conn_->Exec(kListSagas, p);
        std::vector<SagaRecord> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(SagaFromRow(r, i));
        return out;
    }

    std::int64_t CountSagas(const SagaFilter& f) override {
        Flush();
        return conn_->Exec(kCountSagas, FilterParams(f)).Int(0, 0);
    }

    static Params BulkParams(const engine::BulkJob& j) {
        return {j.id, j.action, nlohmann::json(j.filter).dump(), j.reason, j.requested_by, std::to_string(j.rate),
                std::to_string(j.matched), std::to_string(j.done), std::to_string(j.refused),
                std::to_string(static_cast<int>(j.state)), Micros(j.created_at), Micros(j.updated_at)};
    }

    static engine::BulkJob BulkFromRow(const pg::Result& r, int i) {
        engine::BulkJob j;
        j.id = r.Text(i, 0);
        j.action = r.Text(i, 1);
        j.filter = nlohmann::json::parse(r.View(i, 2)).get<SagaFilter>();
        j.reason = r.Text(i, 3);
        j.requested_by = r.Text(i, 4);
        j.rate = static_cast<int>(r.Int(i, 5));
        j.matched = r.Int(i, 6);
        j.done = r.Int(i, 7);
        j.refused = r.Int(i, 8);
        j.state = r.Int(i, 9) == 2 ? engine::BulkState::kFinished : engine::BulkState::kRunning;
        j.created_at = Timestamp(std::chrono::microseconds(r.Int(i, 10)));
        j.updated_at = Timestamp(std::chrono::microseconds(r.Int(i, 11)));
        return j;
    }

    void InsertBulkJob(const engine::BulkJob& j) override {
        Flush();
        (void)conn_->Exec(kInsertBulkJob, BulkParams(j));
    }

    void UpdateBulkJob(const engine::BulkJob& j) override {
        Flush();
        const Params p{j.id, nlohmann::json(j.filter).dump(), std::to_string(j.done), std::to_string(j.refused),
                       std::to_string(static_cast<int>(j.state)), Micros(j.updated_at)};
        if (conn_->Exec(kUpdateBulkJob, p).affected() != 1) {
            throw Error(ErrorCode::kInternal, "no bulk job " + j.id + " to update");
        }
    }

    std::optional<engine::BulkJob> GetBulkJob(const std::string& id) override {
        if (!ParseUuidId<SagaId>(id)) return std::nullopt;  // not a UUID: no such job (and no SQL error)
        Flush();
        auto r = conn_->Exec(kGetBulkJob, {id});
        if (r.rows() == 0) return std::nullopt;
        return BulkFromRow(r, 0);
    }

    std::vector<engine::BulkJob> ListBulkJobs(int limit, bool running_only) override {
        Flush();
        auto r = conn_->Exec(kListBulkJobs, {std::to_string(limit), running_only ? "true" : "false"});
        std::vector<engine::BulkJob> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(BulkFromRow(r, i));
        return out;
    }

    std::vector<std::pair<PendingRecord, SagaRecord>> PendingWork(int limit) override {
        Flush();
        auto r = conn_->Exec(kPendingWork, {std::to_string(limit)});
        std::vector<std::pair<PendingRecord, SagaRecord>> out;
        for (int i = 0; i < r.rows(); ++i) out.emplace_back(PendingFromRow(r, i), SagaFromRow(r, i, 10));
        return out;
    }

    std::vector<PendingRecord> PendingOf(const SagaId& id) override {
        Flush();
        auto r = conn_->Exec(kPendingOf, {id.str()});
        std::vector<PendingRecord> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(PendingFromRow(r, i));
        return out;
    }

    std::vector<HistoryEvent> History(const SagaId& id) override {
        Flush();
        auto r = conn_->Exec(kHistory, {id.str()});
        std::vector<HistoryEvent> out;
        for (int i = 0; i < r.rows(); ++i) AppendHistoryRow(r, i, id, out);
        return out;
    }

    bool InsertSaga(const SagaRecord& s) override {
        const std::string id = s.id.str();
        if (!s.business_key) {  // nothing another start can take: written with the rest
            if (!sagas_.emplace(id, s).second) throw Error(ErrorCode::kAlreadyExists, "saga " + id + " exists");
            new_sagas_.push_back(id);
            return true;
        }
        auto r = conn_->Exec(kInsertSaga, InsertParams(s));  // a key may be taken: answered now
        if (r.affected() != 1) return false;
        sagas_[id] = s;
        return true;
    }

    void UpdateSaga(const SagaRecord& s, std::int64_t expected_version) override {
        const std::string id = s.id.str();
        auto it = sagas_.find(id);
        if (it == sagas_.end()) {  // never read here: update now, checking the version
            const pg::Query q = SagaWrite(s, expected_version, &kUpdateSaga);
            if (conn_->Exec(*q.statement, q.params).affected() != 1) {
                throw Error(ErrorCode::kAborted, "saga " + id + " changed concurrently");
            }
            return;
        }
        if (it->second.version != expected_version) throw Error(ErrorCode::kAborted, "saga " + id + " changed concurrently");
        // Started here and not yet written: the insert writes it as it is now.
        if (!Listed(new_sagas_, id) && saga_expected_.emplace(id, expected_version).second) dirty_sagas_.push_back(id);
        it->second = s;
    }

    void InsertPending(const PendingRecord& p) override {
        const std::string id = p.msg_id.str();
        auto it = pending_.find(id);
        if (it != pending_.end() && it->second) throw Error(ErrorCode::kAlreadyExists, "pending item " + id);
        pending_[id] = p;
        new_pending_.push_back(id);
    }

    void UpdatePending(const PendingRecord& p) override {
        const std::string id = p.msg_id.str();
        auto it = pending_.find(id);
        if (it == pending_.end() || !it->second) throw Error(ErrorCode::kAborted, "pending item " + id + " is gone");
        it->second->attempt = p.attempt;
        it->second->not_before = p.not_before;
        if (!Listed(new_pending_, id) && !Listed(dirty_pending_, id)) dirty_pending_.push_back(id);
    }

    void DeletePending(const PendingRecord& p) override {
        const std::string id = p.msg_id.str();
        auto it = pending_.find(id);
        if (it != pending_.end() && !it->second) throw Error(ErrorCode::kAborted, "pending item " + id + " is gone");
        pending_[id] = std::nullopt;
        std::erase(dirty_pending_, id);
        if (Listed(new_pending_, id)) {
            std::erase(new_pending_, id);  // armed and resolved in one transaction: never written
        } else {
            deleted_pending_.push_back(id);
        }
    }

    void AppendHistory(const HistoryEvent& e) override {
        const std::string id = e.saga_id.str();
        auto [it, fresh] = history_.try_emplace(id);
        if (fresh) history_order_.push_back(id);
        it->second.push_back(e);
    }

    std::optional<engine::SignalRecord> GetSignal(const SagaId& saga, const std::string& id) override {
        Flush();
        auto r = conn_->Exec(kGetSignal, {saga.str(), id});
        if (r.rows() == 0) return std::nullopt;
        return SignalFromRow(r, 0);
    }

    std::optional<engine::SignalRecord> WaitingSignal(const SagaId& saga, const std::string& name) override {
        Flush();
        auto r = conn_->Exec(kWaitingSignal, {saga.str(), name});
        if (r.rows() == 0) return std::nullopt;
        return SignalFromRow(r, 0);
    }

    std::vector<engine::SignalRecord> SignalsOf(const SagaId& saga) override {
        Flush();
        auto r = conn_->Exec(kSignalsOf, {saga.str()});
        std::vector<engine::SignalRecord> out;
        for (int i = 0; i < r.rows(); ++i) out.push_back(SignalFromRow(r, i));
        return out;
    }

    void InsertSignal(const engine::SignalRecord& g) override {
        Flush();
        auto r = conn_->Exec(kInsertSignal, {g.saga_id.str(), g.id, g.name, g.payload.dump(), g.consumed_by,
                                             Micros(g.received_at)});
        if (r.affected() != 1) {
            throw Error(ErrorCode::kAborted, "signal " + g.id + " of saga " + g.saga_id.str() + " was applied concurrently");
        }
    }

    void ConsumeSignal(const engine::SignalRecord& g) override {
        Flush();
        auto r = conn_->Exec(kConsumeSignal, {g.saga_id.str(), g.id, g.consumed_by});
        if (r.affected() != 1) {
            throw Error(ErrorCode::kAborted, "signal " + g.id + " of saga " + g.saga_id.str() + " was taken concurrently");
        }
    }

    void InsertAlert(const engine::AlertRecord& a) override { new_alerts_.push_back(a); }

    std::vector<engine::AlertRecord> DueAlerts(Timestamp now, int limit) override {
        Flush();
        auto r = conn_->Exec(kDueAlerts, {Micros(now), std::to_string(limit)});
        std::vector<engine::AlertRecord> out;
        for (int i = 0; i < r.rows(); ++i) {
            engine::AlertRecord a;
            a.saga_id = SagaId(r.Text(i, 0));
            a.id = r.Int(i, 1);
            a.event = nlohmann::json::parse(r.View(i, 2), nullptr, false);
            a.attempts = static_cast<int>(r.Int(i, 3));
            a.next_at = Timestamp(std::chrono::microseconds(r.Int(i, 4)));
            a.created_at = Timestamp(std::chrono::microseconds(r.Int(i, 5)));
            out.push_back(std::move(a));
        }
        return out;
    }

    void DeleteAlert(const engine::AlertRecord& a) override {
        Flush();
        (void)conn_->Exec(kDeleteAlert, {a.saga_id.str(), std::to_string(a.id)});
    }

    void DeferAlert(const engine::AlertRecord& a) override {
        Flush();
        (void)conn_->Exec(kDeferAlert, {a.saga_id.str(), std::to_string(a.id), std::to_string(a.attempts), Micros(a.next_at)});
    }

    engine::ExpiredCounts ExpireEnded(SagaStatus status, Timestamp cutoff, int limit) override {
        if (!IsTerminal(status)) {
            throw Error(ErrorCode::kInvalidArgument, "retention removes only ended sagas (completed, compensated, cancelled)");
        }
        Flush();
        auto r = conn_->Exec(kExpireEnded, {std::to_string(static_cast<int>(status)), Micros(cutoff), std::to_string(limit)});
        // What this transaction read may be gone now; everything it wrote is flushed.
        sagas_.clear();
        pending_.clear();
        engine::ExpiredCounts out;
        out.locked_out = r.Int(0, 0) == 0;
        out.sagas = r.Int(0, 1);
        out.history_rows = r.Int(0, 2);
        out.pending = r.Int(0, 3);
        out.alerts = r.Int(0, 4);
        out.signals = r.Int(0, 5);
        return out;
    }

    void Commit() override {
        tx_->Commit(PendingWrites());  // the writes and COMMIT in one round trip
    }

private:
    static bool Listed(const std::vector<std::string>& v, const std::string& id) {
        return std::find(v.begin(), v.end(), id) != v.end();
    }

    static pg::Query SagaWrite(const SagaRecord& s, std::int64_t expected, const Statement* st) {
        return {st,
                {},
                {s.id.str(), std::to_string(static_cast<int>(s.status)), nlohmann::json(s.nodes).dump(), s.context.dump(),
                 s.failure_reason, std::to_string(s.version), Micros(s.updated_at), std::to_string(expected)}};
    }

    static Params InsertParams(const SagaRecord& s) {
        return {s.id.str(), s.workflow, std::to_string(s.workflow_version), std::to_string(static_cast<int>(s.status)),
                nlohmann::json(s.nodes).dump(), s.input.dump(), s.context.dump(), OptId(s.business_key),
                s.failure_reason, s.trace_id.str(), std::to_string(s.version), Micros(s.created_at),
                Micros(s.updated_at), OptId(s.parent_id), s.parent_id ? pg::Param(s.parent_node) : std::nullopt};
    }

    // The deferred writes, as statements.
    std::vector<pg::Query> PendingWrites() {
        std::vector<pg::Query> out;
        if (new_sagas_.size() == 1) {
            out.push_back({&kInsertSaga, {}, InsertParams(sagas_.at(new_sagas_.front()))});
        } else if (!new_sagas_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : new_sagas_) {
                const SagaRecord& v = sagas_.at(id);
                rows.push_back({{"id", id}, {"workflow", v.workflow}, {"workflow_version", v.workflow_version},
                                {"state_code", static_cast<int>(v.status)}, {"nodes", v.nodes}, {"input", v.input},
                                {"context", v.context}, {"failure_reason", v.failure_reason},
                                {"trace_id", v.trace_id.str()}, {"version", v.version},
                                {"created_us", v.created_at.time_since_epoch().count()},
                                {"updated_us", v.updated_at.time_since_epoch().count()},
                                {"parent_id", v.parent_id ? nlohmann::json(v.parent_id->str()) : nlohmann::json(nullptr)},
                                {"parent_node", v.parent_id ? nlohmann::json(v.parent_node) : nlohmann::json(nullptr)}});
            }
            out.push_back({&kInsertSagas, {}, {rows.dump()}});
        }
        if (!deleted_pending_.empty()) {
            if (deleted_pending_.size() == 1) {
                out.push_back({&kDeletePending, {}, {deleted_pending_.front()}});
            } else {
                out.push_back({&kDeletePendings, {}, {UuidArray(deleted_pending_)}});
            }
        }
        if (new_pending_.size() == 1) {
            const PendingRecord& p = *pending_.at(new_pending_.front());
            out.push_back({&kInsertPending,
                           {},
                           {p.saga_id.str(), p.msg_id.str(), p.node, std::to_string(static_cast<int>(p.phase)), p.action,
                            p.queue, std::to_string(p.attempt), Micros(p.not_before), Micros(p.created_at),
                            std::to_string(static_cast<int>(p.kind))}});
        } else if (!new_pending_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : new_pending_) {
                const PendingRecord& p = *pending_.at(id);
                rows.push_back({{"saga_id", p.saga_id.str()}, {"msg_id", id}, {"node", p.node},
                                {"phase", static_cast<int>(p.phase)}, {"action", p.action}, {"queue", p.queue},
                                {"attempt", p.attempt}, {"not_before_us", p.not_before.time_since_epoch().count()},
                                {"created_us", p.created_at.time_since_epoch().count()},
                                {"kind", static_cast<int>(p.kind)}});
            }
            out.push_back({&kInsertPendings, {}, {rows.dump()}});
        }
        if (!dirty_pending_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : dirty_pending_) {
                const PendingRecord& p = *pending_.at(id);
                rows.push_back({{"msg_id", id}, {"attempt", p.attempt},
                                {"not_before_us", p.not_before.time_since_epoch().count()}});
            }
            out.push_back({&kUpdatePendings, {}, {rows.dump()}});
        }
        if (dirty_sagas_.size() == 1) {
            const std::string& id = dirty_sagas_.front();
            out.push_back(SagaWrite(sagas_.at(id), saga_expected_.at(id), &kUpdateSagaChecked));
        } else if (!dirty_sagas_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : dirty_sagas_) {
                const SagaRecord& v = sagas_.at(id);
                rows.push_back({{"id", id}, {"state_code", static_cast<int>(v.status)}, {"nodes", v.nodes},
                                {"context", v.context}, {"failure_reason", v.failure_reason}, {"version", v.version},
                                {"updated_us", v.updated_at.time_since_epoch().count()},
                                {"expected", saga_expected_.at(id)}});
            }
            out.push_back({&kUpdateSagas, {}, {rows.dump()}});
        }
        // One history row per saga of this transaction, its events in order.
        if (history_order_.size() == 1) {
            const auto& events = history_.at(history_order_.front());
            out.push_back({&kAppendEvents, {}, {history_order_.front(), Micros(events.front().at), nlohmann::json(events).dump()}});
        } else if (!history_order_.empty()) {
            nlohmann::json rows = nlohmann::json::array();
            for (const auto& id : history_order_) {
                const auto& events = history_.at(id);
                rows.push_back({{"saga_id", id}, {"at_us", events.front().at.time_since_epoch().count()}, {"events", events}});
            }
            out.push_back({&kAppendEventRows, {}, {rows.dump()}});
        }
        for (const engine::AlertRecord& a : new_alerts_) {
            out.push_back({&kInsertAlert, {}, {a.saga_id.str(), a.event.dump(), std::to_string(a.attempts),
                                               Micros(a.next_at), Micros(a.created_at)}});
        }
        new_alerts_.clear();
        new_sagas_.clear();
        new_pending_.clear();
        dirty_pending_.clear();
        deleted_pending_.clear();
        dirty_sagas_.clear();
        saga_expected_.clear();
        history_.clear();
        history_order_.clear();
        return out;
    }

    // Everything deferred so far, in one round trip; a row that changed under us aborts.
    void Flush() {
        const std::vector<pg::Query> writes = PendingWrites();
        if (!writes.empty()) conn_->Pipeline(writes);
    }

    // What this transaction read or wrote (nullopt: known absent, or deleted here), and
    // what it must write.
    std::unordered_map<std::string, SagaRecord> sagas_;
    std::unordered_map<std::string, std::int64_t> saga_expected_;  // version the row must still have
    std::vector<std::string> new_sagas_;  // started here, keyless: inserted with the transaction's writes
    std::vector<std::string> dirty_sagas_;
    std::unordered_map<std::string, std::optional<PendingRecord>> pending_;
    std::vector<std::string> new_pending_, dirty_pending_, deleted_pending_;
    std::vector<engine::AlertRecord> new_alerts_;
    std::unordered_map<std::string, std::vector<HistoryEvent>> history_;
    std::vector<std::string> history_order_;
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
