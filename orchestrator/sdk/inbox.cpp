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
constexpr pg::Statement kUnclaim{"sfw_unclaim", "DELETE FROM sagaflow_inbox WHERE msg_id = $1::uuid"};
constexpr pg::Statement kStore{
    "sfw_store",
    "UPDATE sagaflow_inbox SET outcome = $2, reply = $3::jsonb WHERE msg_id = $1::uuid"};

json ToJson(const Outcome& o) {
    return {{"outcome", ToString(o.outcome)}, {"output", o.output}, {"reason", o.reason}};
}

Outcome FromJson(const std::string& text) {
    const json j = json::parse(text);
    Outcome o;
    const std::string outcome = j.at("outcome").get<std::string>();
    o.outcome = outcome == "ok" ? ReplyOutcome::kOk : ReplyOutcome::kFail;
    o.output = j.value("output", json::object());
    o.reason = j.value("reason", "");
    return o;
}

constexpr const char* kSavepoint = "SAVEPOINT sagaflow_command";
constexpr const char* kRollbackToSavepoint = "ROLLBACK TO SAVEPOINT sagaflow_command";

/// The handler's statements. With `savepoint_first`, the command's savepoint is set only
/// when the handler first writes, in the same round trip as that statement.
class Tx final : public StepTransaction {
public:
    Tx(pg::Connection& c, bool savepoint_first) : c_(c), savepoint_pending_(savepoint_first) {}
    std::vector<SqlRow> Exec(const std::string& sql, const std::vector<SqlParam>& params) override {
        pg::Params p(params.begin(), params.end());
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

class Context final : public StepContext {
public:
    Context(const protocol::Envelope& e, StepTransaction& tx)
        : e_(e),
          tx_(tx),
          input_(e.payload.contains("input") ? e.payload.at("input") : json::object()),
          context_(e.payload.contains("context") ? e.payload.at("context") : json::object()) {}
    const std::string& saga_id() const override { return e_.saga_id; }
    const std::string& workflow() const override { return e_.workflow; }
    const std::string& step() const override { return e_.step; }
    int step_index() const override { return e_.step_index; }
    const std::string& action() const override { return e_.action; }
    Phase phase() const override { return e_.phase; }
    int attempt() const override { return e_.attempt; }
    const std::optional<std::string>& business_key() const override { return e_.business_key; }
    const std::string& trace_id() const override { return e_.trace_id; }
    const std::string& msg_id() const override { return e_.msg_id; }
    Timestamp deadline() const override { return Timestamp{Duration{e_.deadline_us}}; }
    const json& input() const override { return input_; }
    const json& context() const override { return context_; }
    StepTransaction& tx() override { return tx_; }

private:
    const protocol::Envelope& e_;
    StepTransaction& tx_;
    json input_;
    json context_;
};


std::string PhaseText(Phase phase) { return std::to_string(static_cast<int>(phase)); }

pg::Params ClaimParams(const protocol::Envelope& cmd, const char* outcome, const std::string& reply) {
    return {cmd.msg_id, cmd.saga_id, std::to_string(cmd.step_index), PhaseText(cmd.phase), cmd.action,
            std::string(outcome), reply};
}

pg::Params PriorParams(const protocol::Envelope& cmd) {
    return {cmd.saga_id, std::to_string(cmd.step_index), cmd.msg_id};
}

pg::Params StoreParams(const protocol::Envelope& cmd, const Outcome& o) {
    return {cmd.msg_id, std::string(ToString(o.outcome)), ToJson(o).dump()};
}

/// The guards of a freshly claimed command, from what this step saw before under other
/// msg ids (`prior`: kPrior's rows). An outcome means: answer this, do not run the handler.
std::optional<Outcome> Guard(const protocol::Envelope& cmd, const pg::Result& prior, AtomicStats& stats) {
    const std::string phase = PhaseText(cmd.phase);
    const std::string other_phase = cmd.phase == Phase::kForward ? "2" : "1";
    bool other_seen = false, forward_done = false;
    for (int i = 0; i < prior.rows(); ++i) {
        const bool ok = prior.View(i, 1) == "ok";
        if (prior.View(i, 0) == phase && ok) {
            // Done before under another msg id (a manual retry): answer as then.
            ++stats.inbox_hits;
            return FromJson(prior.Text(i, 2));
        }
        if (prior.View(i, 0) == other_phase) {
            other_seen = true;
            forward_done |= ok;
        }
    }
    if (cmd.phase == Phase::kForward && other_seen) {
        // Its compensation came first: running it now would leave an effect no one undoes.
        ++stats.forwards_after_compensation;
        return Outcome{ReplyOutcome::kFail, json::object(), "refused: the step was compensated before it ran"};
    }
    if (cmd.phase == Phase::kCompensate && !forward_done) {
        ++stats.compensations_without_forward;
        return Outcome{ReplyOutcome::kOk, {{"compensated", false}}, "nothing to undo: the forward action never ran here"};
    }
    return std::nullopt;
}

StepResult RunHandler(const protocol::Envelope& cmd, const Handler& handler, Tx& tx, AtomicStats& stats) {
    Context ctx(cmd, tx);
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
        return FromJson(conn.Exec(kStoredReply, {cmd.msg_id}).Text(0, 0));
    }
    if (auto early = Guard(cmd, conn.Exec(kPrior, PriorParams(cmd)), stats)) return finish(*early);

    StepResult r = RunHandler(cmd, handler, step_tx, stats);
    if (r.ok) return finish({ReplyOutcome::kOk, std::move(r.output), {}});
    // A business failure writes nothing: undo the handler's writes (and the claim), then
    // store the failure in the claim's place, under the lock again.
    conn.Exec(kRollbackToSavepoint);
    const Outcome failed{ReplyOutcome::kFail, json::object(), std::move(r.reason)};
    if (!claim("fail", ToJson(failed).dump())) {
        throw Error(ErrorCode::kAborted, "busy: another transaction took this step during the handler");
    }
    return failed;
}

// One command under a savepoint of its own: if the handler throws or the database fails,
// only this command's writes are rolled back and its outcome is `retry` (never stored).
Outcome Execute(pg::Connection& conn, const protocol::Envelope& cmd, const Handler& handler,
                const HandlerOptions& options, AtomicStats& stats) {
    conn.Exec(kSavepoint);
    try {
        Outcome o = Run(conn, cmd, handler, options, stats);
        conn.Exec("RELEASE SAVEPOINT sagaflow_command");
        return o;
    } catch (const std::exception& e) {
        if (!conn.healthy()) throw;  // the whole transaction is lost
        conn.Exec(kRollbackToSavepoint);
        ++stats.retries;
        return {ReplyOutcome::kRetry, json::object(), e.what()};
    } catch (...) {
        if (!conn.healthy()) throw;
        conn.Exec(kRollbackToSavepoint);
        ++stats.retries;
        return {ReplyOutcome::kRetry, json::object(), "handler threw a non-standard exception"};
    }
}

// The quick path for a command claimed in the batch's first round trip: the claim stays
// (it sits outside the handler's savepoint, as does the step's lock), the handler's writes
// sit under a savepoint of their own, set with its first statement.
Outcome RunClaimed(pg::Connection& conn, const protocol::Envelope& cmd, const Handler& handler,
                   const pg::Result& prior, AtomicStats& stats) {
    if (auto early = Guard(cmd, prior, stats)) return *early;
    Tx step_tx(conn, true);
    try {
        StepResult r = RunHandler(cmd, handler, step_tx, stats);
        if (r.ok) return {ReplyOutcome::kOk, std::move(r.output), {}};
        step_tx.Undo();  // a business failure writes nothing; the failure is stored
        return {ReplyOutcome::kFail, json::object(), std::move(r.reason)};
    } catch (const std::exception& e) {
        if (!conn.healthy()) throw;
        step_tx.Undo();
        ++stats.retries;
        return {ReplyOutcome::kRetry, json::object(), e.what()};
    } catch (...) {
        if (!conn.healthy()) throw;
        step_tx.Undo();
        ++stats.retries;
        return {ReplyOutcome::kRetry, json::object(), "handler threw a non-standard exception"};
    }
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
    // First round trip: BEGIN, every quick command's claim (with its step's lock), then
    // what each step saw before.
    std::vector<pg::Query> head;
    for (std::size_t i : quick) head.push_back({&kLockAndClaim, {}, ClaimParams(batch[i], "running", "{}")});
    for (std::size_t i : quick) head.push_back({&kPrior, {}, PriorParams(batch[i])});
    std::vector<pg::Result> heads;
    pg::Transaction tx(conn, head, heads);

    std::vector<Outcome> outcomes(batch.size());
    std::vector<pg::Query> tail;  // stored outcomes, sent with COMMIT
    for (std::size_t k = 0; k < quick.size(); ++k) {
        const auto& cmd = batch[quick[k]];
        if (heads[k].affected() != 1) {
            careful.push_back(quick[k]);  // claimed before, or its step is busy
            continue;
        }
        Outcome o = RunClaimed(conn, cmd, lookup(cmd.queue).first, heads[quick.size() + k], stats);
        if (o.outcome == ReplyOutcome::kRetry) {
            tail.push_back({&kUnclaim, {}, {cmd.msg_id}});  // the next try claims afresh
        } else {
            tail.push_back({&kStore, {}, StoreParams(cmd, o)});
        }
        outcomes[quick[k]] = std::move(o);
    }
    for (std::size_t i : careful) {
        const auto& [handler, options] = lookup(batch[i].queue);
        outcomes[i] = Execute(conn, batch[i], handler, options, stats);
    }
    tx.Commit(tail);  // one commit serves the whole batch; nothing is sent before it
    ++stats.transactions;
    return outcomes;
}

}  // namespace sagaflow::worker
