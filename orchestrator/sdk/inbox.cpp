#include "inbox.hpp"

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

class Tx final : public StepTransaction {
public:
    explicit Tx(pg::Connection& c) : c_(c) {}
    std::vector<SqlRow> Exec(const std::string& sql, const std::vector<SqlParam>& params) override {
        pg::Result r = c_.Exec(sql, pg::Params(params.begin(), params.end()));
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

private:
    pg::Connection& c_;
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

}  // namespace

namespace {

Outcome Run(pg::Connection& conn, const protocol::Envelope& cmd, const Handler& handler,
            const HandlerOptions& options, AtomicStats& stats) {
    const std::string step = std::to_string(cmd.step_index);
    const std::string phase = std::to_string(static_cast<int>(cmd.phase));
    auto finish = [&](const Outcome& o) {
        conn.Exec(kStore, {cmd.msg_id, std::string(ToString(o.outcome)), ToJson(o).dump()});
        return o;
    };

    const auto run_handler = [&] {
        Tx step_tx(conn);
        Context ctx(cmd, step_tx);
        ++stats.handler_runs;
        return handler(ctx);
    };
    if (!options.use_inbox) {
        StepResult r = run_handler();
        if (r.ok) return {ReplyOutcome::kOk, std::move(r.output), {}};
        conn.Exec("ROLLBACK TO SAVEPOINT sagaflow_command");  // a business failure writes nothing
        return {ReplyOutcome::kFail, json::object(), std::move(r.reason)};
    }
    const auto claim = [&](const char* outcome, const std::string& reply) {
        return conn.Exec(kLockAndClaim, {cmd.msg_id, cmd.saga_id, step, phase, cmd.action, std::string(outcome), reply})
                   .affected() == 1;
    };
    if (!claim("running", "{}")) {
        if (conn.Exec(kLockStep, {cmd.saga_id, step}).View(0, 0) != "t") {
            // Another transaction runs this step now; its outcome lands in the inbox, and
            // sagad's resend of this command is answered from there.
            throw Error(ErrorCode::kAborted, "busy: another transaction is running this step");
        }
        ++stats.inbox_hits;  // claimed before: answer as then
        return FromJson(conn.Exec(kStoredReply, {cmd.msg_id}).Text(0, 0));
    }
    const std::string other_phase = cmd.phase == Phase::kForward ? "2" : "1";
    auto prior = conn.Exec(kPrior, {cmd.saga_id, step, cmd.msg_id});
    bool other_seen = false, forward_done = false;
    for (int i = 0; i < prior.rows(); ++i) {
        const bool ok = prior.View(i, 1) == "ok";
        if (prior.View(i, 0) == phase && ok) {
            // Done before under another msg id (a manual retry): answer as then.
            ++stats.inbox_hits;
            return finish(FromJson(prior.Text(i, 2)));
        }
        if (prior.View(i, 0) == other_phase) {
            other_seen = true;
            forward_done |= ok;
        }
    }
    if (cmd.phase == Phase::kForward && other_seen) {
        // Its compensation came first: running it now would leave an effect no one undoes.
        ++stats.forwards_after_compensation;
        return finish({ReplyOutcome::kFail, json::object(), "refused: the step was compensated before it ran"});
    }
    if (cmd.phase == Phase::kCompensate && !forward_done) {
        ++stats.compensations_without_forward;
        return finish({ReplyOutcome::kOk, {{"compensated", false}},
                       "nothing to undo: the forward action never ran here"});
    }

    StepResult r = run_handler();
    if (r.ok) return finish({ReplyOutcome::kOk, std::move(r.output), {}});
    // A business failure writes nothing: undo the handler's writes (and the claim), then
    // store the failure in the claim's place, under the lock again.
    conn.Exec("ROLLBACK TO SAVEPOINT sagaflow_command");
    const Outcome failed{ReplyOutcome::kFail, json::object(), std::move(r.reason)};
    if (!claim("fail", ToJson(failed).dump())) {
        throw Error(ErrorCode::kAborted, "busy: another transaction took this step during the handler");
    }
    return failed;
}

}  // namespace

Outcome Execute(pg::Connection& conn, const protocol::Envelope& cmd, const Handler& handler,
                const HandlerOptions& options, AtomicStats& stats) {
    conn.Exec("SAVEPOINT sagaflow_command");
    try {
        Outcome o = Run(conn, cmd, handler, options, stats);
        conn.Exec("RELEASE SAVEPOINT sagaflow_command");
        return o;
    } catch (const std::exception& e) {
        if (!conn.healthy()) throw;  // the whole transaction is lost
        conn.Exec("ROLLBACK TO SAVEPOINT sagaflow_command");
        ++stats.retries;
        return {ReplyOutcome::kRetry, json::object(), e.what()};
    } catch (...) {
        if (!conn.healthy()) throw;
        conn.Exec("ROLLBACK TO SAVEPOINT sagaflow_command");
        ++stats.retries;
        return {ReplyOutcome::kRetry, json::object(), "handler threw a non-standard exception"};
    }
}

}  // namespace sagaflow::worker
