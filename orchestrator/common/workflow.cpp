// The workflow builder's chain and the registry. Validation and the flat index are in
// workflow_check.cpp.
#include "sagaflow/workflow/workflow.hpp"

#include "sagaflow/core/error.hpp"

namespace sagaflow {

RetryPolicy DefaultCompensationPolicy() {
    RetryPolicy p;
    p.max_attempts = 10;
    return p;
}

RetryPolicy DefaultForwardRetryPolicy() {
    RetryPolicy p;
    p.max_attempts = 20;
    p.initial_backoff = std::chrono::seconds(1);
    p.max_backoff = std::chrono::minutes(5);
    return p;
}

RetryRound RoundOf(const RetryPolicy& first, FailurePolicy on_failure, const RetryPolicy& second, int attempt) noexcept {
    if (attempt < first.max_attempts) return {&first, attempt, false};
    if (on_failure != FailurePolicy::kRetryForward) return {&first, attempt, true};
    const int within = attempt - first.max_attempts + 1;  // the first round spent: round two's attempt
    return {&second, within, within > second.max_attempts};
}

std::string_view ToString(StepKind kind) noexcept {
    switch (kind) {
        case StepKind::kCompensable: return "compensable";
        case StepKind::kPivot: return "pivot";
        case StepKind::kRetriable: return "retriable";
    }
    return "unknown";
}

std::string_view ToString(FailurePolicy policy) noexcept {
    switch (policy) {
        case FailurePolicy::kCompensate: return "compensate";
        case FailurePolicy::kRetryForward: return "retry_forward";
        case FailurePolicy::kPark: return "park";
    }
    return "unknown";
}

std::string_view ToString(NodeKind kind) noexcept {
    switch (kind) {
        case NodeKind::kStep: return "step";
        case NodeKind::kChoice: return "choice";
        case NodeKind::kParallel: return "parallel";
        case NodeKind::kComplete: return "complete";
        case NodeKind::kFail: return "fail";
        case NodeKind::kTimer: return "timer";
        case NodeKind::kSignal: return "signal";
        case NodeKind::kChild: return "child";
    }
    return "unknown";
}

// ---- StepBuilder ----------------------------------------------------------------------

StepDef* StepBuilder::step(const char* what) {
    NodeDef& node = owner_->At(address_);
    if (node.kind == NodeKind::kStep) return &node.step;
    owner_->misuse_.push_back(std::string(what) + " after " + std::string(ToString(node.kind)) + " '" +
                              node.id + "': only a step has it");
    return nullptr;
}

StepBuilder& StepBuilder::CompensateWith(NodeName action, std::string queue) {
    if (StepDef* s = step("CompensateWith")) {
        CompensationDef c = s->compensation.value_or(CompensationDef{});  // keeps what was set before
        c.action = action.str();
        c.queue = queue.empty() ? s->queue : std::move(queue);
        s->compensation = std::move(c);
    }
    return *this;
}

StepBuilder& StepBuilder::Retry(const RetryPolicy& policy) {
    if (StepDef* s = step("Retry")) s->retry = policy;
    return *this;
}

StepBuilder& StepBuilder::CompensationRetry(const RetryPolicy& policy) {
    if (StepDef* s = step("CompensationRetry")) {
        if (!s->compensation) s->compensation = CompensationDef{};
        s->compensation->retry = policy;
    }
    return *this;
}

StepBuilder& StepBuilder::Pivot() {
    if (StepDef* s = step("Pivot")) s->kind = StepKind::kPivot;
    return *this;
}

StepBuilder& StepBuilder::Retriable() {
    if (StepDef* s = step("Retriable")) s->kind = StepKind::kRetriable;
    return *this;
}

StepBuilder& StepBuilder::OnFailure(FailurePolicy policy) {
    if (StepDef* s = step("OnFailure")) s->on_failure = policy;
    return *this;
}

StepBuilder& StepBuilder::RetryForward(const RetryPolicy& second_round) {
    if (StepDef* s = step("RetryForward")) {
        s->on_failure = FailurePolicy::kRetryForward;
        s->forward_retry = second_round;
    }
    return *this;
}

StepBuilder& StepBuilder::CompensationOnFailure(FailurePolicy policy) {
    if (StepDef* s = step("CompensationOnFailure")) {
        if (!s->compensation) s->compensation = CompensationDef{};
        s->compensation->on_failure = policy;
    }
    return *this;
}

StepBuilder& StepBuilder::CompensationRetryForward(const RetryPolicy& second_round) {
    if (StepDef* s = step("CompensationRetryForward")) {
        if (!s->compensation) s->compensation = CompensationDef{};
        s->compensation->on_failure = FailurePolicy::kRetryForward;
        s->compensation->forward_retry = second_round;
    }
    return *this;
}

StepBuilder& StepBuilder::Timeout(std::chrono::milliseconds per_attempt) {
    if (StepDef* s = step("Timeout")) s->timeout = per_attempt;
    return *this;
}

StepBuilder& StepBuilder::CompensationTimeout(std::chrono::milliseconds per_attempt) {
    if (StepDef* s = step("CompensationTimeout")) {
        if (!s->compensation) s->compensation = CompensationDef{};
        s->compensation->timeout = per_attempt;
    }
    return *this;
}

StepBuilder& StepBuilder::Next(NodeName target) {
    NodeDef& node = owner_->At(address_);
    if (node.kind == NodeKind::kStep || node.kind == NodeKind::kParallel || IsWait(node.kind) ||
        node.kind == NodeKind::kChild) {
        node.next = target.str();
    } else {
        owner_->misuse_.push_back("Next after " + std::string(ToString(node.kind)) + " '" + node.id +
                                  "': only a step, a parallel group or a wait has it");
    }
    return *this;
}

StepBuilder& StepBuilder::Deadline(std::chrono::milliseconds limit) {
    NodeDef& node = owner_->At(address_);
    if (node.kind == NodeKind::kStep || node.kind == NodeKind::kParallel || IsWait(node.kind) ||
        node.kind == NodeKind::kChild) {
        node.deadline = limit;
    } else {
        owner_->misuse_.push_back("Deadline after " + std::string(ToString(node.kind)) + " '" + node.id +
                                  "': only a step, a parallel group or a wait has it");
    }
    return *this;
}

StepBuilder& StepBuilder::OnDeadline(NodeName target) {
    NodeDef& node = owner_->At(address_);
    if (node.kind == NodeKind::kSignal) {
        node.on_deadline = target.str();
    } else {
        owner_->misuse_.push_back("OnDeadline after " + std::string(ToString(node.kind)) + " '" + node.id +
                                  "': only a signal wait has it");
    }
    return *this;
}

StepBuilder StepBuilder::Step(NodeName id, std::string queue) { return owner_->Step(id, std::move(queue)); }
ChoiceBuilder StepBuilder::Choice(NodeName id) { return owner_->Choice(id); }
ParallelBuilder StepBuilder::Parallel(NodeName id) { return owner_->Parallel(id); }
StepBuilder StepBuilder::Complete(NodeName id) { return owner_->Complete(id); }
StepBuilder StepBuilder::Fail(NodeName id, std::string reason) { return owner_->Fail(id, std::move(reason)); }
StepBuilder StepBuilder::Sleep(NodeName id, std::chrono::milliseconds d) { return owner_->Sleep(id, d); }
StepBuilder StepBuilder::Until(NodeName id, std::string field) { return owner_->Until(id, std::move(field)); }
StepBuilder StepBuilder::AwaitSignal(NodeName signal) { return owner_->AwaitSignal(signal); }
StepBuilder StepBuilder::AwaitSignal(NodeName id, NodeName signal) { return owner_->AwaitSignal(id, signal); }
StepBuilder StepBuilder::Child(NodeName id, std::string workflow, std::string input_from) {
    return owner_->Child(id, std::move(workflow), std::move(input_from));
}

BranchBuilder StepBuilder::Branch() {
    if (owner_->open_groups_.empty()) {
        owner_->misuse_.push_back("Branch outside a parallel group");
    } else {
        owner_->StartBranch();
    }
    return BranchBuilder(owner_);
}

StepBuilder StepBuilder::Join() {
    if (owner_->open_groups_.empty()) {
        owner_->misuse_.push_back("Join outside a parallel group");
        return *this;
    }
    std::vector<std::size_t> group = owner_->open_groups_.back();
    owner_->CloseGroup();
    return StepBuilder(owner_, std::move(group));
}

Workflow StepBuilder::Build() const { return owner_->Build(); }

// ---- ChoiceBuilder, ParallelBuilder, BranchBuilder ------------------------------------

NodeDef& ChoiceBuilder::def() { return owner_->At(address_); }

ChoiceBuilder& ChoiceBuilder::When(NodeName guard, NodeName target) {
    def().when.push_back({guard.str(), target.str()});
    return *this;
}

StepBuilder ChoiceBuilder::Otherwise(NodeName target) {
    def().otherwise = target.str();
    return StepBuilder(owner_, address_);
}

BranchBuilder ParallelBuilder::Branch() {
    owner_->StartBranch();
    return BranchBuilder(owner_);
}

StepBuilder BranchBuilder::Step(NodeName id, std::string queue) { return owner_->Step(id, std::move(queue)); }
ChoiceBuilder BranchBuilder::Choice(NodeName id) { return owner_->Choice(id); }
ParallelBuilder BranchBuilder::Parallel(NodeName id) { return owner_->Parallel(id); }
StepBuilder BranchBuilder::Complete(NodeName id) { return owner_->Complete(id); }
StepBuilder BranchBuilder::Fail(NodeName id, std::string reason) { return owner_->Fail(id, std::move(reason)); }
StepBuilder BranchBuilder::Sleep(NodeName id, std::chrono::milliseconds d) { return owner_->Sleep(id, d); }
StepBuilder BranchBuilder::Until(NodeName id, std::string field) { return owner_->Until(id, std::move(field)); }
StepBuilder BranchBuilder::AwaitSignal(NodeName signal) { return owner_->AwaitSignal(signal); }
StepBuilder BranchBuilder::AwaitSignal(NodeName id, NodeName signal) { return owner_->AwaitSignal(id, signal); }
StepBuilder BranchBuilder::Child(NodeName id, std::string workflow, std::string input_from) {
    return owner_->Child(id, std::move(workflow), std::move(input_from));
}

// ---- WorkflowBuilder ------------------------------------------------------------------

WorkflowBuilder::WorkflowBuilder(std::string name, int version) : name_(std::move(name)), version_(version) {}

WorkflowBuilder& WorkflowBuilder::Guard(NodeName name, sagaflow::Guard predicate) {
    if (!guards_.emplace(name.str(), std::move(predicate)).second) {
        misuse_.push_back("guard '" + name.str() + "' registered twice");
    }
    return *this;
}

NodeDef& WorkflowBuilder::At(const std::vector<std::size_t>& address) {
    std::vector<NodeDef>* seq = &flow_;
    for (std::size_t i = 0;; i += 2) {
        NodeDef& node = seq->at(address.at(i));
        if (i + 1 == address.size()) return node;
        seq = &node.branches.at(address.at(i + 1));
    }
}

std::vector<NodeDef>& WorkflowBuilder::Current() {
    return open_groups_.empty() ? flow_ : At(open_groups_.back()).branches.back();
}

std::vector<std::size_t> WorkflowBuilder::Append(NodeDef node) {
    std::vector<std::size_t> address;
    if (!open_groups_.empty()) {
        address = open_groups_.back();
        address.push_back(At(address).branches.size() - 1);
    }
    std::vector<NodeDef>& seq = Current();
    address.push_back(seq.size());
    seq.push_back(std::move(node));
    return address;
}

void WorkflowBuilder::StartBranch() { At(open_groups_.back()).branches.emplace_back(); }

void WorkflowBuilder::CloseGroup() { open_groups_.pop_back(); }

StepBuilder WorkflowBuilder::Step(NodeName id, std::string queue) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kStep;
    node.step.name = node.id;
    node.step.queue = std::move(queue);
    return StepBuilder(this, Append(std::move(node)));
}

ChoiceBuilder WorkflowBuilder::Choice(NodeName id) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kChoice;
    return ChoiceBuilder(this, Append(std::move(node)));
}

ParallelBuilder WorkflowBuilder::Parallel(NodeName id) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kParallel;
    open_groups_.push_back(Append(std::move(node)));
    return ParallelBuilder(this);
}

StepBuilder WorkflowBuilder::Complete(NodeName id) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kComplete;
    return StepBuilder(this, Append(std::move(node)));
}

StepBuilder WorkflowBuilder::Fail(NodeName id, std::string reason) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kFail;
    node.reason = std::move(reason);
    return StepBuilder(this, Append(std::move(node)));
}

StepBuilder WorkflowBuilder::Sleep(NodeName id, std::chrono::milliseconds duration) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kTimer;
    node.sleep = duration;
    return StepBuilder(this, Append(std::move(node)));
}

StepBuilder WorkflowBuilder::Until(NodeName id, std::string field) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kTimer;
    node.until = std::move(field);
    return StepBuilder(this, Append(std::move(node)));
}

StepBuilder WorkflowBuilder::AwaitSignal(NodeName signal) { return AwaitSignal(signal, signal); }

StepBuilder WorkflowBuilder::AwaitSignal(NodeName id, NodeName signal) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kSignal;
    node.signal = signal.str();
    return StepBuilder(this, Append(std::move(node)));
}

StepBuilder WorkflowBuilder::Child(NodeName id, std::string workflow, std::string input_from) {
    NodeDef node;
    node.id = id.str();
    node.kind = NodeKind::kChild;
    node.child_workflow = std::move(workflow);
    node.child_input = std::move(input_from);
    return StepBuilder(this, Append(std::move(node)));
}

// ---- WorkflowRegistry -----------------------------------------------------------------

void WorkflowRegistry::Add(Workflow workflow) {
    auto key = std::make_pair(workflow.name(), workflow.version());
    if (by_key_.contains(key)) {
        throw Error(ErrorCode::kAlreadyExists, "workflow '" + key.first + "' v" + std::to_string(key.second) +
                                                   " is already registered");
    }
    for (const Workflow::Place& p : workflow.nodes()) {
        if (p.def->kind == NodeKind::kChild && Latest(p.def->child_workflow) == nullptr) {
            throw Error(ErrorCode::kInvalidArgument,
                        "workflow '" + key.first + "' v" + std::to_string(key.second) + ": child node '" + p.def->id +
                            "' names workflow '" + p.def->child_workflow +
                            "', which is not registered (register a child's workflow before its parent's)");
        }
    }
    by_key_.emplace(std::move(key), std::move(workflow));
}

const Workflow* WorkflowRegistry::Find(std::string_view name, int version) const {
    auto it = by_key_.find(std::make_pair(std::string(name), version));
    return it == by_key_.end() ? nullptr : &it->second;
}

const Workflow* WorkflowRegistry::Latest(std::string_view name) const {
    const Workflow* best = nullptr;
    for (const auto& [key, wf] : by_key_) {
        if (key.first == name) best = &wf;  // map order: ascending version
    }
    return best;
}

std::vector<const Workflow*> WorkflowRegistry::All() const {
    std::vector<const Workflow*> out;
    out.reserve(by_key_.size());
    for (const auto& [key, wf] : by_key_) out.push_back(&wf);
    return out;
}

std::map<std::string, std::set<std::string>> WorkflowRegistry::Actions() const {
    std::map<std::string, std::set<std::string>> actions;
    for (const auto& [key, wf] : by_key_) {
        for (const StepDef& s : wf.steps()) {
            actions[s.queue].insert(s.name);
            if (s.compensation) actions[s.compensation->queue].insert(s.compensation->action);
        }
    }
    return actions;
}

std::set<std::string> WorkflowRegistry::Queues() const {
    std::set<std::string> queues;
    for (const auto& [queue, names] : Actions()) queues.insert(queue);
    return queues;
}

}  // namespace sagaflow
