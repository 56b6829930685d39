#include "inbox.hpp"

#include <map>
#include <optional>

namespace sagaflow::worker {
namespace {

using nlohmann::json;

// One saga step at a time on this database: a forward action and its compensation (or
// two copies of one command) must see each other's inbox rows. The lock is tried, never
// waited for (a batch holding other steps' locks would deadlock with another batch), and
// taken in the same statement that claims the command: one round trip for both.
constexpr pg::Statement kLockAndClaim{
    "sfw_lock_and_claim",
    "WITH lock AS (SELECT pg_try_advisory_xact_lock(hashtext($2::uuid::text), $3::int) AS got)"
    " INSERT INTO sagaflow_inbox (msg_id, saga_id, step_index, phase, action, outcome, reply)"
    " SELECT $1::uuid, $2::uuid, $3::int, $4::smallint, $5, $6, $7::jsonb FROM lock WHERE lock.got"
    " ON CONFLICT (msg_id) DO NOTHING"};
constexpr pg::Statement kLockStep{"sfw_lock_step",
                                  "SELECT pg_try_advisory_xact_lock(hashtext($1::uuid::text), $2::int)"};
constexpr pg::Statement kStoredReply{"sfw_stored_reply",
                                     "SELECT reply::text FROM sagaflow_inbox WHERE msg_id = $1::uuid"};
// Everything seen before for this step under other msg ids, both phases.
constexpr pg::Statement kPrior{
    "sfw_prior",
    "SELECT phase, outcome, reply::text FROM sagaflow_inbox WHERE saga_id = $1::uuid AND step_index = $2::int"
    " AND msg_id <> $3::uuid"};
// The quick path (see ExecuteBatch) claims nothing up front: it takes the locks of a
// whole batch in one statement that reads no table, then reads each step's rows in a
// statement of its own, whose snapshot therefore sees what the lock's last holder
// committed, and writes each command's one inbox row, outcome and all, with COMMIT.
constexpr pg::Statement kLockSteps{
    "sfw_lock_steps",
    "SELECT pg_try_advisory_xact_lock(hashtext(u.s::text), u.k)"
    " FROM unnest($1::uuid[], $2::int[]) WITH ORDINALITY AS u(s, k, n) ORDER BY u.n"};
// (The second half finds the msg id stored under another step, which only a forged
// command can carry: it is answered from there, as the careful path answers it.)
constexpr pg::Statement kStepRows{
    "sfw_step_rows",
    "SELECT msg_id = $3::uuid, phase, outcome, reply::text FROM sagaflow_inbox"
    " WHERE saga_id = $1::uuid AND step_index = $2::int"
    " UNION ALL SELECT true, phase, outcome, reply::text FROM sagaflow_inbox"
    " WHERE msg_id = $3::uuid AND (saga_id <> $1::uuid OR step_index <> $2::int)"};
constexpr pg::Statement kInsertRow{
    "sfw_insert_row",
    "INSERT INTO sagaflow_inbox (msg_id, saga_id, step_index, phase, action, outcome, reply)"
    " VALUES ($1::uuid, $2::uuid, $3::int, $4::smallint, $5, $6, $7::jsonb)"};
constexpr pg::Statement kInsertRows{
    "sfw_insert_rows",
    "INSERT INTO sagaflow_inbox (msg_id, saga_id, step_index, phase, action, outcome, reply)"
    " SELECT x.msg_id, x.saga_id, x.step_index, x.phase, x.action, x.outcome, x.reply"
    " FROM jsonb_to_recordset($1::jsonb) AS x(msg_id uuid, saga_id uuid, step_index int, phase smallint,"
    " action text, outcome text, reply jsonb)"};
// Inbox retention: the oldest rows past the window, a bounded batch per statement; rows
// another transaction holds are passed over (several workers may share one inbox).
constexpr pg::Statement kExpireInbox{
    "sfw_expire_inbox",
    "DELETE FROM sagaflow_inbox WHERE msg_id IN (SELECT msg_id FROM sagaflow_inbox"
    " WHERE created_at < 'epoch'::timestamptz + $1::bigint * interval '1 microsecond'"
    " ORDER BY created_at LIMIT $2::int FOR UPDATE SKIP LOCKED)"};
constexpr pg::Statement kStore{
    "sfw_store",
    "UPDATE sagaflow_inbox SET outcome = $2, reply = $3::jsonb WHERE msg_id = $1::uuid"};

constexpr const char* kSavepoint = "SAVEPOINT sagaflow_command";
constexpr const char* kRollbackToSavepoint = "ROLLBACK TO SAVEPOINT sagaflow_command";

/// The handler's statements. With `savepoint_first`, the command's savepoint is set only
/// when the handler first writes, in the same round trip as that statement.
class Tx final : public StepTransaction {
public:
    Tx(pg::Connection& c, bool savepoint_first) : c_(c), savepoint_pending_(savepoint_first) {}
    std::vector<SqlRow> Exec(const std::string& sql, const std::vector<SqlParam>& params) override {
        pg::Params p;
        p.reserve(params.size());
        for (const SqlParam& param : params) p.push_back(param.value());
        std::optional<pg::Result> result;
        if (savepoint_pending_) {
            savepoint_pending_ = false;
            try {
                auto both = c_.Pipeline({pg::Query{nullptr, kSavepoint, {}}, pg::Query{nullptr, sql, std::move(p)}});
                savepoint_set_ = true;
                result.emplace(std::move(both[1]));
            } catch (const Error&) {
                // The savepoint ran unless the link is gone (then nothing is rolled back here).
                savepoint_set_ = c_.healthy();
                throw;
            }
        } else {
            result.emplace(c_.Exec(sql, p));
        }
        const pg::Result& r = *result;
        affected_ = r.affected();
        std::vector<SqlRow> rows;
        for (int i = 0; i < r.rows(); ++i) {
            SqlRow row;
            for (int k = 0; k < r.columns(); ++k) row.push_back(r.OptText(i, k));
            rows.push_back(std::move(row));
        }
        return rows;
    }
    std::int64_t affected() const override { return affected_; }

    /// Undoes the handler's writes, if it made any.
    void Undo() {
        if (savepoint_set_) c_.Exec(kRollbackToSavepoint);
    }

private:
    pg::Connection& c_;
    bool savepoint_pending_;
    bool savepoint_set_ = false;
    std::int64_t affected_ = 0;
};




pg::Params ClaimParams(const protocol::Envelope& cmd, const char* outcome, const std::string& reply) {
    return {cmd.msg_id, cmd.saga_id, std::to_string(cmd.step_index), PhaseText(cmd.phase), cmd.action,
            std::string(outcome), reply};
}

pg::Params PriorParams(const protocol::Envelope& cmd) {
    return {cmd.saga_id, std::to_string(cmd.step_index), cmd.msg_id};
}

pg::Params StoreParams(const protocol::Envelope& cmd, const Outcome& o) {
    return {cmd.msg_id, std::string(ToString(o.outcome)), EncodeOutcome(o).dump()};
}


/// `r`'s rows from column `col` on: phase, outcome, reply.
std::vector<PriorRow> PriorRows(const pg::Result& r, int col, bool skip_same) {
    std::vector<PriorRow> out;
    for (int i = 0; i < r.rows(); ++i) {
        if (skip_same && r.View(i, 0) == "t") continue;
        out.push_back({r.Text(i, col), r.View(i, col + 1) == "ok", r.Text(i, col + 2)});
    }
    return out;
}


StepResult RunHandler(const protocol::Envelope& cmd, const Handler& handler, Tx& tx, AtomicStats& stats) {
    EnvelopeContext ctx(cmd, tx);
    ++stats.handler_runs;
    return handler(ctx);
}

// The careful path, one command at a time under a savepoint opened by Execute.
Outcome Run(pg::Connection& conn, const protocol::Envelope& cmd, const Handler& handler,
            const HandlerOptions& options, AtomicStats& stats) {
    Tx step_tx(conn, false);
    if (!options.use_inbox) {
        StepResult r = RunHandler(cmd, handler, step_tx, stats);
        if (r.ok) return {ReplyOutcome::kOk, std::move(r.output), {}};
        conn.Exec(kRollbackToSavepoint);  // a business failure writes nothing
        return {ReplyOutcome::kFail, json::object(), std::move(r.reason)};
    }
    auto finish = [&](const Outcome& o) {
        conn.Exec(kStore, StoreParams(cmd, o));
        return o;
    };
    const auto claim = [&](const char* outcome, const std::string& reply) {
        return conn.Exec(kLockAndClaim, ClaimParams(cmd, outcome, reply)).affected() == 1;
    };
    if (!claim("running", "{}")) {
        if (conn.Exec(kLockStep, {cmd.saga_id, std::to_string(cmd.step_index)}).View(0, 0) != "t") {
            // Another transaction runs this step now; its outcome lands in the inbox, and
            // sagad's resend of this command is answered from there.
            throw Error(ErrorCode::kAborted, "busy: another transaction is running this step");
        }
        ++stats.inbox_hits;  // claimed before: answer as then
        return DecodeOutcome(conn.Exec(kStoredReply, {cmd.msg_id}).Text(0, 0));
    }
    if (auto early = Guard(cmd.phase, PriorRows(conn.Exec(kPrior, PriorParams(cmd)), 0, false), stats)) {
        return finish(*early);
    }

    StepResult r = RunHandler(cmd, handler, step_tx, stats);
    if (r.ok) return finish({ReplyOutcome::kOk, std::move(r.output), {}});
    // A business failure writes nothing: undo the handler's writes (and the claim), then
    // store the failure in the claim's place, under the lock again.
    conn.Exec(kRollbackToSavepoint);
    const Outcome failed{ReplyOutcome::kFail, json::object(), std::move(r.reason)};
    if (!claim("fail", EncodeOutcome(failed).dump())) {
        throw Error(ErrorCode::kAborted, "busy: another transaction took this step during the handler");
    }
    return failed;
}

// Runs `body`; if it throws and the connection survives, `undo` rolls back the command's
// writes and the outcome is `retry` (never stored). A lost connection loses the whole
// transaction: that propagates.
template <class Body, class Undo>
Outcome RetryOnThrow(pg::Connection& conn, AtomicStats& stats, Body&& body, Undo&& undo) {
    std::string why;
    try {
        return body();
    } catch (const std::exception& e) {
        if (!conn.healthy()) throw;
        why = e.what();
    } catch (...) {
        if (!conn.healthy()) throw;
        why = "handler threw a non-standard exception";
    }
    undo();
    ++stats.retries;
    return {ReplyOutcome::kRetry, json::object(), why};
}

// One command under a savepoint of its own (the careful path).
Outcome Execute(pg::Connection& conn, const protocol::Envelope& cmd, const Handler& handler,
                const HandlerOptions& options, AtomicStats& stats) {
    conn.Exec(kSavepoint);
    return RetryOnThrow(
        conn, stats,
        [&] {
            Outcome o = Run(conn, cmd, handler, options, stats);
            conn.Exec("RELEASE SAVEPOINT sagaflow_command");
            return o;
        },
        [&] { conn.Exec(kRollbackToSavepoint); });
}

// The quick path for a command whose step lock this transaction holds and that it has not
// run before: the handler's writes sit under a savepoint of their own, set with its first
// statement; the outcome is stored by the caller.
Outcome RunLocked(pg::Connection& conn, const protocol::Envelope& cmd, const Handler& handler,
                  const std::vector<PriorRow>& prior, AtomicStats& stats) {
    if (auto early = Guard(cmd.phase, prior, stats)) return *early;
    Tx step_tx(conn, true);
    return RetryOnThrow(
        conn, stats,
        [&]() -> Outcome {
            StepResult r = RunHandler(cmd, handler, step_tx, stats);
            if (r.ok) return {ReplyOutcome::kOk, std::move(r.output), {}};
            step_tx.Undo();  // a business failure writes nothing; the failure is stored
            return {ReplyOutcome::kFail, json::object(), std::move(r.reason)};
        },
        [&] { step_tx.Undo(); });
}

}  // namespace

std::vector<Outcome> ExecuteBatch(pg::Connection& conn, const std::vector<protocol::Envelope>& batch,
                                  const HandlerLookup& lookup, AtomicStats& stats) {
    // The quick path takes inbox commands whose step has no other command in this batch
    // (a step's forward action and its compensation, or two copies of one command, go
    // the careful way, one after the other).
    std::map<std::pair<std::string, int>, int> per_step;
    for (const auto& cmd : batch) ++per_step[{cmd.saga_id, cmd.step_index}];
    std::vector<std::size_t> quick, careful;
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const bool alone = per_step[{batch[i].saga_id, batch[i].step_index}] == 1;
        (alone && lookup(batch[i].queue).second.use_inbox ? quick : careful).push_back(i);
    }
    // First round trip: BEGIN, the quick commands' step locks, then each step's rows.
    std::vector<pg::Query> head;
    if (!quick.empty()) {
        std::string sagas = "{", steps = "{";
        for (std::size_t i : quick) {
            sagas += (sagas.size() > 1 ? "," : "") + batch[i].saga_id;
            steps += (steps.size() > 1 ? "," : "") + std::to_string(batch[i].step_index);
        }
        head.push_back({&kLockSteps, {}, {sagas + "}", steps + "}"}});
        for (std::size_t i : quick) head.push_back({&kStepRows, {}, PriorParams(batch[i])});
    }
    std::vector<pg::Result> heads;
    pg::Transaction tx(conn, head, heads);

    std::vector<Outcome> outcomes(batch.size());
    json rows = json::array();  // the quick commands' inbox rows, written with COMMIT
    for (std::size_t k = 0; k < quick.size(); ++k) {
        const auto& cmd = batch[quick[k]];
        const pg::Result& step_rows = heads[1 + k];
        if (heads[0].View(static_cast<int>(k), 0) != "t") {
            careful.push_back(quick[k]);  // another transaction runs this step now
            continue;
        }
        std::optional<std::string> stored;
        for (int r = 0; r < step_rows.rows() && !stored; ++r) {
            if (step_rows.View(r, 0) == "t") stored = step_rows.Text(r, 3);
        }
        if (stored) {
            ++stats.inbox_hits;  // run before: answer as then
            outcomes[quick[k]] = DecodeOutcome(*stored);
            continue;
        }
        Outcome o = RunLocked(conn, cmd, lookup(cmd.queue).first, PriorRows(step_rows, 1, true), stats);
        if (o.outcome != ReplyOutcome::kRetry) {  // a retry leaves no row: the next try runs afresh
            rows.push_back({{"msg_id", cmd.msg_id}, {"saga_id", cmd.saga_id}, {"step_index", cmd.step_index},
                            {"phase", static_cast<int>(cmd.phase)}, {"action", cmd.action},
                            {"outcome", ToString(o.outcome)}, {"reply", EncodeOutcome(o)}});
        }
        outcomes[quick[k]] = std::move(o);
    }
    for (std::size_t i : careful) {
        const auto& [handler, options] = lookup(batch[i].queue);
        outcomes[i] = Execute(conn, batch[i], handler, options, stats);
    }
    std::vector<pg::Query> tail;
    if (rows.size() == 1) {
        const json& r = rows[0];
        tail.push_back({&kInsertRow,
                        {},
                        {r["msg_id"].get<std::string>(), r["saga_id"].get<std::string>(),
                         std::to_string(r["step_index"].get<int>()), std::to_string(r["phase"].get<int>()),
                         r["action"].get<std::string>(), r["outcome"].get<std::string>(), r["reply"].dump()}});
    } else if (!rows.empty()) {
        tail.push_back({&kInsertRows, {}, {rows.dump()}});
    }
    tx.Commit(tail);  // one commit serves the whole batch; nothing is sent before it
    ++stats.transactions;
    return outcomes;
}

std::int64_t ExpireInbox(pg::Connection& conn, Timestamp cutoff, int limit) {
    return conn.Exec(kExpireInbox, {std::to_string(cutoff.time_since_epoch().count()), std::to_string(limit)})
        .affected();
}

}  // namespace sagaflow::worker
