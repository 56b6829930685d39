#include "node.hpp"

#include "keys.hpp"
#include "sagaflow/log.hpp"

#include <algorithm>

namespace sagaflow::runtime {

Node::Node(const WorkflowRegistry& registry, engine::SagaStore& store, const Clock& clock,
           NodeOptions options)
    : registry_(registry), store_(store), clock_(clock), options_(std::move(options)) {}

Node::~Node() { Stop(); }

std::string Node::Bind() {
    if (!bound_.empty()) return bound_;
    if (!router_) {  // once: a bind that failed (the port taken) is retried on the same socket
        transport::SocketOptions router_options;
        router_options.max_message_bytes = static_cast<std::int64_t>(options_.link.max_frame_bytes);
        if (options_.curve) router_options.curve_server = transport::CurveServerKeys{options_.curve->secret_key};
        router_ = std::make_unique<transport::Socket>(ctx_, transport::SocketKind::kRouter, router_options);
        if (options_.curve) {
            gatekeeper_ = std::make_unique<transport::Gatekeeper>(
                ctx_, *router_, [this](const transport::ZapRequest& r) { return Admit(r); },
                [this](transport::HandshakeFailure why, const std::string&) {
                    // kAuth is Admit's refusal, counted and logged there.
                    if (why == transport::HandshakeFailure::kProtocol) ++bad_crypto_;
                    if (why == transport::HandshakeFailure::kOther) ++other_failures_;
                });
        }
    }
    bound_ = router_->Bind(options_.worker_endpoint);
    return bound_;
}

transport::ZapVerdict Node::Admit(const transport::ZapRequest& r) {
    transport::ZapVerdict v;
    const auto list = options_.curve->keys->Get();
    if (r.mechanism == "CURVE" && list->Find(r.public_key) != nullptr) {
        v.allow = true;
        v.user_id = r.public_key;  // every message of the peer carries its key
        return v;
    }
    v.reason = "key not on the allow-list";
    if (++unknown_keys_ <= 100 || unknown_keys_ % 1000 == 0) {  // a flood of strangers stays a few lines
        log::Warn("worker_key_refused", {{"key", security::Fingerprint(r.public_key)},
                                         {"address", r.address},
                                         {"refused_so_far", unknown_keys_.load()},
                                         {"why", v.reason}});
    }
    return v;
}

HandshakeCounters Node::handshakes() const {
    return {gatekeeper_ ? gatekeeper_->handshakes() : 0, unknown_keys_.load(), bad_crypto_.load(),
            other_failures_.load()};
}

std::string Node::Start() {
    const std::string bound = Bind();
    const std::string wake = "inproc://sagaflow-node-wake-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    wake_pull_ = std::make_unique<transport::Socket>(ctx_, transport::SocketKind::kPull);
    wake_pull_->Bind(wake);
    wake_push_ = std::make_unique<transport::Socket>(ctx_, transport::SocketKind::kPush);
    wake_push_->Connect(wake);

    link_ = std::make_unique<WorkerLink>(*router_, registry_.Actions(), clock_, options_.link,
                                         LinkSecurity{options_.curve ? options_.curve->keys : nullptr});
    engine_ = std::make_unique<engine::Engine>(registry_, store_, *link_, clock_, options_.engine);
    link_->Attach(engine_->dispatcher());
    engine_->Recover();
    if (!engine_->unregistered().empty()) {
        std::size_t total = 0;
        for (const auto& [version, n] : engine_->unregistered()) total += n;
        log::Warn("sagas_of_unregistered_workflows",
                  {{"sagas", total},
                   {"by_version", engine_->unregistered()},
                   {"detail", "left untouched until a sagad that registers these versions runs"}});
    }
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
        if (auto r = link_->OnMessage(*m)) incoming.push_back(std::move(*r));
    }
    if (incoming.empty()) return;
    std::vector<engine::Event> events;  // one copy of each reply, straight into the batch
    events.reserve(incoming.size());
    for (const auto& r : incoming) events.emplace_back(r.reply);
    // A failure propagates to the loop, unacknowledged: the workers resend these replies.
    const auto statuses = engine_->ApplyEvents(events);
    for (std::size_t i = 0; i < incoming.size(); ++i) link_->Ack(incoming[i], statuses[i].code);
}

void Node::Loop() {
    // While the store fails, back off instead of spinning; replies wait unacknowledged in
    // the socket, and workers resend them anyway.
    auto next_try = std::chrono::steady_clock::now();
    while (!stop_) {
        auto timeout = std::chrono::milliseconds(100);
        if (guard_.failing()) {
            timeout = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::max(next_try - std::chrono::steady_clock::now(), std::chrono::steady_clock::duration::zero()));
        } else if (auto next = engine_->NextWakeup()) {
            const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next - clock_.Now());
            timeout = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(0), timeout);
        }
        try {
            const auto ready = transport::Poll({router_.get(), wake_pull_.get()}, timeout);
            if (ready[1]) {
                while (wake_pull_->TryReceive()) {
                }
                std::vector<std::function<void()>> tasks;
                {
                    std::lock_guard lock(mu_);
                    tasks.swap(tasks_);
                }
                for (auto& t : tasks) t();  // a task's exception goes to its caller's future
            }
            link_->ExpireSilentWorkers();
            if (std::chrono::steady_clock::now() < next_try) continue;
            DrainReplies();
            engine_->Tick();
            guard_.Succeeded();
        } catch (const std::exception& e) {
            next_try = std::chrono::steady_clock::now() + guard_.Failed(e);
        }
    }
}

}  // namespace sagaflow::runtime
