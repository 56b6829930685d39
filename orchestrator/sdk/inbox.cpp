#include "inbox.hpp"

namespace sagaflow::worker {
namespace {

using nlohmann::json;

// One saga step at a time on this database: a forward action and its compensation (or
// two copies of one command) must see each other's inbox rows. Never waited for: a
// batch holding other steps' locks would deadlock with another batch.
constexpr pg::Statement kLockStep{"sfw_lock_step",
                                  "SELECT pg_try_advisory_xact_lock(hashtext($1), $2::int)"};
constexpr pg::Statement kClaim{
    "sfw_claim",
    "INSERT INTO sagaflow_inbox (msg_id, saga_id, step_index, phase, action, outcome, reply)"
    " VALUES ($1::uuid, $2::uuid, $3::int, $4::smallint, $5, 'running', '{}')"
    " ON CONFLICT (msg_id) DO NOTHING"};
constexpr pg::Statement kStoredReply{"sfw_stored_reply",
                                     "SELECT reply::text FROM sagaflow_inbox WHERE msg_id = $1::uuid"};
constexpr pg::Statement kDoneBefore{
    "sfw_done_before",
    "SELECT reply::text FROM sagaflow_inbox WHERE saga_id = $1::uuid AND step_index = $2::int"
    " AND phase = $3::smallint AND outcome = 'ok' AND msg_id <> $4::uuid LIMIT 1"};
constexpr pg::Statement kSeen{
    "sfw_seen",
    "SELECT outcome FROM sagaflow_inbox WHERE saga_id = $1::uuid AND step_index = $2::int"
    " AND phase = $3::smallint AND msg_id <> $4::uuid"};
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
        if (options.use_inbox) {
            conn.Exec(kStore, {cmd.msg_id, std::string(ToString(o.outcome)), ToJson(o).dump()});
        }
        return o;
    };

    if (options.use_inbox) {
        if (conn.Exec(kLockStep, {cmd.saga_id, step}).View(0, 0) != "t") {
            // Another transaction runs this step now; its outcome lands in the inbox, and
            // sagad's resend of this command is answered from there.
            throw Error(ErrorCode::kAborted, "busy: another transaction is running this step");
        }
        if (conn.Exec(kClaim, {cmd.msg_id, cmd.saga_id, step, phase, cmd.action}).affected() == 0) {
            ++stats.inbox_hits;
            return FromJson(conn.Exec(kStoredReply, {cmd.msg_id}).Text(0, 0));
        }
        // Done before under another msg id (a manual retry): answer as then.
        auto before = conn.Exec(kDoneBefore, {cmd.saga_id, step, phase, cmd.msg_id});
        if (before.rows() > 0) {
            ++stats.inbox_hits;
            return finish(FromJson(before.Text(0, 0)));
        }
        const std::string other_phase = cmd.phase == Phase::kForward ? "2" : "1";
        auto other = conn.Exec(kSeen, {cmd.saga_id, step, other_phase, cmd.msg_id});
        if (cmd.phase == Phase::kForward && other.rows() > 0) {
            // Its compensation came first: running it now would leave an effect no one undoes.
            ++stats.forwards_after_compensation;
            return finish({ReplyOutcome::kFail, json::object(),
                           "refused: the step was compensated before it ran"});
        }
        bool forward_done = false;
        for (int i = 0; i < other.rows(); ++i) forward_done |= other.View(i, 0) == "ok";
        if (cmd.phase == Phase::kCompensate && !forward_done) {
            ++stats.compensations_without_forward;
            return finish({ReplyOutcome::kOk, {{"compensated", false}},
                           "nothing to undo: the forward action never ran here"});
        }
    }

    conn.Exec("SAVEPOINT sagaflow_handler");
    Tx step_tx(conn);
    Context ctx(cmd, step_tx);
    ++stats.handler_runs;
    StepResult r = handler(ctx);
    if (r.ok) {
        conn.Exec("RELEASE SAVEPOINT sagaflow_handler");
        return finish({ReplyOutcome::kOk, std::move(r.output), {}});
    }
    conn.Exec("ROLLBACK TO SAVEPOINT sagaflow_handler");  // a business failure writes nothing
    return finish({ReplyOutcome::kFail, json::object(), std::move(r.reason)});
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
