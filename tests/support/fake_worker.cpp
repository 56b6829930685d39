#include "fake_worker.hpp"

namespace sagaflow::testing {

using engine::Command;
using engine::Reply;

FakeWorker::FakeWorker() = default;

namespace {
constexpr int kRoomy = 1 << 20;
}  // namespace

void FakeWorker::Attach(engine::Engine& engine, const WorkflowRegistry& registry) {
    ledger_ = &engine.dispatcher();
    const auto queues = registry.Queues();
    queues_.assign(queues.begin(), queues.end());
    ledger_->Join("fake-worker", queues_, kRoomy);
}

void FakeWorker::SetRefusing(bool refusing) {
    if (ledger_ != nullptr) ledger_->Join("fake-worker", queues_, refusing ? 0 : kRoomy);
}

bool FakeWorker::Deliver(const std::string& /*worker*/, const Command& command) {
    received_.push_back(command);
    if (drop_ > 0) {
        --drop_;
        return true;  // taken, then lost on the way
    }
    queue_.push_back(command);
    return true;
}

void FakeWorker::On(const std::string& action, Handler handler) {
    handlers_[action] = std::move(handler);
}

void FakeWorker::FailWith(const std::string& action, const std::string& reason) {
    On(action, [reason](const Command& c) {
        return Reply{c.msg_id, ReplyOutcome::kFail, nlohmann::json::object(), reason, c.saga_id, false, {}, {}};
    });
}

void FakeWorker::RetryTimes(const std::string& action, int times) {
    retries_left_[action] = times;
    On(action, [this, action](const Command& c) {
        int& left = retries_left_[action];
        if (left != 0) {
            if (left > 0) --left;
            return Reply{c.msg_id, ReplyOutcome::kRetry, nlohmann::json::object(), "transient", c.saga_id, false, {}, {}};
        }
        return Reply{c.msg_id, ReplyOutcome::kOk, {{"done", action}}, "", c.saga_id, false, {}, {}};
    });
}

Reply FakeWorker::Handle(const Command& c) {
    // The inbox: a command seen before answers from storage, running nothing.
    if (auto it = inbox_.find(c.msg_id); it != inbox_.end()) return it->second;
    ++handler_runs_;
    auto h = handlers_.find(c.action);
    Reply r = h != handlers_.end()
                  ? h->second(c)
                  : Reply{c.msg_id, ReplyOutcome::kOk, {{"done", c.action}}, "", c.saga_id, false, {}, {}};
    r.msg_id = c.msg_id;
    // A retry is a rolled-back transaction: nothing stored, nothing done.
    if (r.outcome != ReplyOutcome::kRetry) inbox_[c.msg_id] = r;
    if (r.outcome == ReplyOutcome::kOk) {
        ++effects_[{c.saga_id.str(), c.step_index, c.phase}];
        run_order_.emplace_back(c.saga_id, c.action);
    }
    return r;
}

std::vector<Reply> FakeWorker::RunQueued() {
    std::vector<Reply> replies;
    while (!queue_.empty()) {
        Command c = std::move(queue_.front());
        queue_.pop_front();
        replies.push_back(Handle(c));
    }
    return replies;
}

int FakeWorker::Pump(engine::Engine& engine) {
    auto replies = RunQueued();
    engine.ApplyReplies(replies);
    return static_cast<int>(replies.size());
}

int FakeWorker::effects(const SagaId& saga, int step, Phase phase) const {
    auto it = effects_.find({saga.str(), step, phase});
    return it == effects_.end() ? 0 : it->second;
}

std::vector<std::string> FakeWorker::RunOrder(const SagaId& saga) const {
    std::vector<std::string> out;
    for (const auto& [id, action] : run_order_) {
        if (id == saga) out.push_back(action);
    }
    return out;
}

}  // namespace sagaflow::testing
