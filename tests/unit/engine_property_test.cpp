// A seeded property test of the whole engine on the memory store: random valid graphs
// (up to 12 nodes, choices, nested parallel groups, timers, signal waits, child sagas of
// a one-step workflow "kid", and deadlines)
// run as sagas through the SagaService, Scheduler and Dispatcher, while a chaotic worker
// answers each command at random: ok, fail, retry, the command lost (a timeout), the
// reply lost after the work was done (a timeout, then the inbox answers the resend), the
// reply duplicated; signals come at random moments (before their wait, at it, again with
// the same id, with names no wait has); timers and deadlines fire as the manual clock
// moves; and an operator compensates now and then, and retries a saga whose
// compensation got stuck.
//
// The worker keeps an inbox by msg id, as the SDK does, and the checks are made against
// what it did (its effects, in order), not against the engine's bookkeeping:
// - every saga ends terminal, waiting for nothing;
// - compensated exactly when a step failed for good (a fail, or its last attempt timed
//   out or answered retry), a deadline passed without an OnDeadline, or the operator asked;
// - a signal id is applied once: the same id again is refused as already applied;
// - every step that took effect and has a compensation is undone exactly once when the
//   saga is compensated (whether the engine knew of the effect or its last attempt timed
//   out), never when it completed;
// - undone in reverse order of completion, wherever two steps are not parallel siblings;
// - nothing that never started is undone;
// - a child saga ends as its node does: completed in a completed saga; compensated (or
//   never started) in a compensated one, its step undone exactly when it took effect.
//
// SAGAFLOW_ENGINE_PROP_SEED and SAGAFLOW_ENGINE_PROP_CASES override the seed and count.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <optional>
#include <random>
#include <set>

#include "engine.hpp"
#include "graph_gen.hpp"
#include "memory_store.hpp"

namespace sagaflow::engine {
namespace {

using nlohmann::json;
using testing::EnvOr;
using testing::GraphGen;
using testing::InSiblingBranches;
using testing::RunCases;

// The worker side: commands handed over wait here until the test picks one.
class ChaosWorker final : public WorkerChannel {
public:
    bool Deliver(const std::string&, const Command& command) override {
        queued.push_back(command);
        return true;
    }
    std::vector<Command> queued;
};

class Case {
public:
    Case(const Workflow& wf, std::mt19937_64& rng) : wf_(wf), rng_(rng) {
        registry_.Add(WorkflowBuilder("kid", 1).Step("kid_step", "q").CompensateWith("undo_kid_step").Build());
        registry_.Add(wf);
        EngineOptions o;
        o.seed = rng_();
        o.record_alerts = true;
        engine_ = std::make_unique<Engine>(registry_, store_, worker_, clock_, o);
        // Half the cases start with a worker of an older build: it serves the forward
        // actions only, so compensations wait aside until the whole-queue build joins.
        if (Chance(0.5)) {
            std::set<std::string> forward;
            for (const StepDef& st : wf_.steps()) forward.insert(st.name);
            forward.insert("kid_step");
            engine_->dispatcher().Join("chaos", {"q"}, 1 << 20, {{"q", forward}});
            forward_only_ = true;
        } else {
            engine_->dispatcher().Join("chaos", {"q"}, 1 << 20);
        }
    }

    void Run() {
        json bits = json::array();
        for (int k = 0; k < 4; ++k) bits.push_back(Chance(0.5));
        auto started = engine_->Start(StartRequest{wf_.name(), wf_.version(), {{"bits", bits}}, std::nullopt});
        ASSERT_TRUE(started.ok()) << started.status().message;
        id_ = started->saga_id;
        for (int round = 0; round < 20000; ++round) {
            const SagaStatus status = State();
            if (status == SagaStatus::kCompleted || status == SagaStatus::kCompensated) return;
            if (status == SagaStatus::kFailed) {  // stuck compensation: the operator fixes it and retries
                ++failed_times_;
                ASSERT_TRUE(engine_->Retry(id_).ok());
                continue;
            }
            if (status == SagaStatus::kRunning && !manual_ && Chance(0.01)) {
                manual_ = engine_->Compensate(id_, "operator").ok();
                continue;
            }
            if (!final_replies_.empty() && Chance(0.05)) {  // a final reply delivered again
                const Reply again = final_replies_[Pick(0, static_cast<int>(final_replies_.size()) - 1)];
                const auto code = engine_->ApplyReply(again).code;
                EXPECT_NE(code, ErrorCode::kOk) << "a duplicated reply was applied";
                continue;
            }
            if (Chance(0.03)) {  // a signal at a random moment
                Signal();
                continue;
            }
            if (engine_->Tick() > 0) continue;
            if (!worker_.queued.empty()) {
                const auto i = static_cast<std::size_t>(Pick(0, static_cast<int>(worker_.queued.size()) - 1));
                const Command c = worker_.queued[i];
                worker_.queued.erase(worker_.queued.begin() + static_cast<std::ptrdiff_t>(i));
                Handle(c);
                continue;
            }
            const auto next = engine_->NextWakeup();
            if (forward_only_ && (!next || Chance(0.02))) {  // the newer build joins, same id
                forward_only_ = false;
                engine_->dispatcher().Join("chaos", {"q"}, 1 << 20);
                continue;
            }
            if (!next && WaitsForSignal()) {  // only a signal moves it on
                Signal();
                continue;
            }
            ASSERT_TRUE(next) << "stalled: nothing due, nothing queued, saga is " << ToString(status);
            clock_.Set(std::max(*next, clock_.Now()));
        }
        FAIL() << "did not end";
    }

    void Check() {
        const SagaStatus status = State();
        const bool off = status == SagaStatus::kCompensated;
        EXPECT_TRUE(off || status == SagaStatus::kCompleted) << ToString(status);
        EXPECT_EQ(off, FailedForGood() || manual_) << "compensated exactly when a step failed for good or the operator asked"
                                                   << HistoryText();
        const auto alerts = store_.Begin()->DueAlerts(Timestamp::max(), 1 << 20);
        const auto own = std::count_if(alerts.begin(), alerts.end(), [&](const AlertRecord& a) { return a.saga_id == id_; });
        EXPECT_EQ(static_cast<int>(own), failed_times_) << "one alert each time the saga stopped in failed";
        EXPECT_TRUE(engine_->Describe(id_).value().pending.empty()) << "an ended saga waits for nothing";
        EXPECT_EQ(engine_->waits(), 0u) << "no timer or deadline left armed";
        for (const auto& p : wf_.nodes()) {
            const NodeDef& d = *p.def;
            if (d.kind == NodeKind::kChild) {
                CheckChild(d, off);
                continue;
            }
            if (d.kind != NodeKind::kStep) continue;
            const int fwd = Count(effects_, d.id);
            const int undo = Count(undone_, d.id);
            EXPECT_LE(fwd, 1) << d.id << " took effect twice";
            if (d.step.compensation && off && fwd == 1) {
                EXPECT_EQ(undo, 1) << d.id << " took effect (its outcome known or not): undone exactly once";
            } else {
                EXPECT_EQ(undo, 0) << d.id << ": nothing to undo";
            }
            if (undo > 0) {
                EXPECT_TRUE(started_.contains(d.id)) << d.id << " never started, yet was undone";
            }
        }
        for (const auto& [a, ta] : effect_at_) {
            for (const auto& [b, tb] : effect_at_) {
                if (wf_.find(a) < 0 || wf_.find(b) < 0) continue;  // a child's step: judged by CheckChild
                if (ta >= tb || !undone_at_.contains(a) || !undone_at_.contains(b)) continue;
                if (InSiblingBranches(wf_, wf_.find(a), wf_.find(b))) continue;
                EXPECT_LT(undone_at_.at(b), undone_at_.at(a)) << b << " completed after " << a << ", so it is undone first";
            }
        }
    }

    [[nodiscard]] bool compensated() { return State() == SagaStatus::kCompensated; }
    [[nodiscard]] int signals_applied() const { return signals_applied_; }

private:
    int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
    SagaStatus State() { return engine_->Describe(id_).value().saga.status; }
    // The saga's history and node states, one per line, for a failing case's message.
    std::string HistoryText() {
        std::string out;
        const SagaView view = engine_->Describe(id_).value();
        for (const HistoryEvent& e : view.history) out += "\n" + e.kind + " " + e.node + " " + e.detail.dump();
        for (const auto& [node, st] : view.saga.nodes.nodes) out += "\nnode " + node + " s=" + std::to_string(static_cast<int>(st.state)) + (st.expired ? " expired" : "");
        return out;
    }

    // The child saga node `d` started (at most one: its key is the parent's id and the node).
    void CheckChild(const NodeDef& d, bool off) {
        std::optional<SagaRecord> child;
        {
            auto tx = store_.Begin();
            if (const auto cid = tx->FindByBusinessKey("kid", BusinessKey(id_.str() + "/" + d.id))) child = tx->GetSaga(*cid);
        }
        const SagaView parent = engine_->Describe(id_).value();
        const auto at = parent.saga.nodes.nodes.find(d.id);
        const bool walked = at != parent.saga.nodes.nodes.end() && at->second.state != NodeState::kSkipped &&
                            at->second.state != NodeState::kPending;
        if (!child) {
            EXPECT_TRUE(off || !walked) << "a completed saga never started its child " << d.id;
            return;
        }
        EXPECT_TRUE(walked) << "a child " << d.id << " started off the saga's path";
        EXPECT_EQ(child->parent_id, id_);
        EXPECT_EQ(child->status, off ? SagaStatus::kCompensated : SagaStatus::kCompleted) << "child " << d.id;
        EXPECT_TRUE(engine_->Describe(child->id).value().pending.empty()) << "an ended child waits for nothing";
        const std::string step = Key(child->id, "kid_step");
        const int fwd = Count(effects_, step);
        EXPECT_LE(fwd, 1) << "child " << d.id << " took effect twice";
        EXPECT_EQ(Count(undone_, step), off ? fwd : 0) << "child " << d.id << ": undone exactly when it took effect";
    }

    // The worker's ledgers name the parent's steps by node id, a child's by saga and step.
    std::string Key(const SagaId& saga, const std::string& step) const {
        return saga == id_ ? step : saga.str() + "/" + step;
    }

    bool WaitsForSignal() {
        const SagaView view = engine_->Describe(id_).value();  // named: the range must not dangle
        for (const PendingRecord& p : view.pending) {
            if (p.kind == PendingKind::kSignal) return true;
        }
        return false;
    }

    // A signal: the one a wait now waits for, or any name (maybe one no wait has), with a
    // new id or one sent before.
    void Signal() {
        SignalSent g;
        g.saga_id = id_;
        g.name = "sig" + std::to_string(Pick(0, 3));  // the generator names sig0..sig2
        const SagaView view = engine_->Describe(id_).value();
        for (const PendingRecord& p : view.pending) {
            if (p.kind == PendingKind::kSignal && Chance(0.7)) g.name = p.action;
        }
        const bool again = !sent_ids_.empty() && Chance(0.2);
        g.id = again ? sent_ids_[static_cast<std::size_t>(Pick(0, static_cast<int>(sent_ids_.size()) - 1))]
                     : "g" + std::to_string(sent_ids_.size());
        g.payload = {{"n", sent_ids_.size()}};
        const Status st = engine_->Signal(g);
        if (again) {
            EXPECT_NE(st.code, ErrorCode::kOk) << "signal id " << g.id << " applied twice";
        } else if (st.ok()) {
            sent_ids_.push_back(g.id);
            ++signals_applied_;
        }
    }
    static int Count(const std::map<std::string, int>& m, const std::string& k) {
        auto it = m.find(k);
        return it == m.end() ? 0 : it->second;
    }

    // The worker, with the SDK's inbox: a msg id answered before, or a step's phase done
    // before under another msg id (a manual retry), answers as then without running; a
    // compensation whose forward action never took effect here is done, with nothing to
    // undo; a forward action after its compensation is refused.
    void Handle(const Command& c) {
        ++t_;
        const bool fwd = c.phase == Phase::kForward;
        EXPECT_TRUE(fwd || !forward_only_) << c.action << " went to a worker that does not serve it";
        const std::string step = Key(c.saga_id, c.step);
        if (fwd) started_.insert(step);
        Reply reply{c.msg_id, ReplyOutcome::kOk, json::object(), "", c.saga_id, false, {}, {}};
        if (auto it = inbox_.find(c.msg_id); it != inbox_.end()) {
            reply = it->second;
        } else if (auto done = done_.find({step, c.phase}); done != done_.end()) {
            reply.output = done->second.output;
        } else if (!fwd && !effects_.contains(step)) {
            reply.output = {{"compensated", false}};
            inbox_[c.msg_id] = reply;
        } else if (fwd && compensation_seen_.contains(step)) {
            reply.outcome = ReplyOutcome::kFail;
            reply.reason = "refused: compensated before it ran";
            inbox_[c.msg_id] = reply;
        } else {
            const int roll = Pick(0, 99);
            if (roll < 10) return;  // lost before it ran: a timeout
            const ReplyOutcome outcome = fwd ? (roll < 72 ? ReplyOutcome::kOk : roll < 80 ? ReplyOutcome::kFail : ReplyOutcome::kRetry)
                                             : (roll < 77 ? ReplyOutcome::kOk : roll < 95 ? ReplyOutcome::kRetry : ReplyOutcome::kFail);
            reply = Reply{c.msg_id, outcome, json::object(), outcome == ReplyOutcome::kOk ? "" : "chaos", c.saga_id, false, {}, {}};
            if (outcome != ReplyOutcome::kRetry) inbox_[c.msg_id] = reply;  // a retry rolled back: nothing kept
            if (outcome == ReplyOutcome::kOk) {
                ++(fwd ? effects_ : undone_)[step];
                (fwd ? effect_at_ : undone_at_)[step] = t_;
                done_[{step, c.phase}] = reply;
            }
            if (!fwd) compensation_seen_.insert(step);
            if (Chance(0.05)) return;  // the reply lost after the work was done: a timeout
        }
        if (reply.outcome != ReplyOutcome::kRetry) final_replies_.push_back(reply);
        (void)engine_->ApplyReply(reply);
    }

    // From the saga's history: a forward step's fail, or its last attempt's timeout or retry.
    bool FailedForGood() {
        const SagaView view = engine_->Describe(id_).value();
        for (const HistoryEvent& e : view.history) {
            if (!e.phase || *e.phase != Phase::kForward) continue;
            const int n = wf_.find(e.node);
            if (n < 0) continue;
            const int last = wf_.node(n).step.retry.max_attempts;
            const std::string outcome = e.detail.value("outcome", "");
            if (e.kind == "replied" && outcome == "fail") return true;
            if (e.kind == "child_ended" && e.detail.value("status", "") != "completed") return true;
            if ((e.kind == "timed_out" || (e.kind == "replied" && outcome == "retry")) && e.attempt >= last) return true;
        }
        for (const auto& [node, st] : view.saga.nodes.nodes) {  // a deadline passed, with no OnDeadline to take
            if (st.expired && st.state != NodeState::kDone) return true;  // (kDone: it took its OnDeadline)
        }
        return false;
    }

    const Workflow& wf_;
    std::mt19937_64& rng_;
    WorkflowRegistry registry_;
    MemorySagaStore store_;
    ManualClock clock_;
    ChaosWorker worker_;
    std::unique_ptr<Engine> engine_;
    SagaId id_;
    bool manual_ = false;
    bool forward_only_ = false;  ///< the worker serves forward actions only (see the constructor)
    int failed_times_ = 0;
    int t_ = 0;
    std::unordered_map<MsgId, Reply> inbox_;
    std::map<std::pair<std::string, Phase>, Reply> done_;
    std::vector<Reply> final_replies_;
    std::vector<std::string> sent_ids_;
    int signals_applied_ = 0;
    std::set<std::string> started_, compensation_seen_;
    std::map<std::string, int> effects_, undone_, effect_at_, undone_at_;
};

TEST(EngineProperty, RandomGraphsOnTheMemoryStoreEndTerminalAndUndoExactlyWhatRan) {
    const std::uint64_t seed = EnvOr("SAGAFLOW_ENGINE_PROP_SEED", 20261202);
    const auto cases = static_cast<int>(EnvOr("SAGAFLOW_ENGINE_PROP_CASES", 1000));
    std::mt19937_64 rng(seed);
    GraphGen gen(rng, /*endings=*/false, /*waits=*/true, /*child=*/"kid");
    int signals = 0;
    RunCases("engine", "SAGAFLOW_ENGINE_PROP_SEED", seed, cases, gen, [&](const Workflow& wf) {
        Case c(wf, rng);
        c.Run();
        c.Check();
        signals += c.signals_applied();
        return c.compensated();
    });
    std::printf("engine property: %d signals applied\n", signals);
    EXPECT_GT(signals, cases / 20) << "the cases send signals that are applied";
}

}  // namespace
}  // namespace sagaflow::engine
