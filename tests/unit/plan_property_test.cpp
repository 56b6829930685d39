// A seeded property test of the Plan: random valid graphs (up to 12 nodes, choices,
// nested parallel groups, timers, signal waits, child sagas and deadlines) walked through
// random outcomes (ok, fail, retry, timeout, a child saga's end, timers firing, signals, deadlines passing,
// duplicated replies and signals, an operator's compensation, stuck compensations
// retried; failure policies that park or retry forward, a pivot with steps past it, and an
// operator's skip, re-run or compensation of a parked saga). The
// lifecycle's part is played by a small status model; the checks are made against what
// the simulated workers saw, not against the Plan's own bookkeeping.
//
// SAGAFLOW_PLAN_SEED and SAGAFLOW_PLAN_CASES override the seed and the case count.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "graph_gen.hpp"
#include "plan.hpp"

namespace sagaflow::engine {
namespace {

using nlohmann::json;
using Kind = PlanEvent::Kind;
using testing::EnvOr;
using testing::GraphGen;
using testing::InSiblingBranches;
using testing::RunCases;

enum class Status { kRunning, kCompensating, kCompleted, kCompensated, kFailed, kParked };

struct Command {
    std::string node;
    Phase phase;
    int attempt;
    bool sent;  // false: still queued in sagad, never handed to a worker
};

// Something armed that is not a command: a timer, a signal wait, a deadline.
struct Armed {
    std::string node;
    Kind fires;  // kFired, kSignal or kExpired
};

class Simulation {
public:
    Simulation(const Workflow& wf, std::mt19937_64& rng) : wf_(wf), plan_(wf), rng_(rng) {
        json bits = json::array();
        for (int k = 0; k < 4; ++k) bits.push_back(Chance(0.5));
        input_ = {{"bits", bits}};
    }

    void Run() {
        Handle(Fire({Kind::kBegin, {}, Phase::kForward, 1, {}}));
        for (int round = 0; round < 20000 && !Terminal(); ++round) {
            if (::testing::Test::HasFatalFailure()) return;
            if (status_ == Status::kFailed) {  // the operator fixes the cause and retries
                status_ = Status::kCompensating;
                Handle(Fire({Kind::kRetryUndo, {}, Phase::kForward, 1, {}}));
                continue;
            }
            if (status_ == Status::kParked) {
                Operate();
                continue;
            }
            if (!answered_.empty() && Chance(0.05)) {
                Duplicate();
                continue;
            }
            // (Past the pivot the service refuses it unless forced: operator_test covers that.)
            if (status_ == Status::kRunning && !manual_ && !pivot_passed_ && !PivotInFlight() && Chance(0.01)) {
                ManualCompensate();
                continue;
            }
            if (!fired_.empty() && Chance(0.05)) {
                FireAgain();
                continue;
            }
            ASSERT_FALSE(in_flight_.empty() && armed_.empty()) << "stalled: nothing in flight or armed, not terminal";
            if (!armed_.empty() && (in_flight_.empty() || Chance(0.3))) {
                const auto k = static_cast<std::size_t>(Pick(0, static_cast<int>(armed_.size()) - 1));
                const Armed a = armed_[k];
                armed_.erase(armed_.begin() + static_cast<std::ptrdiff_t>(k));
                Trigger(a);
                continue;
            }
            const auto i = static_cast<std::size_t>(Pick(0, static_cast<int>(in_flight_.size()) - 1));
            Command c = in_flight_[i];
            in_flight_.erase(in_flight_.begin() + static_cast<std::ptrdiff_t>(i));
            Deliver(c);
        }
        ASSERT_TRUE(Terminal()) << "did not end";
    }

    void Check() const {
        const bool off = failed_ || manual_;
        EXPECT_EQ(status_, off ? Status::kCompensated : Status::kCompleted);
        if (pivot_passed_) {
            EXPECT_EQ(status_, Status::kCompleted) << "a saga past its pivot ends completed";
        }
        for (std::size_t n = 0; n < wf_.nodes().size(); ++n) {
            const NodeDef& d = wf_.node(static_cast<int>(n));
            if (!IsAwaited(d.kind)) continue;  // a step, or a child saga (undone as one unit)
            const std::string& id = d.id;
            const bool had_effect = fwd_ok_.count(id) || uncertain_.count(id) || skipped_.count(id);
            const int undone = undo_ok_.count(id) ? undo_ok_.at(id).second : 0;
            if (IsCompensable(d) && had_effect && off) {
                EXPECT_EQ(undone, 1) << id << " did, or may have, run: undone exactly once";
            } else {
                EXPECT_EQ(undone, 0) << id << ": nothing to undo";
            }
            if (undo_sent_.count(id)) {
                EXPECT_TRUE(fwd_sent_.count(id)) << id << " never started, yet was undone";
            }
        }
        // Reverse order of completion, for every two steps that are not siblings.
        for (const auto& [a, ta] : done_at_) {
            for (const auto& [b, tb] : done_at_) {
                if (ta >= tb || !undo_sent_.count(a) || !undo_ok_.count(b)) continue;
                if (InSiblingBranches(wf_, wf_.find(a), wf_.find(b))) continue;
                // (The same event when b's undo answering is what lets a's go out.)
                EXPECT_LE(undo_ok_.at(b).first, undo_sent_.at(a))
                    << b << " completed after " << a << ", so it is undone first";
            }
        }
    }

    int events() const { return clock_; }
    bool compensated() const { return status_ == Status::kCompensated; }
    int parks() const { return parks_; }
    bool passed_pivot() const { return pivot_passed_; }

private:
    int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
    bool Undoing() const { return status_ == Status::kCompensating || status_ == Status::kFailed; }
    bool Terminal() const { return status_ == Status::kCompleted || status_ == Status::kCompensated; }

    PlanResult Fire(PlanEvent e) {
        ++clock_;
        return plan_.Apply(state_, e, FlowFacts{input_, context_, Undoing(), Timestamp{}});
    }

    // A timer fires, a signal comes, or a deadline passes.
    void Trigger(const Armed& a) {
        const NodeDef& d = wf_.node(wf_.find(a.node));
        const bool was_undoing = Undoing();
        const PlanResult r = Fire({a.fires, a.node, Phase::kForward, 1, {}});
        ASSERT_TRUE(r.accepted) << "an armed " << ToString(d.kind) << " '" << a.node << "' was refused";
        fired_.push_back(a);
        if (a.fires == Kind::kExpired) {
            EXPECT_TRUE(state_.at(a.node).expired);
            if (IsAwaited(d.kind)) {
                uncertain_.insert(a.node);  // its command (or child saga) may have run
                done_at_[a.node] = clock_;
            }
            // Its own deadline passing fails the node for good: its policy says what then.
            const bool compensates = wf_.failure_policy(wf_.find(a.node)) == FailurePolicy::kCompensate;
            if (!was_undoing && d.on_deadline.empty() && compensates) failed_ = true;
        }
        Handle(r);
    }

    // A timer, signal or deadline delivered again: refused unless its node runs again.
    void FireAgain() {
        const Armed a = fired_[static_cast<std::size_t>(Pick(0, static_cast<int>(fired_.size()) - 1))];
        if (state_.at(a.node).state == NodeState::kRunning) return;
        const FlowState before = state_;
        const PlanResult r = Fire({a.fires, a.node, Phase::kForward, 1, {}});
        EXPECT_FALSE(r.accepted) << "a second " << static_cast<int>(a.fires) << " for " << a.node << " was applied";
        EXPECT_EQ(state_, before);
    }

    bool IsArmed(const std::string& node, Kind fires) const {
        return std::any_of(armed_.begin(), armed_.end(), [&](const Armed& a) { return a.node == node && a.fires == fires; });
    }

    void Deliver(const Command& c) {
        const int roll = Pick(0, 99);
        Kind kind;
        if (wf_.node(wf_.find(c.node)).kind == NodeKind::kChild) {  // a child saga ends: it never retries
            kind = roll < (c.phase == Phase::kForward ? 70 : 85) ? Kind::kOk : Kind::kFail;
        } else if (c.phase == Phase::kForward) {
            kind = roll < 70 ? Kind::kOk : roll < 78 ? Kind::kFail : Kind::kRetry;  // retry covers timeouts
        } else {
            kind = roll < 75 ? Kind::kOk : roll < 95 ? Kind::kRetry : Kind::kFail;
        }
        const PlanResult r = Fire({kind, c.node, c.phase, c.attempt, {}});
        ASSERT_TRUE(r.accepted) << "a reply for an awaited command of " << c.node;
        answered_.push_back(c);
        const bool resent = std::any_of(r.effects.begin(), r.effects.end(), [&](const PlanEffect& e) {
            return e.kind == PlanEffect::Kind::kResend && e.node == c.node && e.phase == c.phase;
        });
        if (c.phase == Phase::kForward) {
            const int n = wf_.find(c.node);
            if (kind == Kind::kOk) {
                fwd_ok_.insert(c.node);
                done_at_[c.node] = clock_;
                if (wf_.node(n).kind == NodeKind::kStep && wf_.node(n).step.kind == StepKind::kPivot) pivot_passed_ = true;
            } else if (kind == Kind::kRetry && !resent) {
                uncertain_.insert(c.node);
                done_at_[c.node] = clock_;
            } else if (kind == Kind::kFail) {
                // A parked node re-run after an unknown outcome goes under its last msg id: a
                // `fail` then says the earlier attempts never committed either.
                uncertain_.erase(c.node);
            }
            if ((kind == Kind::kFail || (kind == Kind::kRetry && !resent)) && !Undoing()) {
                // Failing for good does what the node's policy says: compensate, or park.
                if (wf_.failure_policy(n) == FailurePolicy::kCompensate) {
                    failed_ = true;
                } else {
                    EXPECT_EQ(state_.at(c.node).state, NodeState::kParked) << c.node << " under its policy";
                }
            }
        } else if (kind == Kind::kOk) {
            auto& [at, count] = undo_ok_[c.node];
            at = clock_;
            ++count;
        }
        if (resent) in_flight_.push_back({c.node, c.phase, c.attempt + 1, true});
        Handle(r, /*skip_resend_of=*/resent ? &c : nullptr);
    }

    // A reply that arrives again, for a command answered before: the Plan must refuse it
    // unless the node is back in that very phase (a resend, which sagad tells apart by msg
    // id before the Plan is asked).
    void Duplicate() {
        const Command c = answered_[static_cast<std::size_t>(Pick(0, static_cast<int>(answered_.size()) - 1))];
        const NodeStatus st = state_.at(c.node);
        const bool awaited = (c.phase == Phase::kForward && st.state == NodeState::kRunning) ||
                             (c.phase == Phase::kCompensate && st.state == NodeState::kCompensating && !st.stuck);
        if (awaited) return;
        const FlowState before = state_;
        const PlanResult r = Fire({Kind::kOk, c.node, c.phase, c.attempt, {}});
        EXPECT_FALSE(r.accepted) << "a duplicate reply for " << c.node << " was applied";
        EXPECT_EQ(state_, before);
    }

    bool PivotInFlight() const {
        return std::any_of(in_flight_.begin(), in_flight_.end(), [&](const Command& c) {
            const NodeDef& d = wf_.node(wf_.find(c.node));
            return d.kind == NodeKind::kStep && d.step.kind == StepKind::kPivot && c.phase == Phase::kForward;
        });
    }

    // A parked saga changes only through an operator: anything else is refused and changes
    // nothing. Then the operator skips a parked node, re-runs it (or every parked node), or
    // compensates (not past the pivot).
    void Operate() {
        std::vector<std::string> parked;
        for (const auto& [id, st] : state_.nodes) {
            if (st.state == NodeState::kParked) parked.push_back(id);
        }
        ASSERT_FALSE(parked.empty()) << "parked, with no parked node";
        const std::string& one = parked[static_cast<std::size_t>(Pick(0, static_cast<int>(parked.size()) - 1))];
        const FlowState before = state_;
        for (const PlanEvent& e : {PlanEvent{Kind::kResume, {}, Phase::kForward, 1, {}},
                                   PlanEvent{Kind::kOk, one, Phase::kForward, 1, {}},
                                   PlanEvent{Kind::kRetry, one, Phase::kForward, 9, {}},
                                   PlanEvent{Kind::kExpired, one, Phase::kForward, 1, {}}}) {
            const PlanResult r = Fire(e);
            EXPECT_FALSE(r.accepted) << "a parked saga took event " << static_cast<int>(e.kind) << " for " << one;
            EXPECT_EQ(state_, before);
        }
        const int roll = Pick(0, 99);
        if (roll < 40) {
            status_ = Status::kRunning;  // the lifecycle: parked -> running by an operator
            skipped_.insert(one);
            done_at_[one] = clock_ + 1;
            ++operator_actions_;
            Handle(Fire({Kind::kSkipNode, one, Phase::kForward, 1, {}}));
        } else if (roll < 85 || pivot_passed_ || PivotInFlight()) {
            status_ = Status::kRunning;
            ++operator_actions_;
            Handle(Fire({Kind::kRetryNode, Chance(0.5) ? std::string() : one, Phase::kForward, 1, {}}));
        } else {
            ManualCompensate();  // parked -> compensating
        }
    }

    void ManualCompensate() {
        manual_ = true;
        status_ = Status::kCompensating;  // the lifecycle accepts it from running
        PlanEvent e{Kind::kCompensate, {}, Phase::kForward, 1, {}};
        for (const Command& c : in_flight_) {
            if (c.phase == Phase::kForward && !c.sent) e.withdrawn.push_back(c.node);
        }
        Handle(Fire(e));
    }

    void Handle(const PlanResult& r, const Command* skip_resend_of = nullptr) {
        ASSERT_TRUE(r.accepted);
        for (const PlanEffect& e : r.effects) {
            switch (e.kind) {
                case PlanEffect::Kind::kSend:
                    if (e.phase == Phase::kForward) {
                        EXPECT_FALSE(Undoing() || failed_) << "a new step started after the flow failed: " << e.node;
                        fwd_sent_.insert(e.node);
                    } else {
                        EXPECT_FALSE(pivot_passed_) << "a compensation (of " << e.node << ") past the saga's pivot";
                        for (const Command& c : in_flight_) {
                            EXPECT_NE(c.phase, Phase::kForward) << "undo of " << e.node << " while " << c.node << " is out";
                        }
                        if (!undo_sent_.count(e.node)) undo_sent_[e.node] = clock_;
                    }
                    // A child saga starts in the same transaction: it is never left unsent.
                    in_flight_.push_back({e.node, e.phase, 1, e.phase == Phase::kCompensate ||
                                                                  wf_.node(wf_.find(e.node)).kind == NodeKind::kChild || Chance(0.8)});
                    break;
                case PlanEffect::Kind::kResend:
                    ASSERT_NE(skip_resend_of, nullptr) << "a resend nobody asked for";
                    break;
                case PlanEffect::Kind::kWithdraw: {
                    auto it = std::find_if(in_flight_.begin(), in_flight_.end(), [&](const Command& c) {
                        return c.node == e.node && c.phase == Phase::kForward && !c.sent;
                    });
                    ASSERT_NE(it, in_flight_.end()) << "withdrew " << e.node << ", which was not queued";
                    in_flight_.erase(it);
                    break;
                }
                case PlanEffect::Kind::kArmTimer:
                case PlanEffect::Kind::kAwaitSignal:
                case PlanEffect::Kind::kArmDeadline: {
                    const Kind fires = e.kind == PlanEffect::Kind::kArmTimer      ? Kind::kFired
                                       : e.kind == PlanEffect::Kind::kAwaitSignal ? Kind::kSignal
                                                                                  : Kind::kExpired;
                    const NodeDef& d = wf_.node(wf_.find(e.node));
                    if (fires == Kind::kExpired) {
                        EXPECT_TRUE(d.deadline) << e.node << " has no deadline";
                    } else {
                        EXPECT_EQ(d.kind, fires == Kind::kFired ? NodeKind::kTimer : NodeKind::kSignal) << e.node;
                    }
                    EXPECT_EQ(state_.at(e.node).state, NodeState::kRunning) << "armed " << e.node << ", which is not running";
                    EXPECT_FALSE(IsArmed(e.node, fires)) << e.node << " armed twice";
                    armed_.push_back({e.node, fires});
                    break;
                }
                case PlanEffect::Kind::kDisarm: {
                    EXPECT_NE(state_.at(e.node).state, NodeState::kRunning) << "disarmed " << e.node << ", which runs";
                    std::erase_if(armed_, [&](const Armed& a) { return a.node == e.node; });
                    // After its deadline, a step's command is dropped (its outcome is unknown);
                    // a step withdrawn by an operator loses its command through kWithdraw.
                    if (state_.at(e.node).expired) {
                        std::erase_if(in_flight_, [&](const Command& c) { return c.node == e.node && c.phase == Phase::kForward; });
                    }
                    break;
                }
            }
        }
        if (r.signal != FlowSignal::kNone && r.signal != FlowSignal::kFailed) {
            EXPECT_TRUE(armed_.empty()) << "the saga stopped with " << armed_.size() << " things still armed, first "
                                        << (armed_.empty() ? "" : armed_.front().node);
        }
        switch (r.signal) {
            case FlowSignal::kNone:
                break;
            case FlowSignal::kCompleted:
                EXPECT_EQ(status_, Status::kRunning);
                EXPECT_TRUE(in_flight_.empty());
                status_ = Status::kCompleted;
                break;
            case FlowSignal::kFailed:
                EXPECT_EQ(status_, Status::kRunning);
                failed_ = true;
                status_ = Status::kCompensating;
                Handle(Fire({Kind::kResume, {}, Phase::kForward, 1, {}}));
                break;
            case FlowSignal::kUndone:
                EXPECT_EQ(status_, Status::kCompensating);
                EXPECT_TRUE(in_flight_.empty());
                status_ = Status::kCompensated;
                break;
            case FlowSignal::kStuck:
                EXPECT_EQ(status_, Status::kCompensating);
                EXPECT_TRUE(in_flight_.empty());
                status_ = Status::kFailed;
                break;
            case FlowSignal::kParked:
                EXPECT_EQ(status_, Status::kRunning);
                EXPECT_TRUE(in_flight_.empty()) << "parked while a command is out";
                status_ = Status::kParked;
                ++parks_;
                break;
        }
    }

    const Workflow& wf_;
    Plan plan_;
    std::mt19937_64& rng_;
    json input_;
    json context_ = json::object();
    FlowState state_;
    Status status_ = Status::kRunning;
    bool failed_ = false, manual_ = false, pivot_passed_ = false;
    int parks_ = 0, operator_actions_ = 0;
    std::set<std::string> skipped_;  // marked done by an operator: done by hand, so undone like a success
    int clock_ = 0;
    std::vector<Command> in_flight_, answered_;
    std::vector<Armed> armed_, fired_;
    std::set<std::string> fwd_sent_, fwd_ok_, uncertain_;
    std::map<std::string, int> done_at_, undo_sent_;
    std::map<std::string, std::pair<int, int>> undo_ok_;  // last time, count
};

TEST(PlanProperty, RandomGraphsAndOutcomesEndTerminalAndUndoExactlyWhatRan) {
    const std::uint64_t seed = EnvOr("SAGAFLOW_PLAN_SEED", 20261201);
    const auto cases = static_cast<int>(EnvOr("SAGAFLOW_PLAN_CASES", 2000));
    std::mt19937_64 rng(seed);
    GraphGen gen(rng, /*endings=*/true, /*waits=*/true, /*child=*/"kid", /*policies=*/true);
    int events = 0, parks = 0, pivots = 0;
    RunCases("plan", "SAGAFLOW_PLAN_SEED", seed, cases, gen, [&](const Workflow& wf) {
        Simulation sim(wf, rng);
        sim.Run();
        sim.Check();
        events += sim.events();
        parks += sim.parks();
        pivots += sim.passed_pivot();
        return sim.compensated();
    });
    std::printf("plan property: %d events, %d parks, %d sagas past their pivot, %d draws redrawn\n", events, parks,
                pivots, gen.redrawn());
    EXPECT_GT(parks, cases / 20) << "sagas park often enough to mean something";
    EXPECT_GT(pivots, cases / 20) << "sagas pass a pivot often enough";
}

}  // namespace
}  // namespace sagaflow::engine
