// Registration-time checks of a workflow graph, and its flat index. Every problem is
// collected, so one failed build lists all of them.
#include <set>
#include <sstream>

#include "sagaflow/core/error.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow {
namespace {

std::string Label(const NodeDef& n) { return std::string(ToString(n.kind)) + " '" + n.id + "'"; }

void CheckPolicy(const RetryPolicy& p, const std::string& where, std::vector<std::string>& out) {
    // Every problem, not only the first: check each rule on a copy that breaks only it.
    const std::string_view first = p.Problem();
    if (first.empty()) return;
    std::set<std::string_view> seen{first};
    out.push_back(where + ": " + std::string(first));
    RetryPolicy fixed = p;
    for (int i = 0; i < 5 && !fixed.Problem().empty(); ++i) {
        const std::string_view problem = fixed.Problem();
        if (seen.insert(problem).second) out.push_back(where + ": " + std::string(problem));
        if (fixed.max_attempts < 1) fixed.max_attempts = 1;
        else if (fixed.initial_backoff.count() < 0) fixed.initial_backoff = std::chrono::milliseconds(0);
        else if (!(fixed.multiplier >= 1.0)) fixed.multiplier = 1.0;
        else if (fixed.max_backoff < fixed.initial_backoff) fixed.max_backoff = fixed.initial_backoff;
        else fixed.jitter = 0.0;
    }
}

// Fills the flat index and collects the problems of one node's own fields.
class Indexer {
public:
    Indexer(Workflow::Sequence root, std::vector<std::string>& problems) : problems_(problems) {
        sequences.push_back(std::move(root));
    }

    void Walk(const std::vector<NodeDef>& seq, int s) {
        for (std::size_t pos = 0; pos < seq.size(); ++pos) {
            const NodeDef& n = seq[pos];
            const int number = static_cast<int>(places.size());
            places.push_back({&n, s, static_cast<int>(pos)});
            branch_sequences.emplace_back();
            sequences[static_cast<std::size_t>(s)].nodes.push_back(number);
            Check(n);
            if (n.kind != NodeKind::kParallel) continue;
            for (std::size_t b = 0; b < n.branches.size(); ++b) {
                const int child = static_cast<int>(sequences.size());
                sequences.push_back({number, static_cast<int>(b), {}});
                branch_sequences[static_cast<std::size_t>(number)].push_back(child);
                if (n.branches[b].empty()) {
                    problems_.push_back(Label(n) + ": branch " + std::to_string(b + 1) + " is empty");
                }
                Walk(n.branches[b], child);
            }
        }
    }

    std::vector<Workflow::Place> places;
    std::vector<Workflow::Sequence> sequences;
    std::vector<std::vector<int>> branch_sequences;
    std::map<std::string, int, std::less<>> by_id;
    std::vector<StepDef> steps;

private:
    void Action(const std::string& name, const std::string& where) {
        if (!actions_.insert(name).second) problems_.push_back(where + ": duplicate action name '" + name + "'");
    }

    void Check(const NodeDef& n) {
        const std::string where = Label(n);
        if (!IsValidName(n.id)) problems_.push_back(where + ": id must be 1-128 of [A-Za-z0-9_.-]");
        if (!by_id.emplace(n.id, static_cast<int>(places.size()) - 1).second) {
            problems_.push_back(where + ": duplicate node id");
        }
        switch (n.kind) {
            case NodeKind::kStep: {
                const StepDef& s = n.step;
                steps.push_back(s);
                if (s.name != n.id) problems_.push_back(where + ": its action must be named like the node");
                Action(s.name, where);
                if (s.queue.empty()) problems_.push_back(where + ": empty queue");
                if (s.timeout.count() <= 0) problems_.push_back(where + ": timeout must be > 0");
                CheckPolicy(s.retry, where + " retry", problems_);
                if (s.on_failure == FailurePolicy::kRetryForward || (!s.on_failure && s.kind == StepKind::kRetriable)) {
                    CheckPolicy(s.forward_retry, where + " retry forward", problems_);
                }
                if (s.kind == StepKind::kRetriable && s.compensation) {
                    problems_.push_back(where + ": a retriable step is never compensated, so it has no compensation");
                }
                if (s.kind == StepKind::kRetriable && s.on_failure == FailurePolicy::kCompensate) {
                    problems_.push_back(where + ": a retriable step's failure cannot compensate (retry_forward or park)");
                }
                if (s.compensation) {
                    const CompensationDef& c = *s.compensation;
                    if (!IsValidName(c.action)) {
                        problems_.push_back(where + ": compensation name must be 1-128 of [A-Za-z0-9_.-]");
                    } else {
                        Action(c.action, where);
                    }
                    if (c.queue.empty()) problems_.push_back(where + ": empty compensation queue");
                    if (c.timeout.count() <= 0) problems_.push_back(where + ": compensation timeout must be > 0");
                    CheckPolicy(c.retry, where + " compensation retry", problems_);
                    if (c.on_failure == FailurePolicy::kCompensate) {
                        problems_.push_back(where + ": a compensation that fails cannot compensate (retry_forward or park)");
                    }
                    if (c.on_failure == FailurePolicy::kRetryForward) {
                        CheckPolicy(c.forward_retry, where + " compensation retry forward", problems_);
                    }
                }
                break;
            }
            case NodeKind::kChoice:
                if (!n.otherwise) problems_.push_back(where + ": no Otherwise branch");
                break;
            case NodeKind::kParallel:
                if (n.branches.size() < 2) problems_.push_back(where + ": needs at least two branches");
                break;
            case NodeKind::kComplete:
            case NodeKind::kFail:
                break;
            case NodeKind::kTimer:
                if (n.until.empty() && n.sleep.count() <= 0) {
                    problems_.push_back(where + ": Sleep must be > 0, not " + std::to_string(n.sleep.count()) + " ms");
                }
                if (!n.until.empty() && !IsValidName(n.until)) {
                    problems_.push_back(where + ": Until field must be 1-128 of [A-Za-z0-9_.-]");
                }
                break;
            case NodeKind::kSignal:
                if (!IsValidName(n.signal)) problems_.push_back(where + ": signal name must be 1-128 of [A-Za-z0-9_.-]");
                break;
            case NodeKind::kChild:
                if (!IsValidName(n.child_workflow)) problems_.push_back(where + ": child workflow name must be 1-128 of [A-Za-z0-9_.-]");
                if (!n.child_input.empty() && !IsValidName(n.child_input)) {
                    problems_.push_back(where + ": child input field must be 1-128 of [A-Za-z0-9_.-]");
                }
                break;
        }
        CheckDeadline(n, where);
    }

    // The longest per-attempt timeout of the steps in `n` (itself, or inside its branches).
    static std::chrono::milliseconds LongestTimeout(const NodeDef& n, std::string& which) {
        std::chrono::milliseconds longest{0};
        if (n.kind == NodeKind::kStep) {
            longest = n.step.timeout;
            which = n.id;
        }
        for (const auto& branch : n.branches) {
            for (const NodeDef& m : branch) {
                std::string inner;
                const auto t = LongestTimeout(m, inner);
                if (t > longest) {
                    longest = t;
                    which = inner;
                }
            }
        }
        return longest;
    }

    void CheckDeadline(const NodeDef& n, const std::string& where) {
        if (!n.on_deadline.empty() && n.kind != NodeKind::kSignal) {
            problems_.push_back(where + ": only a signal wait has OnDeadline");
        }
        if (!n.deadline) {
            if (!n.on_deadline.empty()) problems_.push_back(where + ": OnDeadline without a Deadline");
            return;
        }
        const bool may = n.kind == NodeKind::kStep || n.kind == NodeKind::kParallel || IsWait(n.kind) ||
                         n.kind == NodeKind::kChild;
        if (!may) {
            problems_.push_back(where + ": only a step, a parallel group or a wait has a deadline");
            return;
        }
        if (n.deadline->count() <= 0) {
            problems_.push_back(where + ": deadline must be > 0, not " + std::to_string(n.deadline->count()) + " ms");
            return;
        }
        std::string which;
        const auto longest = LongestTimeout(n, which);
        if (*n.deadline < longest) {
            problems_.push_back(where + ": deadline " + std::to_string(n.deadline->count()) +
                                " ms is shorter than the timeout of step '" + which + "' (" +
                                std::to_string(longest.count()) + " ms)");
        }
    }

    std::vector<std::string>& problems_;
    std::set<std::string> actions_;
};

// What node `n` does when it fails for good (see `Workflow::failure_policy`).
FailurePolicy PolicyOf(const NodeDef& n, bool after_pivot) {
    if (n.kind == NodeKind::kStep) {
        if (n.step.on_failure) return *n.step.on_failure;
        if (n.step.kind == StepKind::kRetriable) return FailurePolicy::kRetryForward;
    }
    return after_pivot ? FailurePolicy::kPark : FailurePolicy::kCompensate;
}

// A parked saga never times out by itself, so no deadline may enclose a node that parks.
void CheckParkingUnderDeadlines(const Indexer& ix, const std::vector<bool>& after_pivot,
                                std::vector<std::string>& problems) {
    for (std::size_t i = 0; i < ix.places.size(); ++i) {
        if (PolicyOf(*ix.places[i].def, after_pivot[i]) == FailurePolicy::kCompensate) continue;
        for (int s = ix.places[i].sequence; ix.sequences[static_cast<std::size_t>(s)].group >= 0;) {
            const int group = ix.sequences[static_cast<std::size_t>(s)].group;
            const NodeDef& g = *ix.places[static_cast<std::size_t>(group)].def;
            if (g.deadline) {
                problems.push_back(Label(g) + ": it has a deadline, but " + Label(*ix.places[i].def) +
                                   " inside it may park, and a parked saga waits for an operator without one");
            }
            s = ix.places[static_cast<std::size_t>(group)].sequence;
        }
    }
}

// A pivot is the saga's point of no return: nothing after it may ask to be compensated.
template <class ReachableFrom>
void CheckPivots(const Indexer& ix, const ReachableFrom& reachable_from, std::vector<bool>& after_pivot,
                 std::vector<std::string>& problems) {
    for (std::size_t i = 0; i < ix.places.size(); ++i) {
        const NodeDef& p = *ix.places[i].def;
        if (p.kind != NodeKind::kStep || p.step.kind != StepKind::kPivot) continue;
        const std::string where = Label(p);
        if (p.step.compensation) problems.push_back(where + ": a pivot cannot be undone, so it has no compensation");
        if (ix.sequences[static_cast<std::size_t>(ix.places[i].sequence)].group >= 0) {
            problems.push_back(where + ": a pivot must be on the top level, not inside a parallel group (the other "
                               "branches could not be compensated once it is done)");
        }
        const std::vector<bool> later = reachable_from(static_cast<int>(i));
        for (std::size_t j = 0; j < later.size(); ++j) {
            if (!later[j]) continue;
            after_pivot[j] = true;
            const NodeDef& n = *ix.places[j].def;
            const std::string after = Label(n) + " comes after pivot '" + p.id + "'";
            if (n.kind == NodeKind::kStep && n.step.kind == StepKind::kPivot) {
                problems.push_back(after + ": a path has at most one pivot");
            } else if (n.kind == NodeKind::kStep && n.step.compensation) {
                problems.push_back(after + ": it cannot have a compensation (make it Retriable())");
            } else if (n.kind == NodeKind::kStep && n.step.on_failure == FailurePolicy::kCompensate) {
                problems.push_back(after + ": its failure cannot compensate (OnFailure retry_forward or park)");
            } else if (n.kind == NodeKind::kFail) {
                problems.push_back(after + ": a fail node would compensate; past a pivot the saga cannot");
            } else if (n.kind == NodeKind::kChild) {
                problems.push_back(after + ": a child saga is compensable; past a pivot nothing is");
            }
        }
    }
}

}  // namespace

std::vector<std::string> Workflow::readers_of(int node) const {
    const std::string& field = this->node(node).id;  // a step's output joins the context under its name, its id
    std::vector<std::string> out;
    for (const Place& p : data_->places) {
        if (p.def->until == field || p.def->child_input == field) out.push_back(p.def->id);
    }
    return out;
}

FailurePolicy Workflow::failure_policy(int node) const { return PolicyOf(this->node(node), after_pivot(node)); }

RetryRound Workflow::forward_round(int node, int attempt) const {
    const StepDef& s = this->node(node).step;
    return RoundOf(s.retry, failure_policy(node), s.forward_retry, attempt);
}

RetryRound Workflow::compensation_round(int node, int attempt) const {
    const CompensationDef& c = this->node(node).step.compensation.value();
    return RoundOf(c.retry, c.on_failure, c.forward_retry, attempt);
}

Workflow WorkflowBuilder::Build() const {
    if (!misuse_.empty()) {
        // Report the builder's misuse together with whatever else is wrong.
        try {
            (void)FromNodes(name_, version_, flow_, guards_);
        } catch (const Error& e) {
            std::string msg = e.what();
            for (const auto& m : misuse_) msg += "; " + m;
            throw Error(ErrorCode::kInvalidArgument, msg);
        }
        std::string msg = "invalid workflow '" + name_ + "' v" + std::to_string(version_) + ": ";
        for (std::size_t i = 0; i < misuse_.size(); ++i) msg += (i ? "; " : "") + misuse_[i];
        throw Error(ErrorCode::kInvalidArgument, msg);
    }
    return FromNodes(name_, version_, flow_, guards_);
}

Workflow WorkflowBuilder::FromNodes(std::string name, int version, std::vector<NodeDef> flow,
                                    std::map<std::string, sagaflow::Guard, std::less<>> guards) {
    std::vector<std::string> problems;
    if (!IsValidName(name)) problems.push_back("name '" + name + "' must be 1-128 of [A-Za-z0-9_.-]");
    if (version < 1) problems.push_back("version must be >= 1");

    auto data = std::make_shared<Workflow::Data>();
    data->name = std::move(name);
    data->version = version;
    data->flow = std::move(flow);
    data->guards = std::move(guards);

    Indexer ix({-1, -1, {}}, problems);
    ix.Walk(data->flow, 0);
    bool works = !ix.steps.empty();
    for (const auto& p : ix.places) works = works || p.def->kind == NodeKind::kChild;
    if (!works) problems.push_back("a workflow needs at least one step or child saga");
    for (const auto& [guard, fn] : data->guards) {
        if (!IsValidName(guard)) problems.push_back("guard '" + guard + "': name must be 1-128 of [A-Za-z0-9_.-]");
        if (!fn) problems.push_back("guard '" + guard + "' has no predicate");
    }

    // Jumps: to a known node, further down the same sequence (forward only: no cycles).
    auto target = [&](int from, const std::string& id, const std::string& what) -> int {
        const NodeDef& n = *ix.places[static_cast<std::size_t>(from)].def;
        auto it = ix.by_id.find(id);
        if (it == ix.by_id.end()) {
            problems.push_back(Label(n) + ": unknown target '" + id + "' (" + what + ")");
            return -1;
        }
        const auto& a = ix.places[static_cast<std::size_t>(from)];
        const auto& b = ix.places[static_cast<std::size_t>(it->second)];
        if (a.sequence != b.sequence) {
            problems.push_back(Label(n) + ": target '" + id + "' (" + what +
                               ") is not in its sequence; a jump cannot enter or leave a parallel branch");
            return -1;
        }
        if (b.position <= a.position) {
            problems.push_back(Label(n) + ": target '" + id + "' (" + what +
                               ") is not further down: a cycle without a bound (loops are not supported; "
                               "a step's retry policy bounds its repeats)");
            return -1;
        }
        return it->second;
    };

    auto following = [&](int n) {
        const auto& p = ix.places[static_cast<std::size_t>(n)];
        const auto& seq = ix.sequences[static_cast<std::size_t>(p.sequence)].nodes;
        return static_cast<std::size_t>(p.position) + 1 < seq.size() ? seq[static_cast<std::size_t>(p.position) + 1]
                                                                      : -1;
    };
    std::vector<int> targets(ix.places.size(), -2);  // resolved once, problems reported once
    std::vector<int> deadline_targets(ix.places.size(), -1);
    for (std::size_t i = 0; i < ix.places.size(); ++i) {
        const NodeDef& n = *ix.places[i].def;
        if (!n.next.empty()) {
            if (n.kind == NodeKind::kStep || n.kind == NodeKind::kParallel || IsWait(n.kind) ||
                n.kind == NodeKind::kChild) {
                targets[i] = target(static_cast<int>(i), n.next, "next");
            } else {
                problems.push_back(Label(n) + ": only a step, a parallel group or a wait has a next node");
            }
        }
        if (!n.on_deadline.empty() && n.kind == NodeKind::kSignal) {
            deadline_targets[i] = target(static_cast<int>(i), n.on_deadline, "on deadline");
        }
        if (n.kind == NodeKind::kChoice) {
            for (const ChoiceBranch& b : n.when) {
                if (data->guards.find(b.guard) == data->guards.end()) {
                    problems.push_back(Label(n) + ": unknown guard '" + b.guard + "'");
                }
                (void)target(static_cast<int>(i), b.target, "when " + b.guard);
            }
            if (n.otherwise) (void)target(static_cast<int>(i), *n.otherwise, "otherwise");
        }
    }
    // The nodes the flow can reach from `start` (exclusive: the node itself only if a way
    // leads back to it, which the jump rules forbid), following every way it can go.
    auto reachable_from = [&](int start) {
        std::vector<bool> reached(ix.places.size(), false);
        std::vector<int> todo{start};
        auto reach = [&](int n) {
            if (n >= 0 && !reached[static_cast<std::size_t>(n)]) {
                reached[static_cast<std::size_t>(n)] = true;
                todo.push_back(n);
            }
        };
        while (!todo.empty()) {
            const int n = todo.back();
            todo.pop_back();
            const NodeDef& def = *ix.places[static_cast<std::size_t>(n)].def;
            switch (def.kind) {
                case NodeKind::kStep:
                case NodeKind::kParallel:
                case NodeKind::kTimer:
                case NodeKind::kSignal:
                case NodeKind::kChild:
                    reach(def.next.empty() ? following(n) : targets[static_cast<std::size_t>(n)]);
                    reach(deadline_targets[static_cast<std::size_t>(n)]);
                    for (int s : ix.branch_sequences[static_cast<std::size_t>(n)]) {
                        const auto& seq = ix.sequences[static_cast<std::size_t>(s)].nodes;
                        if (!seq.empty()) reach(seq.front());
                    }
                    break;
                case NodeKind::kChoice:
                    for (const ChoiceBranch& b : def.when) {
                        auto it = ix.by_id.find(b.target);
                        if (it != ix.by_id.end()) reach(it->second);
                    }
                    if (def.otherwise) {
                        auto it = ix.by_id.find(*def.otherwise);
                        if (it != ix.by_id.end()) reach(it->second);
                    }
                    break;
                case NodeKind::kComplete:
                case NodeKind::kFail:
                    break;
            }
        }
        return reached;
    };
    std::vector<bool> after_pivot(ix.places.size(), false);
    if (!ix.places.empty()) {
        std::vector<bool> reached = reachable_from(0);
        reached[0] = true;
        for (std::size_t i = 0; i < ix.places.size(); ++i) {
            if (!reached[i]) problems.push_back(Label(*ix.places[i].def) + ": unreachable");
        }
        CheckPivots(ix, reachable_from, after_pivot, problems);
        CheckParkingUnderDeadlines(ix, after_pivot, problems);
    }

    if (!problems.empty()) {
        std::ostringstream msg;
        msg << "invalid workflow '" << data->name << "' v" << data->version << ": ";
        for (std::size_t i = 0; i < problems.size(); ++i) msg << (i ? "; " : "") << problems[i];
        throw Error(ErrorCode::kInvalidArgument, msg.str());
    }
    data->linear = ix.sequences.size() == 1;
    for (const auto& p : ix.places) {
        if (p.def->kind != NodeKind::kStep || !p.def->next.empty()) data->linear = false;
    }
    data->places = std::move(ix.places);
    data->sequences = std::move(ix.sequences);
    data->branch_sequences = std::move(ix.branch_sequences);
    data->by_id = std::move(ix.by_id);
    data->steps = std::move(ix.steps);
    data->after_pivot = std::move(after_pivot);
    return Workflow(std::move(data));
}

int Workflow::find(std::string_view id) const {
    auto it = data_->by_id.find(id);
    return it == data_->by_id.end() ? -1 : it->second;
}

const Guard* Workflow::guard(std::string_view name) const {
    auto it = data_->guards.find(name);
    return it == data_->guards.end() ? nullptr : &it->second;
}

}  // namespace sagaflow
