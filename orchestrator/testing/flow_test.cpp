#include "sagaflow/testing/flow_test.hpp"

#include <algorithm>
#include <deque>
#include <map>
#include <optional>
#include <ostream>
#include <set>
#include <sstream>
#include <utility>

#include "engine.hpp"
#include "memory_store.hpp"
#include "plan.hpp"
#include "sagaflow/core/error.hpp"
#include "step_rules.hpp"

namespace sagaflow::testing {

using nlohmann::json;

std::string_view ToString(FailureKind kind) noexcept {
    switch (kind) {
        case FailureKind::kBusinessFailure: return "business_failure";
        case FailureKind::kTimeouts: return "timeouts";
        case FailureKind::kCrashBeforeCommit: return "crash_before_commit";
        case FailureKind::kCrashAfterCommit: return "crash_after_commit";
        case FailureKind::kDuplicateReply: return "duplicate_reply";
        case FailureKind::kLostReply: return "lost_reply";
    }
    return "unknown";
}

std::string FailurePoint::name() const {
    std::string out = node + "_" + std::string(ToString(kind));
    std::replace_if(out.begin(), out.end(), [](char c) { return c == '.' || c == '-'; }, '_');
    return out;
}

std::vector<std::string> RunReport::actions(Phase phase) const {
    std::vector<std::string> out;
    for (const Effect& e : effects) {
        if (e.phase == phase) out.push_back(e.action);
    }
    return out;
}

namespace {

std::string Joined(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out.empty() ? "none" : out;
}

}  // namespace

std::string RunReport::Describe() const {
    std::ostringstream out;
    out << (point ? point->node + " / " + std::string(ToString(point->kind)) : std::string("no fault"));
    if (!reached) return out.str() + ": not on this input's path";
    out << ": " << ToString(status);
    if (!reason.empty()) out << " (" << reason << ")";
    out << "\n  forward: " << Joined(actions(Phase::kForward))
        << "\n  compensations: " << Joined(actions(Phase::kCompensate));
    for (const auto& p : problems) out << "\n  PROBLEM: " << p;
    return out.str();
}

std::ostream& operator<<(std::ostream& out, const RunReport& report) { return out << report.Describe(); }

struct FlowTest::Spec {
    Workflow workflow;
    json input = json::object();
    std::map<std::pair<std::string, std::string>, std::pair<worker::Handler, worker::HandlerOptions>> handlers;
    SqlFake sql;
};

FlowTest::FlowTest(Workflow workflow) : spec_(std::make_shared<Spec>(Spec{std::move(workflow), json::object(), {}, {}})) {}

FlowTest& FlowTest::Input(json input) {
    spec_->input = std::move(input);
    return *this;
}

FlowTest& FlowTest::Sql(SqlFake fake) {
    spec_->sql = std::move(fake);
    return *this;
}

const Workflow& FlowTest::workflow() const noexcept { return spec_->workflow; }

namespace {

/// The (queue, action) pairs the workflow sends.
std::set<std::pair<std::string, std::string>> SentActions(const Workflow& wf) {
    std::set<std::pair<std::string, std::string>> out;
    for (const StepDef& s : wf.steps()) {
        out.insert({s.queue, s.name});
        if (s.compensation) out.insert({s.compensation->queue.empty() ? s.queue : s.compensation->queue, s.compensation->action});
    }
    return out;
}

}  // namespace

void FlowTest::Add(const std::string& queue, const std::string& action, worker::Handler handler,
                   worker::HandlerOptions options) {
    if (!handler) throw Error(ErrorCode::kInvalidArgument, "Handle needs a handler");
    if (!SentActions(spec_->workflow).contains({queue, action})) {
        throw Error(ErrorCode::kInvalidArgument, "workflow '" + spec_->workflow.name() + "' sends no action '" + action +
                                                     "' to queue '" + queue + "'");
    }
    if (spec_->handlers.contains({queue, action})) {
        throw Error(ErrorCode::kInvalidArgument, "action '" + action + "' of queue '" + queue + "' is already registered");
    }
    worker::Handler h = worker::WithErrorPolicy(std::move(handler), options.permanent);
    spec_->handlers[{queue, action}] = {std::move(h), std::move(options)};
}

std::vector<FailurePoint> FlowTest::FailurePoints() const {
    std::vector<FailurePoint> out;
    for (const StepDef& s : spec_->workflow.steps()) {
        for (FailureKind k : kFailureKinds) out.push_back({s.name, k});
    }
    return out;
}

namespace {

constexpr const char* kWorkerId = "sagaflow-testing";
using Handlers = std::map<std::pair<std::string, std::string>, std::pair<worker::Handler, worker::HandlerOptions>>;
constexpr int kMaxRounds = 100'000;

/// The handler's transaction: statements are staged and become an effect on commit.
class FakeTx final : public worker::StepTransaction {
public:
    explicit FakeTx(const SqlFake& fake) : fake_(fake) {}
    std::vector<worker::SqlRow> Exec(const std::string& sql, const std::vector<worker::SqlParam>& params) override {
        staged_.push_back(sql);
        SqlAnswer a = fake_ ? fake_(sql, params) : SqlAnswer{};
        affected_ = a.affected;
        return std::move(a.rows);
    }
    std::int64_t affected() const override { return affected_; }
    std::vector<std::string> Take() { return std::move(staged_); }

private:
    const SqlFake& fake_;
    std::vector<std::string> staged_;
    std::int64_t affected_ = 0;
};

/// The in-process worker: the inbox's rules in memory, the handlers, and the fault.
class KitWorker final : public engine::WorkerChannel {
public:
    KitWorker(const Handlers& handlers, const SqlFake& sql, const FailurePoint* point)
        : handlers_(handlers), sql_(sql), point_(point) {}

    bool Deliver(const std::string& /*worker*/, const engine::Command& c) override {
        queue_.push_back(c);
        return true;
    }

    /// Runs what was delivered; returns the replies that reach sagad.
    std::vector<engine::Reply> RunQueued() {
        std::vector<engine::Reply> replies;
        while (!queue_.empty()) {
            engine::Command c = std::move(queue_.front());
            queue_.pop_front();
            const bool at_point = point_ != nullptr && c.phase == Phase::kForward && c.step == point_->node;
            if (at_point) reached_ = true;
            // The fault of this command, if it is the point's: on its first delivery, or on
            // every one for timeouts.
            std::optional<FailureKind> fault;
            if (at_point && (point_->kind == FailureKind::kTimeouts || !fired_)) {
                fired_ = true;
                fault = point_->kind;
            }
            if (fault == FailureKind::kTimeouts) continue;  // never answered
            if (fault == FailureKind::kCrashBeforeCommit) {
                (void)Execute(c, /*commit=*/false, false);
                queue_.clear();  // the process died with everything it held
                continue;
            }
            worker::Outcome o = Execute(c, true, fault == FailureKind::kBusinessFailure);
            if (o.outcome == ReplyOutcome::kRetry && !o.reason.empty()) last_retry_ = c.action + ": " + o.reason;
            if (fault == FailureKind::kCrashAfterCommit) {
                queue_.clear();
                continue;
            }
            if (fault == FailureKind::kLostReply) continue;
            engine::Reply r{c.msg_id, o.outcome, o.output, o.reason, c.saga_id, false, kWorkerId, {}};
            replies.push_back(r);
            if (fault == FailureKind::kDuplicateReply) replies.push_back(r);
        }
        return replies;
    }

    [[nodiscard]] bool reached() const { return reached_; }
    [[nodiscard]] const std::vector<Effect>& effects() const { return effects_; }
    [[nodiscard]] const std::string& last_retry() const { return last_retry_; }
    /// (node, phase) of handlers without the inbox: their repeats are theirs to make harmless.
    [[nodiscard]] const std::set<std::pair<std::string, Phase>>& uncounted() const { return uncounted_; }

private:
    struct Row {
        MsgId msg_id;
        worker::PriorRow prior;
    };

    /// T2 of DESIGN §4 in memory: the inbox, the guards, the handler, the stored reply.
    worker::Outcome Execute(const engine::Command& c, bool commit, bool inject_failure) {
        const auto h = handlers_.find({c.queue, c.action});
        const bool use_inbox = h == handlers_.end() || h->second.second.use_inbox;
        std::vector<Row>& rows = inbox_[{c.saga_id, c.step_index}];
        if (!use_inbox) uncounted_.insert({c.step, c.phase});
        if (use_inbox) {
            for (const Row& row : rows) {
                if (row.msg_id == c.msg_id) return worker::DecodeOutcome(row.prior.reply);  // run before
            }
            std::vector<worker::PriorRow> prior;
            for (const Row& row : rows) prior.push_back(row.prior);
            if (auto early = worker::Guard(c.phase, prior, stats_)) return Store(c, rows, *early, commit, use_inbox);
        }
        if (inject_failure) {
            return Store(c, rows, {ReplyOutcome::kFail, json::object(), "injected business failure at " + c.step},
                         commit, use_inbox);
        }
        FakeTx tx(sql_);
        worker::Outcome o;
        bool faked = false;
        try {
            if (h == handlers_.end()) {
                faked = true;
            } else {
                const protocol::Envelope env = engine::ToEnvelope(c);
                worker::EnvelopeContext ctx(env, tx);
                worker::StepResult r = h->second.first(ctx);
                o = r.ok ? worker::Outcome{ReplyOutcome::kOk, std::move(r.output), {}}
                         : worker::Outcome{ReplyOutcome::kFail, json::object(), std::move(r.reason)};
            }
        } catch (const std::exception& e) {
            return {ReplyOutcome::kRetry, json::object(), e.what()};  // rolled back, nothing stored
        } catch (...) {
            return {ReplyOutcome::kRetry, json::object(), "handler threw a non-standard exception"};
        }
        if (commit && o.outcome == ReplyOutcome::kOk) {
            effects_.push_back({c.step, c.phase, c.action, c.attempt, faked, tx.Take()});
        }
        return Store(c, rows, std::move(o), commit, use_inbox);
    }

    worker::Outcome Store(const engine::Command& c, std::vector<Row>& rows, worker::Outcome o, bool commit,
                          bool use_inbox) {
        if (commit && use_inbox) {
            rows.push_back({c.msg_id, {worker::PhaseText(c.phase), o.outcome == ReplyOutcome::kOk,
                                       worker::EncodeOutcome(o).dump()}});
        }
        return o;
    }

    const Handlers& handlers_;
    const SqlFake& sql_;
    const FailurePoint* point_;
    std::deque<engine::Command> queue_;
    std::map<std::pair<SagaId, int>, std::vector<Row>> inbox_;
    std::vector<Effect> effects_;
    worker::AtomicStats stats_;
    std::set<std::pair<std::string, Phase>> uncounted_;
    bool fired_ = false;
    bool reached_ = false;
    std::string last_retry_;
};

bool Ended(SagaStatus s) { return s == SagaStatus::kCompleted || s == SagaStatus::kCompensated; }

/// What holds in every run: the saga ended, no effect twice, and the compensations are
/// exactly those of the steps whose forward effect committed, in reverse order.
void CheckEveryRun(const Workflow& wf, const std::set<std::pair<std::string, Phase>>& uncounted, RunReport& r,
                   const std::string& last_retry) {
    const engine::Plan plan(wf);  // whether two steps are ordered: the Plan's rule
    if (r.status == SagaStatus::kFailed) {
        r.problems.push_back("the saga ended failed, waiting for an operator: " + r.reason);
    } else if (!Ended(r.status)) {
        r.problems.push_back("the saga did not end: still " + std::string(ToString(r.status)) +
                             (last_retry.empty() ? "" : " (last retry: " + last_retry + ")"));
    }
    std::map<std::pair<std::string, Phase>, int> runs;
    std::map<std::string, std::size_t> completed;  // node -> position of its first forward effect
    std::vector<std::string> undone;
    for (std::size_t i = 0; i < r.effects.size(); ++i) {
        const Effect& e = r.effects[i];
        ++runs[{e.node, e.phase}];
        if (e.phase == Phase::kForward) completed.emplace(e.node, i);
        if (e.phase == Phase::kCompensate) undone.push_back(e.node);
    }
    for (const auto& [key, n] : runs) {
        if (n > 1 && !uncounted.contains(key)) {
            r.problems.push_back("the " + std::string(ToString(key.second)) + " effect of '" + key.first + "' ran " +
                                 std::to_string(n) + " times");
        }
    }
    if (r.status == SagaStatus::kCompleted && !undone.empty()) {
        r.problems.push_back("completed, yet compensations ran: " + Joined(r.actions(Phase::kCompensate)));
    }
    if (r.status != SagaStatus::kCompensated) return;
    for (const auto& [node, at] : completed) {
        const NodeDef& def = wf.node(wf.find(node));
        if (def.step.compensation && std::find(undone.begin(), undone.end(), node) == undone.end()) {
            r.problems.push_back("'" + node + "' completed but its compensation '" + def.step.compensation->action +
                                 "' never ran");
        }
    }
    for (std::size_t i = 0; i < undone.size(); ++i) {
        if (!completed.contains(undone[i])) {
            r.problems.push_back("the compensation of '" + undone[i] + "' ran, but its forward effect never committed");
            continue;
        }
        for (std::size_t j = i + 1; j < undone.size(); ++j) {
            if (!completed.contains(undone[j]) || plan.Concurrent(wf.find(undone[i]), wf.find(undone[j]))) continue;
            if (completed.at(undone[i]) < completed.at(undone[j])) {
                r.problems.push_back("'" + undone[i] + "' was undone before '" + undone[j] +
                                     "', though it completed first (compensation runs in reverse order)");
            }
        }
    }
}

bool LosesFirstReply(FailureKind k) {
    return k == FailureKind::kCrashBeforeCommit || k == FailureKind::kCrashAfterCommit || k == FailureKind::kLostReply;
}

std::set<std::string> ForwardNodes(const RunReport& r) {
    std::set<std::string> out;
    for (const Effect& e : r.effects) {
        if (e.phase == Phase::kForward) out.insert(e.node);
    }
    return out;
}

/// What holds for `point` given the run without faults.
void CheckAgainst(const Workflow& wf, const FailurePoint& point, const RunReport& clean, RunReport& r) {
    const StepDef& step = wf.node(wf.find(point.node)).step;
    SagaStatus expected = clean.status;
    if (point.kind == FailureKind::kBusinessFailure || point.kind == FailureKind::kTimeouts ||
        (LosesFirstReply(point.kind) && step.retry.max_attempts == 1)) {
        expected = SagaStatus::kCompensated;
    }
    if (r.status != expected && Ended(r.status)) {
        r.problems.push_back("ended " + std::string(ToString(r.status)) + ", expected " +
                             std::string(ToString(expected)));
    }
    if ((point.kind == FailureKind::kBusinessFailure || point.kind == FailureKind::kTimeouts) &&
        ForwardNodes(r).contains(point.node)) {
        r.problems.push_back("the forward effect of '" + point.node + "' committed, though it " +
                             (point.kind == FailureKind::kTimeouts ? "never ran" : "failed"));
    }
    if (r.status == SagaStatus::kCompleted && expected == SagaStatus::kCompleted && ForwardNodes(r) != ForwardNodes(clean)) {
        std::vector<std::string> a(ForwardNodes(r).begin(), ForwardNodes(r).end());
        std::vector<std::string> b(ForwardNodes(clean).begin(), ForwardNodes(clean).end());
        r.problems.push_back("ran " + Joined(a) + "; the run without faults ran " + Joined(b));
    }
}

}  // namespace

RunReport FlowTest::RunOnce(const FailurePoint* point) const {
    const Spec& spec = *spec_;
    RunReport report;
    if (point != nullptr) report.point = *point;
    WorkflowRegistry registry;
    registry.Add(spec.workflow);
    engine::MemorySagaStore store;
    ManualClock clock;
    KitWorker worker(spec.handlers, spec.sql, point);
    engine::EngineOptions options;
    options.seed = 1;  // the same backoff jitter every run
    engine::Engine engine(registry, store, worker, clock, options);
    const auto queues = registry.Queues();
    engine.dispatcher().Join(kWorkerId, {queues.begin(), queues.end()}, 1 << 20);

    auto started = engine.Start(engine::StartRequest{spec.workflow.name(), spec.workflow.version(), spec.input});
    if (!started.ok()) {
        report.problems.push_back("the saga did not start: " + started.status().message);
        return report;
    }
    const SagaId id = started->saga_id;
    for (int round = 0;; ++round) {
        if (round == kMaxRounds) {
            report.problems.push_back("the run did not settle in " + std::to_string(kMaxRounds) + " rounds");
            break;
        }
        engine.Tick();
        std::vector<engine::Reply> replies = worker.RunQueued();
        if (!replies.empty()) {
            for (engine::Reply& r : replies) r.late = !engine.dispatcher().Answered(r.msg_id, kWorkerId);
            (void)engine.ApplyReplies(replies);
            continue;
        }
        const auto view = engine.Describe(id);
        if (view.ok() && view->saga.status != SagaStatus::kRunning && view->saga.status != SagaStatus::kCompensating &&
            view->pending.empty()) {
            break;
        }
        const auto next = engine.NextWakeup();
        if (!next) break;  // nothing will ever move again
        if (*next > clock.Now()) clock.Set(*next);
    }
    const engine::SagaView view = engine.Describe(id).value();
    report.status = view.saga.status;
    report.reason = view.saga.failure_reason;
    for (const engine::HistoryEvent& e : view.history) {
        report.history.push_back(e.kind + (e.node.empty() ? "" : " " + e.node));
    }
    report.effects = worker.effects();
    report.reached = point == nullptr || worker.reached();
    if (report.reached) CheckEveryRun(spec.workflow, worker.uncounted(), report, worker.last_retry());
    return report;
}

RunReport FlowTest::Run() const { return RunOnce(nullptr); }

RunReport FlowTest::Run(const FailurePoint& point) const {
    if (workflow().find(point.node) < 0 || workflow().node(workflow().find(point.node)).kind != NodeKind::kStep) {
        throw Error(ErrorCode::kInvalidArgument, "workflow '" + workflow().name() + "' has no step '" + point.node + "'");
    }
    const RunReport clean = RunOnce(nullptr);
    RunReport r = RunOnce(&point);
    if (r.reached) CheckAgainst(workflow(), point, clean, r);
    return r;
}

std::vector<RunReport> ForEachFailurePoint(const FlowTest& test, const std::function<void(const RunReport&)>& each) {
    std::vector<RunReport> out;
    out.push_back(test.Run());
    if (each) each(out.back());
    for (const FailurePoint& p : test.FailurePoints()) {
        out.push_back(test.Run(p));
        if (each) each(out.back());
    }
    return out;
}

}  // namespace sagaflow::testing
