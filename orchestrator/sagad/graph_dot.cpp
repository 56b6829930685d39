#include "graph_dot.hpp"

#include <chrono>
#include <sstream>
#include <vector>

namespace sagaflow::sagad {
namespace {

using engine::NodeState;

std::string Quote(const std::string& s) { return "\"" + s + "\""; }
std::string Undo(const std::string& id) { return Quote("undo:" + id); }

// A duration as people write it: "30 min", "2 s", "150 ms".
std::string Span(std::chrono::milliseconds d) {
    const auto ms = d.count();
    if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + " min";
    if (ms != 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + " s";
    return std::to_string(ms) + " ms";
}

class Drawer {
public:
    Drawer(const Workflow& wf, const SagaMarks* marks) : wf_(wf), plan_(wf), marks_(marks) {}

    std::string Draw() {
        o_ << "digraph " << Quote(wf_.name() + " v" + std::to_string(wf_.version())) << " {\n"
           << "  rankdir=LR;\n  node [shape=box];\n";
        if (marks_ != nullptr) o_ << "  label=" << Quote(marks_->title) << ";\n";
        o_ << "  start [shape=circle, label=\"\"];\n  done [shape=doublecircle, label=\"completed\"];\n"
              "  undone [shape=doublecircle, label=\"compensated\"];\n";
        Sequence(0, "  ");
        Edge("start", In(wf_.sequences()[0].nodes.front()), marks_ != nullptr);
        const int count = static_cast<int>(wf_.nodes().size());
        for (int n = 0; n < count; ++n) Edges(n);
        o_ << "}\n";
        return o_.str();
    }

private:
    NodeState StateOf(int n) const {
        return marks_ == nullptr ? NodeState::kPending : marks_->nodes.at(wf_.node(n).id).state;
    }
    bool Reached(int n) const {
        const NodeState s = StateOf(n);
        return s != NodeState::kPending && s != NodeState::kSkipped;
    }
    bool Forward(int n) const {  // finished forward, whatever came after
        const NodeState s = StateOf(n);
        return s == NodeState::kDone || s == NodeState::kCompensating || s == NodeState::kCompensated;
    }

    // Where an edge into / out of node n attaches: a group's fork and join bars.
    std::string In(int n) const {
        return wf_.node(n).kind == NodeKind::kParallel ? Quote(wf_.node(n).id + ":fork") : Quote(wf_.node(n).id);
    }
    std::string Out(int n) const {
        return wf_.node(n).kind == NodeKind::kParallel ? Quote(wf_.node(n).id + ":join") : Quote(wf_.node(n).id);
    }

    std::string Count(const std::string& key) const {
        if (marks_ == nullptr) return {};
        std::string out;
        if (auto it = marks_->notes.find(key); it != marks_->notes.end()) {
            for (const std::string& note : it->second) out += "\\n" + note;
        }
        if (auto it = marks_->retries.find(key); it != marks_->retries.end() && it->second > 0) {
            out += "\\nretries: " + std::to_string(it->second);
        }
        if (auto it = marks_->timeouts.find(key); it != marks_->timeouts.end() && it->second > 0) {
            out += "\\ntimeouts: " + std::to_string(it->second);
        }
        return out;
    }

    // label, then the styles and colour that mark a state
    void Attrs(const std::string& label, std::vector<std::string> styles, const std::string& fill, bool bold,
               bool grey) {
        o_ << " [label=" << Quote(label);
        if (!fill.empty()) styles.emplace_back("filled");
        if (!styles.empty()) {
            std::string joined;
            for (const auto& st : styles) joined += (joined.empty() ? "" : ",") + st;
            o_ << ", style=" << Quote(joined);
        }
        if (!fill.empty()) o_ << ", fillcolor=" << fill;
        if (bold) o_ << ", penwidth=3";
        if (grey) o_ << ", fontcolor=grey, color=grey";
        o_ << "];\n";
    }

    void Node(int n, const std::string& indent) {
        const NodeDef& d = wf_.node(n);
        const NodeState s = StateOf(n);
        const bool failed = s == NodeState::kFailed;
        const bool grey = s == NodeState::kSkipped;
        switch (d.kind) {
            case NodeKind::kStep:
            case NodeKind::kChild: {
                o_ << indent << Quote(d.id);
                const std::string fill = Forward(n) ? "palegreen" : failed ? "salmon" : "";
                if (d.kind == NodeKind::kChild) o_ << " [shape=box3d]";
                Attrs(LabelOf(d) + Count(d.id), {}, fill, s == NodeState::kRunning, grey);
                if (IsCompensable(d)) {
                    const engine::NodeStatus st = marks_ ? marks_->nodes.at(d.id) : engine::NodeStatus{};
                    const std::string undo_fill = s == NodeState::kCompensated ? "lightblue"
                                                  : st.stuck                   ? "salmon"
                                                                               : "";
                    o_ << indent << Undo(d.id);
                    const std::string undo = d.kind == NodeKind::kChild ? "compensate " + d.child_workflow
                                                                        : d.step.compensation->action;
                    Attrs(undo + Count("~" + d.id), {"dashed"}, undo_fill,
                          s == NodeState::kCompensating && !st.stuck, grey);
                }
                return;
            }
            case NodeKind::kChoice:
                o_ << indent << Quote(d.id) << " [shape=diamond";
                break;
            case NodeKind::kComplete:
                o_ << indent << Quote(d.id) << " [shape=doublecircle";
                break;
            case NodeKind::kFail:
                o_ << indent << Quote(d.id) << " [shape=octagon";
                break;
            case NodeKind::kTimer:
                o_ << indent << Quote(d.id) << " [shape=ellipse";
                break;
            case NodeKind::kSignal:
                o_ << indent << Quote(d.id) << " [shape=parallelogram";
                break;
            case NodeKind::kParallel:
                return;  // drawn as a cluster by Sequence
        }
        o_ << ", label=" << Quote(LabelOf(d) + Count(d.id));
        if (s == NodeState::kRunning) o_ << ", penwidth=3";
        if (Reached(n)) o_ << ", style=filled, fillcolor=" << (failed ? "salmon" : "palegreen");
        if (grey) o_ << ", fontcolor=grey, color=grey";
        o_ << "];\n";
    }

    static std::string LabelOf(const NodeDef& d) {
        std::string label = d.id;
        switch (d.kind) {
            case NodeKind::kStep: label += "\\n(" + d.step.queue + ")"; break;
            case NodeKind::kFail: label += "\\n" + d.reason; break;
            case NodeKind::kTimer: label += d.until.empty() ? "\\nsleep " + Span(d.sleep) : "\\nuntil " + d.until; break;
            case NodeKind::kSignal: label += "\\nsignal " + d.signal; break;
            case NodeKind::kChild: label += "\\nchild " + d.child_workflow; break;
            default: break;
        }
        if (d.deadline) label += "\\ndeadline " + Span(*d.deadline);
        return label;
    }

    void Sequence(int s, const std::string& indent) {
        for (int n : wf_.sequences()[static_cast<std::size_t>(s)].nodes) {
            const NodeDef& d = wf_.node(n);
            if (d.kind != NodeKind::kParallel) {
                Node(n, indent);
                continue;
            }
            o_ << indent << "subgraph " << Quote("cluster_" + d.id) << " {\n"
               << indent << "  label=" << Quote(LabelOf(d)) << "; style=rounded;";
            if (Reached(n)) o_ << " color=" << (StateOf(n) == NodeState::kFailed ? "red" : "darkgreen") << ";";
            o_ << "\n";
            for (const char* bar : {":fork", ":join"}) {
                o_ << indent << "  " << Quote(d.id + bar)
                   << " [shape=box, style=filled, fillcolor=black, label=\"\", width=0.08, height=0.5];\n";
            }
            for (int branch : wf_.branches_of(n)) Sequence(branch, indent + "  ");
            o_ << indent << "}\n";
        }
    }

    void Edge(const std::string& from, const std::string& to, bool taken, const std::string& extra = {}) {
        o_ << "  " << from << " -> " << to;
        std::string attrs = extra;
        if (taken) attrs += std::string(attrs.empty() ? "" : ", ") + "color=blue, penwidth=2";
        if (!attrs.empty()) o_ << " [" << attrs << "]";
        o_ << ";\n";
    }

    // The undo walk after node n's failure or undo: to its nearest compensable predecessors.
    std::vector<std::string> UndoTargets(int n) const {
        std::vector<std::string> out;
        for (int m : plan_.UndoNext(n)) out.push_back(Undo(wf_.node(m).id));
        if (out.empty()) out.emplace_back("undone");
        return out;
    }

    void Edges(int n) {
        const NodeDef& d = wf_.node(n);
        const bool left = d.kind == NodeKind::kParallel ? StateOf(n) == NodeState::kDone : Forward(n) || Reached(n);
        for (const engine::Plan::Exit& x : plan_.Exits(n)) {
            std::string to;
            bool taken = false;
            if (x.to < 0) {
                to = "done";
                taken = left && Forward(n) && marks_ != nullptr;
            } else if (x.join) {
                to = Quote(wf_.node(x.to).id + ":join");
                taken = Forward(n) || (d.kind == NodeKind::kComplete && Reached(n));
            } else {
                to = In(x.to);
                const bool waits = IsAwaited(d.kind) || IsWait(d.kind);
                taken = left && Reached(x.to) && (!waits || Forward(n));
                if (waits && Forward(n)) {  // a wait that expired took its deadline exit, else the other
                    const bool expired = marks_ != nullptr && marks_->nodes.at(d.id).expired;
                    taken = taken && expired == (x.label == "deadline");
                }
            }
            Edge(Out(n), to, taken, x.label.empty() ? "" : "label=" + Quote(x.label));
        }
        if (d.kind == NodeKind::kParallel) {
            for (int branch : wf_.branches_of(n)) {
                const int first = wf_.sequences()[static_cast<std::size_t>(branch)].nodes.front();
                Edge(Quote(d.id + ":fork"), In(first), Reached(first));
            }
        }
        if (IsAwaited(d.kind) || d.kind == NodeKind::kFail) {
            const bool failed = StateOf(n) == NodeState::kFailed;
            for (const std::string& to : UndoTargets(n)) {
                Edge(Quote(d.id), to, false,
                     std::string("style=dotted, label=\"fail\"") + (failed ? ", color=red, penwidth=2" : ""));
            }
        }
        if (IsCompensable(d)) {
            for (const std::string& to : UndoTargets(n)) {
                Edge(Undo(d.id), to, StateOf(n) == NodeState::kCompensated, "style=dashed");
            }
        }
    }

    const Workflow& wf_;
    engine::Plan plan_;
    const SagaMarks* marks_;
    std::ostringstream o_;
};

}  // namespace

std::string WorkflowDot(const Workflow& wf, const SagaMarks* marks) { return Drawer(wf, marks).Draw(); }

SagaMarks MarksOf(const engine::SagaView& view) {
    SagaMarks m;
    m.title = "saga " + view.saga.id.str() + ": " + std::string(ToString(view.saga.status));
    m.nodes = view.saga.nodes;
    for (const auto& p : view.pending) {
        if (p.kind == engine::PendingKind::kTimer) m.notes[p.node].push_back("due " + FormatTimestamp(p.not_before));
        if (p.kind == engine::PendingKind::kDeadline) m.notes[p.node].push_back("deadline " + FormatTimestamp(p.not_before));
    }
    for (const auto& e : view.history) {
        if (e.kind == "signal_taken" || (e.kind == "signal_received" && !e.node.empty())) {
            m.notes[e.node].push_back("got " + e.detail.value("signal_id", std::string()));
        }
    }
    for (const auto& a : view.attempts) {
        const std::string key = (a.phase == Phase::kCompensate ? "~" : "") + a.node;
        if (a.outcome == "retry") ++m.retries[key];
        if (a.outcome == "timeout") ++m.timeouts[key];
    }
    return m;
}

}  // namespace sagaflow::sagad
