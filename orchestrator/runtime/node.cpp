#include "node.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

namespace sagaflow::runtime {

Node::Node(const WorkflowRegistry& registry, engine::SagaStore& store, const Clock& clock,
           NodeOptions options)
    : registry_(registry), store_(store), clock_(clock), options_(std::move(options)) {}

Node::~Node() { Stop(); }

std::string Node::Start() {
    router_ = std::make_unique<transport::Socket>(ctx_, transport::SocketKind::kRouter);
    const std::string bound = router_->Bind(options_.worker_endpoint);
    const std::string wake = "inproc://sagaflow-node-wake-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    wake_pull_ = std::make_unique<transport::Socket>(ctx_, transport::SocketKind::kPull);
    wake_pull_->Bind(wake);
    wake_push_ = std::make_unique<transport::Socket>(ctx_, transport::SocketKind::kPush);
    wake_push_->Connect(wake);

    std::set<std::string> queues;
    for (const Workflow* wf : registry_.All()) {
        for (const StepDef& s : wf->steps()) {
            queues.insert(s.queue);
            if (s.compensation) queues.insert(s.compensation->queue);
        }
    }
    dispatcher_ = std::make_unique<Dispatcher>(*router_, queues, clock_, options_.dispatcher);
    engine_ = std::make_unique<engine::Engine>(registry_, store_, *dispatcher_, clock_,
                                               options_.engine);
    engine_->Recover();
    thread_ = std::thread([this] { Loop(); });
    return bound;
}

void Node::Stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    Post([] {});
    thread_.join();
}

void Node::Post(std::function<void()> task) {
    std::lock_guard lock(mu_);
    tasks_.push_back(std::move(task));
    (void)wake_push_->Send("w");
}

void Node::DrainReplies() {
    std::vector<IncomingReply> incoming;
    while (static_cast<int>(incoming.size()) < options_.max_replies_per_batch) {
        auto m = router_->TryReceive();
        if (!m) break;
        if (auto r = dispatcher_->OnMessage(*m)) incoming.push_back(std::move(*r));
    }
    if (incoming.empty()) return;
    std::vector<engine::Reply> replies;
    replies.reserve(incoming.size());
    for (const auto& r : incoming) replies.push_back(r.reply);
    try {
        const auto statuses = engine_->ApplyReplies(replies);
        for (std::size_t i = 0; i < incoming.size(); ++i) dispatcher_->Ack(incoming[i], statuses[i].code);
    } catch (const Error& e) {
        // Not acknowledged: the workers resend and the batch is tried again.
        std::fprintf(stderr, "sagaflow: applying %zu replies failed: %s\n", replies.size(), e.what());
    }
}

void Node::Loop() {
    while (!stop_) {
        auto timeout = std::chrono::milliseconds(100);
        if (auto next = engine_->NextWakeup()) {
            const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.Now());
            timeout = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(0), timeout);
        }
        const auto ready = transport::Poll({router_.get(), wake_pull_.get()}, timeout);
        if (ready[1]) {
            while (wake_pull_->TryReceive()) {
            }
            std::vector<std::function<void()>> tasks;
            {
                std::lock_guard lock(mu_);
                tasks.swap(tasks_);
            }
            for (auto& t : tasks) t();
        }
        try {
            DrainReplies();
            if (dispatcher_->TakeCapacityFreed()) engine_->OfferRefusedNow();
            engine_->Tick();
        } catch (const Error& e) {
            std::fprintf(stderr, "sagaflow: engine loop: %s\n", e.what());
        }
        dispatcher_->ExpireSilentWorkers();
    }
}

}  // namespace sagaflow::runtime
