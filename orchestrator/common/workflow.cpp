#include "sagaflow/workflow/workflow.hpp"

#include <set>
#include <sstream>

#include "sagaflow/core/error.hpp"

namespace sagaflow {
namespace {

bool IsValidName(std::string_view name) {
    if (name.empty() || name.size() > 128) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

void CheckPolicy(const RetryPolicy& p, const std::string& where, std::vector<std::string>& out) {
    if (p.max_attempts < 1) out.push_back(where + ": max_attempts must be >= 1");
    if (p.initial_backoff.count() < 0) out.push_back(where + ": initial_backoff must be >= 0");
    if (!(p.multiplier >= 1.0)) out.push_back(where + ": multiplier must be >= 1");
    if (p.max_backoff < p.initial_backoff) {
        out.push_back(where + ": max_backoff must be >= initial_backoff");
    }
    if (!(p.jitter >= 0.0 && p.jitter <= 1.0)) out.push_back(where + ": jitter must be in [0, 1]");
}

}  // namespace

RetryPolicy DefaultCompensationPolicy() {
    RetryPolicy p;
    p.max_attempts = 10;
    return p;
}

StepDef& StepBuilder::def() { return owner_->steps_.at(index_); }

StepBuilder& StepBuilder::CompensateWith(std::string action, std::string queue) {
    CompensationDef c;
    c.action = std::move(action);
    c.queue = queue.empty() ? def().queue : std::move(queue);
    if (def().compensation) {
        c.retry = def().compensation->retry;
        c.timeout = def().compensation->timeout;
    }
    def().compensation = std::move(c);
    return *this;
}

StepBuilder& StepBuilder::Retry(const RetryPolicy& policy) {
    def().retry = policy;
    return *this;
}

StepBuilder& StepBuilder::CompensationRetry(const RetryPolicy& policy) {
    if (!def().compensation) def().compensation = CompensationDef{};
    def().compensation->retry = policy;
    return *this;
}

StepBuilder& StepBuilder::Timeout(std::chrono::milliseconds per_attempt) {
    def().timeout = per_attempt;
    return *this;
}

StepBuilder& StepBuilder::CompensationTimeout(std::chrono::milliseconds per_attempt) {
    if (!def().compensation) def().compensation = CompensationDef{};
    def().compensation->timeout = per_attempt;
    return *this;
}

StepBuilder StepBuilder::Step(std::string name, std::string queue) {
    return owner_->Step(std::move(name), std::move(queue));
}

Workflow StepBuilder::Build() const { return owner_->Build(); }

WorkflowBuilder::WorkflowBuilder(std::string name, int version)
    : name_(std::move(name)), version_(version) {}

StepBuilder WorkflowBuilder::Step(std::string name, std::string queue) {
    StepDef def;
    def.name = std::move(name);
    def.queue = std::move(queue);
    steps_.push_back(std::move(def));
    return StepBuilder(this, steps_.size() - 1);
}

Workflow WorkflowBuilder::Build() const {
    std::vector<std::string> problems;
    if (!IsValidName(name_)) {
        problems.push_back("name '" + name_ + "' must be 1-128 of [A-Za-z0-9_.-]");
    }
    if (version_ < 1) problems.push_back("version must be >= 1");
    if (steps_.empty()) problems.push_back("a workflow needs at least one step");

    std::set<std::string> actions;
    for (std::size_t i = 0; i < steps_.size(); ++i) {
        const StepDef& s = steps_[i];
        const std::string where = "step " + std::to_string(i + 1) + " '" + s.name + "'";
        if (!IsValidName(s.name)) problems.push_back(where + ": name must be 1-128 of [A-Za-z0-9_.-]");
        if (!actions.insert(s.name).second) problems.push_back(where + ": duplicate action name");
        if (s.queue.empty()) problems.push_back(where + ": empty queue");
        if (s.timeout.count() <= 0) problems.push_back(where + ": timeout must be > 0");
        CheckPolicy(s.retry, where + " retry", problems);
        if (s.compensation) {
            const CompensationDef& c = *s.compensation;
            if (!IsValidName(c.action)) {
                problems.push_back(where + ": compensation name must be 1-128 of [A-Za-z0-9_.-]");
            } else if (!actions.insert(c.action).second) {
                problems.push_back(where + ": duplicate action name '" + c.action + "'");
            }
            if (c.queue.empty()) problems.push_back(where + ": empty compensation queue");
            if (c.timeout.count() <= 0) problems.push_back(where + ": compensation timeout must be > 0");
            CheckPolicy(c.retry, where + " compensation retry", problems);
        }
    }
    if (!problems.empty()) {
        std::ostringstream msg;
        msg << "invalid workflow '" << name_ << "' v" << version_ << ": ";
        for (std::size_t i = 0; i < problems.size(); ++i) msg << (i ? "; " : "") << problems[i];
        throw Error(ErrorCode::kInvalidArgument, msg.str());
    }
    auto data = std::make_shared<Workflow::Data>();
    data->name = name_;
    data->version = version_;
    data->steps = steps_;
    return Workflow(std::move(data));
}

void WorkflowRegistry::Add(Workflow workflow) {
    auto key = std::make_pair(workflow.name(), workflow.version());
    if (by_key_.contains(key)) {
        throw Error(ErrorCode::kAlreadyExists, "workflow '" + key.first + "' v" +
                                                   std::to_string(key.second) +
                                                   " is already registered");
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

}  // namespace sagaflow
