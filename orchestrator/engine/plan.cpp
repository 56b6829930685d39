#include "plan.hpp"

#include <functional>
#include <set>

#include "sagaflow/core/code_words.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::engine {
namespace {

constexpr std::pair<NodeState, std::string_view> kStateWords[] = {
    {NodeState::kPending, "pending"},         {NodeState::kRunning, "running"},
    {NodeState::kDone, "done"},               {NodeState::kFailed, "failed"},
    {NodeState::kCompensating, "compensating"}, {NodeState::kCompensated, "compensated"},
    {NodeState::kSkipped, "skipped"},         {NodeState::kParked, "parked"},
};

}  // namespace

std::string_view ToString(NodeState s) noexcept { return WordOf(kStateWords, s); }

std::optional<NodeState> NodeStateFromCode(int code) noexcept { return FromCode(kStateWords, code); }

std::optional<NodeState> ParseNodeState(std::string_view w) noexcept { return FromWord(kStateWords, w); }

std::optional<nlohmann::json> ChildInputOf(const NodeDef& node, const nlohmann::json& input,
                                          const nlohmann::json& context) {
    if (node.child_input.empty()) return input;
    const nlohmann::json* v = nullptr;
    if (context.is_object() && context.contains(node.child_input)) v = &context[node.child_input];
    else if (input.is_object() && input.contains(node.child_input)) v = &input[node.child_input];
    if (v == nullptr || !v->is_object()) return std::nullopt;
    return *v;
}

NodeStatus FlowState::at(std::string_view id) const {
    auto it = nodes.find(id);
    return it == nodes.end() ? NodeStatus{} : it->second;
}

NodeStatus& FlowState::operator[](std::string_view id) {
    auto it = nodes.find(id);
    if (it == nodes.end()) it = nodes.emplace(std::string(id), NodeStatus{}).first;
    return it->second;
}

void to_json(nlohmann::json& j, const FlowState& s) {
    nlohmann::json nodes = nlohmann::json::object();
    for (const auto& [id, n] : s.nodes) {
        if (n == NodeStatus{}) continue;
        nlohmann::json o{{"s", static_cast<int>(n.state)}};
        if (n.order != 0) o["o"] = n.order;
        if (n.uncertain) o["u"] = true;
        if (n.stuck) o["x"] = true;
        if (n.expired) o["e"] = true;
        if (n.kept) o["k"] = true;
        nodes[id] = std::move(o);
    }
    j = {{"completions", s.completions}, {"nodes", std::move(nodes)}};
}

void from_json(const nlohmann::json& j, FlowState& s) {
    try {
        s = FlowState{};
        s.completions = j.at("completions").get<int>();
        for (const auto& [id, o] : j.at("nodes").items()) {
            NodeStatus n;
            const auto state = NodeStateFromCode(o.at("s").get<int>());
            if (!state) throw Error(ErrorCode::kInternal, "unknown node state code for node '" + id + "'");
            n.state = *state;
            n.order = o.value("o", 0);
            n.uncertain = o.value("u", false);
            n.stuck = o.value("x", false);
            n.expired = o.value("e", false);
            n.kept = o.value("k", false);
            s.nodes.emplace(id, n);
        }
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::kInternal, std::string("corrupt node states: ") + e.what());
    }
}

// One application of one event: the state it changes and the result it fills.
class Plan::Walk {
public:
    Walk(const Plan& plan, FlowState& state, const FlowFacts& facts, PlanResult& result)
        : plan_(plan), wf_(plan.wf_), state_(state), facts_(facts), result_(result) {}

    const NodeDef& Def(int n) const { return wf_.node(n); }
    NodeStatus& At(int n) { return state_[Def(n).id]; }
    NodeStatus Get(int n) const { return state_.at(Def(n).id); }
    const std::vector<int>& Seq(int s) const { return wf_.sequences()[static_cast<std::size_t>(s)].nodes; }
    const Workflow::Place& PlaceOf(int n) const { return wf_.nodes()[static_cast<std::size_t>(n)]; }

    void Emit(PlanEffect::Kind kind, int n, Phase phase) { result_.effects.push_back({kind, Def(n).id, phase}); }

    // Node `n` failed for good (its state says how): its failure policy decides whether
    // the saga compensates or the node parks for an operator.
    void FailForGood(int n, std::string reason) {
        if (wf_.failure_policy(n) == FailurePolicy::kCompensate) {
            Halt(std::move(reason));
            return;
        }
        At(n).state = NodeState::kParked;
        if (!parked_now_) park_reason_ = std::move(reason);  // empty: the event's own reason says why
        parked_now_ = true;
    }

    // Once a node is parked and nothing else runs, only an operator can move the saga.
    void MaybePark() {
        if (halted_ || facts_.undoing || result_.signal != FlowSignal::kNone) return;
        std::string parked;
        for (int n = 0; n < static_cast<int>(wf_.nodes().size()); ++n) {
            const NodeState st = Get(n).state;
            if (st == NodeState::kRunning && (IsAwaited(Def(n).kind) || IsWait(Def(n).kind))) return;
            if (st == NodeState::kParked && parked.empty()) parked = Def(n).id;
        }
        if (parked.empty()) return;
        result_.signal = FlowSignal::kParked;
        result_.reason = parked_now_ ? park_reason_ : "parked at node '" + parked + "'";
    }

    // Re-runs parked node `n` from scratch, as if the flow reached it now.
    void Rerun(int n) {
        const bool uncertain = Get(n).uncertain;
        At(n) = NodeStatus{};
        const std::size_t before = result_.effects.size();
        Enter(PlaceOf(n).sequence, static_cast<std::size_t>(PlaceOf(n).position));
        for (std::size_t i = before; i < result_.effects.size(); ++i) {
            PlanEffect& e = result_.effects[i];
            if (uncertain && e.kind == PlanEffect::Kind::kSend && e.node == Def(n).id) e.same_msg_id = true;
        }
    }

    // The forward walk stops for good; the lifecycle is told, once.
    void Halt(std::string reason) {
        if (halted_) return;
        halted_ = true;
        result_.signal = FlowSignal::kFailed;
        result_.reason = std::move(reason);
    }

    // The flow reaches position `pos` of sequence `s`.
    void Enter(int s, std::size_t pos) {
        if (halted_) return;
        const auto& seq = Seq(s);
        if (pos >= seq.size()) {
            SequenceDone(s);
            return;
        }
        const int n = seq[pos];
        const NodeDef& d = Def(n);
        switch (d.kind) {
            case NodeKind::kStep:
                At(n).state = NodeState::kRunning;
                Emit(PlanEffect::Kind::kSend, n, Phase::kForward);
                return;
            case NodeKind::kChoice: {
                std::string target = d.otherwise.value_or(std::string());
                for (const ChoiceBranch& b : d.when) {
                    bool holds = false;
                    try {
                        holds = (*wf_.guard(b.guard))(facts_.input, facts_.context);
                    } catch (const std::exception& e) {
                        At(n).state = NodeState::kFailed;
                        FailForGood(n, "choice '" + d.id + "': guard '" + b.guard + "' threw: " + e.what());
                        return;
                    }
                    if (holds) {
                        target = b.target;
                        break;
                    }
                }
                At(n).state = NodeState::kDone;
                Jump(n, wf_.find(target));
                return;
            }
            case NodeKind::kParallel:
                At(n).state = NodeState::kRunning;
                for (int branch : wf_.branches_of(n)) Enter(branch, 0);
                return;
            case NodeKind::kComplete:
                At(n).state = NodeState::kDone;
                SequenceDone(s);
                return;
            case NodeKind::kFail:
                At(n).state = NodeState::kFailed;
                Halt(d.reason.empty() ? "the flow reached fail node '" + d.id + "'" : d.reason);
                return;
            case NodeKind::kTimer: {
                const std::optional<Timestamp> due = DueOf(d);
                if (!due) {
                    At(n).state = NodeState::kFailed;
                    FailForGood(n, "timer '" + d.id + "': field '" + d.until +
                                       "' of the context or input holds no timestamp (RFC 3339 text or epoch milliseconds)");
                    return;
                }
                At(n).state = NodeState::kRunning;
                timer_due_[n] = *due;
                return;
            }
            case NodeKind::kSignal:
                At(n).state = NodeState::kRunning;
                return;
            case NodeKind::kChild:  // sent like a step's command: the child saga starts
                if (!ChildInputOf(d, facts_.input, facts_.context)) {
                    At(n).state = NodeState::kFailed;
                    FailForGood(n, "child '" + d.id + "': field '" + d.child_input + "' of the context or input holds no JSON object");
                    return;
                }
                At(n).state = NodeState::kRunning;
                Emit(PlanEffect::Kind::kSend, n, Phase::kForward);
                return;
        }
    }

    // When timer `d` is due: after its sleep, or at the time its field holds.
    [[nodiscard]] std::optional<Timestamp> DueOf(const NodeDef& d) const {
        if (d.until.empty()) return facts_.now + std::chrono::duration_cast<Duration>(d.sleep);
        const nlohmann::json* v = nullptr;
        if (facts_.context.is_object() && facts_.context.contains(d.until)) v = &facts_.context[d.until];
        else if (facts_.input.is_object() && facts_.input.contains(d.until)) v = &facts_.input[d.until];
        if (v == nullptr) return std::nullopt;
        if (v->is_string()) return ParseTimestamp(v->get_ref<const std::string&>());
        if (v->is_number_integer()) return Timestamp(std::chrono::milliseconds(v->get<std::int64_t>()));
        return std::nullopt;
    }

    [[nodiscard]] std::optional<Timestamp> TimerDue(int n) const {
        auto it = timer_due_.find(n);
        return it == timer_due_.end() ? std::nullopt : std::optional<Timestamp>(it->second);
    }

    // After node `n` finished forward.
    void Continue(int n) {
        if (halted_ || facts_.undoing) return;
        const NodeDef& d = Def(n);
        if (!d.next.empty()) {
            Jump(n, wf_.find(d.next));
        } else {
            Enter(PlaceOf(n).sequence, static_cast<std::size_t>(PlaceOf(n).position) + 1);
        }
    }

    // From `from` to `to`, further down the same sequence: the nodes between are skipped.
    void Jump(int from, int to) {
        const int s = PlaceOf(from).sequence;
        const auto& seq = Seq(s);
        for (int p = PlaceOf(from).position + 1; p < PlaceOf(to).position; ++p) Skip(seq[static_cast<std::size_t>(p)]);
        Enter(s, static_cast<std::size_t>(PlaceOf(to).position));
    }

    void Skip(int n) {
        if (Get(n).state != NodeState::kPending) return;
        At(n).state = NodeState::kSkipped;
        for (int branch : wf_.branches_of(n)) {
            for (int m : Seq(branch)) Skip(m);
        }
    }

    [[nodiscard]] bool Finished(int s) const {
        for (int n : Seq(s)) {
            const NodeState st = Get(n).state;
            if (st != NodeState::kDone && st != NodeState::kSkipped) return false;
        }
        return true;
    }

    void SequenceDone(int s) {
        for (int n : Seq(s)) Skip(n);  // what the walk did not reach is off the path
        const int group = wf_.sequences()[static_cast<std::size_t>(s)].group;
        if (group < 0) {
            if (!halted_) result_.signal = FlowSignal::kCompleted;
            return;
        }
        for (int branch : wf_.branches_of(group)) {
            if (!Finished(branch)) return;
        }
        At(group).state = NodeState::kDone;
        Continue(group);
    }

    // Undoes what can be undone now, in reverse order of completion.
    void Undo() {
        const int count = static_cast<int>(wf_.nodes().size());
        for (int n = 0; n < count; ++n) {
            if (Get(n).state == NodeState::kParked) At(n).state = NodeState::kFailed;  // undone like any failure
        }
        for (int n = 0; n < count; ++n) {
            // A wait has no effect to undo: it is withdrawn.
            if (IsWait(Def(n).kind) && Get(n).state == NodeState::kRunning) At(n).state = NodeState::kSkipped;
        }
        for (int n = 0; n < count; ++n) {
            if (IsAwaited(Def(n).kind) && Get(n).state == NodeState::kRunning) return;  // awaited
        }
        for (int n = 0; n < count; ++n) {
            if (Def(n).kind == NodeKind::kParallel && Get(n).state == NodeState::kRunning) {
                At(n).state = NodeState::kFailed;  // it never joined
            }
        }
        std::vector<int> todo, outstanding;
        for (int n = 0; n < count; ++n) {
            if (!IsCompensable(Def(n))) continue;
            const NodeStatus st = Get(n);
            const bool to_undo = (st.state == NodeState::kDone && !st.kept) || (st.state == NodeState::kFailed && st.uncertain);
            if (to_undo) todo.push_back(n);
            if (to_undo || st.state == NodeState::kCompensating) outstanding.push_back(n);
        }
        std::vector<int> ready;
        for (int n : todo) {
            bool blocked = false;
            for (int m : outstanding) {
                if (m != n && Get(m).order > Get(n).order && !plan_.Concurrent(n, m)) {
                    blocked = true;
                    break;
                }
            }
            if (!blocked) ready.push_back(n);
        }
        for (int n : ready) {
            At(n).state = NodeState::kCompensating;
            Emit(PlanEffect::Kind::kSend, n, Phase::kCompensate);
        }
        bool in_flight = false, stuck = false;
        for (int n : outstanding) {
            const NodeStatus st = Get(n);
            if (st.state != NodeState::kCompensating) continue;
            (st.stuck ? stuck : in_flight) = true;
        }
        if (in_flight) return;
        if (stuck) {
            result_.signal = FlowSignal::kStuck;
        } else if (todo.empty()) {
            result_.signal = FlowSignal::kUndone;
            for (int n = 0; n < count; ++n) Skip(n);  // never reached: off the saga's path
        }
    }

private:
    const Plan& plan_;
    const Workflow& wf_;
    FlowState& state_;
    const FlowFacts& facts_;
    PlanResult& result_;
    bool halted_ = false;
    bool parked_now_ = false;  ///< A node parked in this event, for `park_reason_`.
    std::string park_reason_;
    std::map<int, Timestamp> timer_due_;  ///< The timers this walk started.
};

std::optional<std::string> Plan::PassedPivot(const FlowState& state) const {
    for (int n = 0; n < static_cast<int>(wf_.nodes().size()); ++n) {
        const NodeDef& d = wf_.node(n);
        if (d.kind == NodeKind::kStep && d.step.kind == StepKind::kPivot && state.at(d.id).state == NodeState::kDone) {
            return d.id;
        }
    }
    return std::nullopt;
}

Status Plan::CompensateFrom(const FlowState& state, std::string_view from) const {
    const int n = wf_.find(from);
    const std::string name(from);
    if (n < 0) return {ErrorCode::kInvalidArgument, "workflow " + wf_.name() + " has no node '" + name + "'"};
    if (!IsCompensable(wf_.node(n))) return {ErrorCode::kInvalidArgument, "node '" + name + "' has no compensation to start from"};
    const NodeStatus f = state.at(from);
    if (f.order == 0 || !(f.state == NodeState::kDone || f.state == NodeState::kFailed)) {
        return {ErrorCode::kFailedPrecondition, "node '" + name + "' is " + std::string(ToString(f.state)) + ": it has nothing to undo"};
    }
    for (int m = 0; m < static_cast<int>(wf_.nodes().size()); ++m) {
        const NodeDef& d = wf_.node(m);
        if (IsAwaited(d.kind) && state.at(d.id).state == NodeState::kRunning) {
            return {ErrorCode::kFailedPrecondition, "'" + d.id + "' is in flight; compensating from a node waits until nothing is"};
        }
    }
    return {};
}

std::optional<Plan::Preview> Plan::PreviewCompensation(FlowState state, const std::vector<std::string>& withdrawn,
                                                        const std::string& from, const FlowFacts& facts) const {
    FlowFacts undoing = facts;
    undoing.undoing = true;
    PlanEvent begin{PlanEvent::Kind::kCompensate, from, Phase::kForward, 1, withdrawn};
    PlanResult r = Apply(state, begin, undoing);
    if (!r.accepted) return std::nullopt;
    Preview out;
    for (const auto& [id, st] : state.nodes) {
        if (st.kept) out.kept.push_back(id);
    }
    // What is still out is awaited; taken to end ok, it is then undone like the rest.
    std::vector<std::string> running;
    for (int n = 0; n < static_cast<int>(wf_.nodes().size()); ++n) {
        const NodeDef& d = wf_.node(n);
        if (IsAwaited(d.kind) && state.at(d.id).state == NodeState::kRunning) running.push_back(d.id);
    }
    auto sends = [](const PlanResult& one, std::vector<std::string>& into) {
        for (const PlanEffect& e : one.effects) {
            if (e.kind == PlanEffect::Kind::kSend && e.phase == Phase::kCompensate) into.push_back(e.node);
        }
    };
    std::vector<std::string> wave;
    sends(r, wave);
    for (const std::string& id : running) {
        out.in_flight.insert(id);
        sends(Apply(state, {PlanEvent::Kind::kOk, id, Phase::kForward, 1, {}}, undoing), wave);
    }
    while (!wave.empty()) {
        out.waves.push_back(wave);
        std::vector<std::string> next;
        for (const std::string& id : out.waves.back()) {
            sends(Apply(state, {PlanEvent::Kind::kOk, id, Phase::kCompensate, 1, {}}, undoing), next);
        }
        wave = std::move(next);
    }
    return out;
}

Plan::Plan(const Workflow& workflow) : wf_(workflow) {
    const std::size_t count = wf_.nodes().size();
    chains_.resize(count);
    for (std::size_t n = 0; n < count; ++n) {
        const auto& seq = wf_.sequences()[static_cast<std::size_t>(wf_.nodes()[n].sequence)];
        if (seq.group < 0) continue;
        chains_[n] = chains_[static_cast<std::size_t>(seq.group)];  // groups come before their nodes
        chains_[n].emplace_back(seq.group, seq.branch);
    }
    // Forward predecessors, and for each group the nodes that end its branches.
    preds_.resize(count);
    enders_.resize(count);
    for (int n = 0; n < static_cast<int>(count); ++n) {
        for (const Exit& x : Exits(n)) {
            if (x.to < 0) continue;
            (x.join ? enders_ : preds_)[static_cast<std::size_t>(x.to)].push_back(n);
        }
    }
}

bool Plan::Concurrent(int a, int b) const {
    const auto& ca = chains_.at(static_cast<std::size_t>(a));
    const auto& cb = chains_.at(static_cast<std::size_t>(b));
    for (std::size_t i = 0; i < ca.size() && i < cb.size(); ++i) {
        if (ca[i].first != cb[i].first) return false;  // two groups, one after the other
        if (ca[i].second != cb[i].second) return true;
    }
    return false;
}

PlanResult Plan::Apply(FlowState& state, const PlanEvent& e, const FlowFacts& facts) const {
    const FlowState before = state;
    PlanResult r;
    Walk w(*this, state, facts, r);
    r = ApplyEvent(state, e, facts, w, r);
    if (!r.accepted) return r;
    w.MaybePark();
    // What started or stopped running: what it waits for is armed or disarmed. Disarms
    // come first: what a node no longer waits for goes before anything the walk sends.
    std::vector<PlanEffect> disarms;
    const int count = static_cast<int>(wf_.nodes().size());
    for (int n = 0; n < count; ++n) {
        const NodeDef& d = wf_.node(n);
        if (!IsWait(d.kind) && !d.deadline) continue;
        const bool was = before.at(d.id).state == NodeState::kRunning;
        const bool is = state.at(d.id).state == NodeState::kRunning;
        if (was == is) continue;
        if (was) {
            disarms.push_back({PlanEffect::Kind::kDisarm, d.id, Phase::kForward, {}});
            continue;
        }
        if (d.kind == NodeKind::kTimer) {
            r.effects.push_back({PlanEffect::Kind::kArmTimer, d.id, Phase::kForward, w.TimerDue(n).value_or(facts.now)});
        } else if (d.kind == NodeKind::kSignal) {
            r.effects.push_back({PlanEffect::Kind::kAwaitSignal, d.id, Phase::kForward, {}});
        }
        if (d.deadline) {
            r.effects.push_back({PlanEffect::Kind::kArmDeadline, d.id, Phase::kForward,
                                 facts.now + std::chrono::duration_cast<Duration>(*d.deadline)});
        }
    }
    r.effects.insert(r.effects.begin(), disarms.begin(), disarms.end());
    return r;
}

PlanResult Plan::ApplyEvent(FlowState& state, const PlanEvent& e, const FlowFacts& facts, Walk& w,
                             PlanResult& r) const {
    const FlowState before = state;
    auto reject = [&] {
        state = before;
        return PlanResult{false, {}, FlowSignal::kNone, {}};
    };
    switch (e.kind) {
        case PlanEvent::Kind::kBegin:
            if (!state.nodes.empty() || facts.undoing) return reject();
            w.Enter(0, 0);
            return r;
        case PlanEvent::Kind::kOk:
        case PlanEvent::Kind::kFail:
        case PlanEvent::Kind::kRetry: {
            const int n = wf_.find(e.node);
            if (n < 0 || !IsAwaited(wf_.node(n).kind)) return reject();
            const bool child = wf_.node(n).kind == NodeKind::kChild;
            if (child && e.kind == PlanEvent::Kind::kRetry) return reject();  // a child ends, it never retries
            NodeStatus& st = state[e.node];
            if (e.phase == Phase::kForward) {
                if (st.state != NodeState::kRunning) return reject();
                if (e.kind == PlanEvent::Kind::kOk) {
                    st.state = NodeState::kDone;
                    st.order = ++state.completions;
                    w.Continue(n);
                } else if (e.kind == PlanEvent::Kind::kRetry && !facts.undoing && !wf_.forward_round(n, e.attempt).last) {
                    r.effects.push_back({PlanEffect::Kind::kResend, e.node, Phase::kForward});
                } else {
                    // A `fail` reply had no effect (its writes rolled back). Spent retries or
                    // timeouts leave the outcome unknown: another copy of the command may yet
                    // commit, so it is undone too (the inbox answers "nothing to undo").
                    st.state = NodeState::kFailed;
                    if (e.kind == PlanEvent::Kind::kRetry) {
                        st.uncertain = true;
                        st.order = ++state.completions;
                    }
                    if (!facts.undoing) w.FailForGood(n, {});
                }
            } else {
                if (!facts.undoing || st.state != NodeState::kCompensating || st.stuck || !IsCompensable(wf_.node(n))) {
                    return reject();
                }
                if (e.kind == PlanEvent::Kind::kOk) {
                    st.state = NodeState::kCompensated;
                } else if (e.kind == PlanEvent::Kind::kRetry && !wf_.compensation_round(n, e.attempt).last) {
                    r.effects.push_back({PlanEffect::Kind::kResend, e.node, Phase::kCompensate});
                } else {
                    st.stuck = true;
                }
            }
            if (facts.undoing) w.Undo();
            return r;
        }
        case PlanEvent::Kind::kResume:
            if (!facts.undoing) return reject();
            w.Undo();
            return r;
        case PlanEvent::Kind::kCompensate:
            if (!facts.undoing) return reject();
            for (const std::string& id : e.withdrawn) {
                const int n = wf_.find(id);
                if (n < 0 || wf_.node(n).kind != NodeKind::kStep || state.at(id).state != NodeState::kRunning) {
                    return reject();
                }
                state[id].state = NodeState::kSkipped;
                r.effects.push_back({PlanEffect::Kind::kWithdraw, id, Phase::kForward});
            }
            if (!e.node.empty()) {  // undo from this node back: what completed after it is kept
                if (!CompensateFrom(state, e.node).ok()) return reject();
                const NodeStatus f = state.at(e.node);
                for (auto& [id, st] : state.nodes) {
                    const int k = wf_.find(id);
                    if (k >= 0 && IsCompensable(wf_.node(k)) && st.state == NodeState::kDone && st.order > f.order) {
                        st.kept = true;
                    }
                }
            }
            w.Undo();
            return r;
        case PlanEvent::Kind::kFired:
        case PlanEvent::Kind::kSignal: {
            const int n = wf_.find(e.node);
            const NodeKind want = e.kind == PlanEvent::Kind::kFired ? NodeKind::kTimer : NodeKind::kSignal;
            if (n < 0 || wf_.node(n).kind != want || facts.undoing) return reject();
            NodeStatus& st = state[e.node];
            if (st.state != NodeState::kRunning) return reject();
            st.state = NodeState::kDone;
            w.Continue(n);
            return r;
        }
        case PlanEvent::Kind::kExpired: {
            const int n = wf_.find(e.node);
            if (n < 0 || !wf_.node(n).deadline) return reject();
            const NodeDef& d = wf_.node(n);
            NodeStatus& st = state[e.node];
            if (st.state != NodeState::kRunning) return reject();
            st.expired = true;
            if (!d.on_deadline.empty() && !facts.undoing) {
                st.state = NodeState::kDone;
                w.Jump(n, wf_.find(d.on_deadline));
                return r;
            }
            st.state = NodeState::kFailed;
            if (IsAwaited(d.kind)) {
                // Its command (or child saga) may yet have run: undone too, as after spent retries.
                st.uncertain = true;
                st.order = ++state.completions;
            }
            if (!facts.undoing) {
                w.FailForGood(n, std::string(ToString(d.kind)) + " '" + d.id + "' passed its deadline of " +
                                     std::to_string(d.deadline->count()) + " ms");
            } else {
                w.Undo();
            }
            return r;
        }
        case PlanEvent::Kind::kRetryNode: {
            if (facts.undoing) return reject();
            std::vector<int> todo;
            for (int n = 0; n < static_cast<int>(wf_.nodes().size()); ++n) {
                if (state.at(wf_.node(n).id).state != NodeState::kParked) continue;
                if (e.node.empty() || e.node == wf_.node(n).id) todo.push_back(n);
            }
            if (todo.empty()) return reject();
            for (int n : todo) w.Rerun(n);
            return r;
        }
        case PlanEvent::Kind::kSkipNode: {
            const int n = wf_.find(e.node);
            if (n < 0 || facts.undoing) return reject();
            const NodeDef& d = wf_.node(n);
            NodeStatus& st = state[e.node];
            const bool running = st.state == NodeState::kRunning && (d.kind == NodeKind::kStep || IsWait(d.kind));
            if (st.state != NodeState::kParked && !running) return reject();
            st = NodeStatus{NodeState::kDone, d.kind == NodeKind::kStep ? ++state.completions : 0};
            w.Continue(n);
            return r;
        }
        case PlanEvent::Kind::kClose:
            for (auto& [id, st] : state.nodes) {
                if (st.state == NodeState::kRunning || st.state == NodeState::kParked) st.state = NodeState::kSkipped;
            }
            return r;
        case PlanEvent::Kind::kRetryUndo: {
            if (!facts.undoing) return reject();
            bool any = false;
            for (auto& [id, st] : state.nodes) {
                if (st.state != NodeState::kCompensating || !st.stuck) continue;
                st.stuck = false;
                r.effects.push_back({PlanEffect::Kind::kSend, id, Phase::kCompensate});
                any = true;
            }
            if (!any) return reject();
            w.Undo();
            return r;
        }
    }
    return reject();
}

std::vector<Plan::Exit> Plan::Exits(int n) const {
    const NodeDef& d = wf_.node(n);
    const auto& place = wf_.nodes()[static_cast<std::size_t>(n)];
    const auto& seq = wf_.sequences()[static_cast<std::size_t>(place.sequence)];
    auto end_of_sequence = [&]() -> Exit { return seq.group < 0 ? Exit{-1, {}, false} : Exit{seq.group, {}, true}; };
    auto following = [&]() -> Exit {
        const auto next = static_cast<std::size_t>(place.position) + 1;
        return next < seq.nodes.size() ? Exit{seq.nodes[next], {}, false} : end_of_sequence();
    };
    switch (d.kind) {
        case NodeKind::kStep:
        case NodeKind::kParallel:
        case NodeKind::kTimer:
        case NodeKind::kSignal:
        case NodeKind::kChild: {
            std::vector<Exit> out{d.next.empty() ? following() : Exit{wf_.find(d.next), {}, false}};
            if (!d.on_deadline.empty()) out.push_back({wf_.find(d.on_deadline), "deadline", false});
            return out;
        }
        case NodeKind::kChoice: {
            std::vector<Exit> out;
            for (const ChoiceBranch& b : d.when) out.push_back({wf_.find(b.target), b.guard, false});
            if (d.otherwise) out.push_back({wf_.find(*d.otherwise), "otherwise", false});
            return out;
        }
        case NodeKind::kComplete:
            return {end_of_sequence()};
        case NodeKind::kFail:
            return {};
    }
    return {};
}

std::vector<int> Plan::UndoNext(int node) const {
    std::set<int> out, seen;
    // Walks back from `n` (exclusive) to the nearest steps with a compensation.
    std::function<void(int)> back;
    std::function<void(int)> visit = [&](int p) {
        if (!seen.insert(p).second) return;
        const NodeDef& d = wf_.node(p);
        if (IsCompensable(d)) {
            out.insert(p);
        } else if (d.kind == NodeKind::kParallel) {
            // Reached from after the group: what ended each branch is undone first.
            for (int e : enders_[static_cast<std::size_t>(p)]) visit(e);
        } else {
            back(p);
        }
    };
    back = [&](int n) {
        for (int p : preds_[static_cast<std::size_t>(n)]) visit(p);
        const auto& place = wf_.nodes()[static_cast<std::size_t>(n)];
        const auto& seq = wf_.sequences()[static_cast<std::size_t>(place.sequence)];
        if (seq.group >= 0 && place.position == 0) back(seq.group);  // a branch's first node
    };
    back(node);
    return {out.begin(), out.end()};
}

}  // namespace sagaflow::engine
