// The worker: one thread owns the DEALER socket and its poll loop; `capacity` handler
// threads each own a database connection and hand their replies back through an
// inproc PUSH/PULL pair that the loop polls.
#include "sagaflow/worker/worker.hpp"

#include <condition_variable>
#include <cstdio>
#include <deque>
#include <map>
#include <mutex>
#include <thread>
#include <algorithm>

#include "inbox.hpp"
#include "step_rules.hpp"
#include "keys.hpp"
#include "migrate.hpp"
#include "sagaflow/log.hpp"
#include "socket.hpp"

namespace sagaflow::worker {

using protocol::Envelope;
using protocol::Kind;
using Clock = std::chrono::steady_clock;

struct Worker::Impl {
    explicit Impl(WorkerOptions o) : options(std::move(o)) {}

    WorkerOptions options;
    std::map<std::string, std::pair<Handler, HandlerOptions>> handlers;  // by queue: what runs a command
    // Queues served per action (Handle): each action's handler, shared with the queue's
    // dispatcher in `handlers`. A queue given to Register is not here.
    std::map<std::string, std::shared_ptr<std::map<std::string, Handler>>> actions;
    AtomicStats stats;
    std::atomic<bool> stopping{false};

    transport::Context ctx;
    std::optional<transport::CurveClientKeys> curve;  // from key_file and server_key_file
    std::string results_endpoint;

    std::mutex mu;
    std::condition_variable cv;
    std::deque<Envelope> jobs;
    bool no_more_jobs = false;
    std::condition_variable retention_cv;  // its own: a job's notify_one must wake a handler

    void HandlerThread();
    void RetentionThread();
    std::vector<Envelope> Answer(pg::Connection* conn, const std::vector<Envelope>& batch);
    std::unique_ptr<pg::Connection> Connect(std::chrono::milliseconds& backoff);
    void Loop();
};

std::unique_ptr<pg::Connection> Worker::Impl::Connect(std::chrono::milliseconds& backoff) {
    try {
        auto c = std::make_unique<pg::Connection>(options.dsn, options.schema);
        backoff = std::chrono::milliseconds(50);
        return c;
    } catch (const Error& e) {
        log::Warn("database_unavailable", {{"worker", options.worker_id}, {"error", e.what()},
                                           {"retry_in_ms", backoff.count()}});
        std::unique_lock lock(mu);
        cv.wait_for(lock, backoff, [&] { return no_more_jobs; });
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        return nullptr;
    }
}

std::vector<Envelope> Worker::Impl::Answer(pg::Connection* conn, const std::vector<Envelope>& batch) {
    std::vector<Envelope> replies;
    for (const Envelope& cmd : batch) {
        Envelope reply;
        reply.kind = Kind::kReply;
        reply.msg_id = cmd.msg_id;
        reply.saga_id = cmd.saga_id;
        reply.trace_id = cmd.trace_id;
        replies.push_back(std::move(reply));
    }
    try {
        if (conn == nullptr) throw Error(ErrorCode::kUnavailable, "worker database unavailable");
        const auto outcomes = ExecuteBatch(
            *conn, batch, [this](const std::string& queue) -> const auto& { return handlers.at(queue); }, stats);
        for (std::size_t i = 0; i < batch.size(); ++i) {
            replies[i].outcome = outcomes[i].outcome;
            replies[i].output = outcomes[i].output;
            replies[i].reason = outcomes[i].reason;
        }
    } catch (const std::exception& e) {
        // Nothing committed (or in doubt): every command is retried; the inbox makes a
        // resend of a command that did commit answer from storage.
        for (auto& r : replies) {
            ++stats.retries;
            r.outcome = ReplyOutcome::kRetry;
            r.reason = e.what();
        }
    }
    for (std::size_t i = 0; i < batch.size(); ++i) {
        const Envelope& cmd = batch[i];
        const Envelope& r = replies[i];
        const nlohmann::json fields{{"saga_id", cmd.saga_id}, {"trace_id", cmd.trace_id},
                                    {"traceparent", cmd.traceparent}, {"msg_id", cmd.msg_id},
                                    {"node", cmd.step}, {"action", cmd.action},
                                    {"phase", ToString(cmd.phase)}, {"attempt", cmd.attempt},
                                    {"outcome", ToString(r.outcome)}, {"reason", r.reason}};
        if (r.outcome == ReplyOutcome::kRetry) {
            log::Warn("step_retry", fields);
        } else if (r.outcome == ReplyOutcome::kFail) {
            log::Info("step_failed", fields);
        } else {
            log::Debug("step_done", fields);
        }
    }
    return replies;
}

void Worker::Impl::HandlerThread() {
    transport::Socket out(ctx, transport::SocketKind::kPush);
    out.Connect(results_endpoint);
    std::unique_ptr<pg::Connection> conn;
    auto backoff = std::chrono::milliseconds(50);
    while (true) {
        std::vector<Envelope> batch;
        {
            std::unique_lock lock(mu);
            cv.wait(lock, [&] { return no_more_jobs || !jobs.empty(); });
            if (jobs.empty()) return;
            // Take what is already waiting, never wait for more: batching adds no latency.
            while (!jobs.empty() && static_cast<int>(batch.size()) < options.max_batch) {
                batch.push_back(std::move(jobs.front()));
                jobs.pop_front();
            }
        }
        if (!conn || !conn->healthy()) conn = Connect(backoff);
        auto replies = Answer(conn.get(), batch);
        if (conn && !conn->healthy()) {
            // The connection died under the batch (a database restart kills every idle
            // connection; each thread finds out on its next use). That says nothing about
            // the commands, so they get one more try on a fresh connection instead of
            // spending one of their attempts; the inbox makes the rerun safe even if the
            // lost COMMIT went through.
            conn = Connect(backoff);
            replies = Answer(conn.get(), batch);
        }
        for (const Envelope& reply : replies) {
            while (!out.Send(protocol::EncodeEnvelope(reply))) {
                std::this_thread::yield();  // inproc queue full: the loop is draining it
            }
        }
    }
}

void Worker::Impl::RetentionThread() {
    constexpr int kBatch = 1000;
    std::unique_ptr<pg::Connection> conn;
    auto backoff = std::chrono::milliseconds(50);
    for (std::chrono::milliseconds pause{0};; pause = options.inbox_retention_interval) {
        {
            std::unique_lock lock(mu);
            if (retention_cv.wait_for(lock, pause, [this] { return no_more_jobs; })) return;
        }
        try {
            if (!conn || !conn->healthy()) conn = Connect(backoff);
            if (!conn) continue;
            const Timestamp cutoff = SystemClock().Now() - std::chrono::duration_cast<Duration>(options.inbox_retention);
            std::int64_t removed = 0;
            for (std::int64_t n = kBatch; n == kBatch && !stopping;) {
                n = ExpireInbox(*conn, cutoff, kBatch);
                removed += n;
                stats.inbox_expired += static_cast<std::uint64_t>(n);
            }
            if (removed > 0) log::Info("inbox_expired", {{"worker", options.worker_id}, {"rows", removed}});
        } catch (const Error& e) {
            conn.reset();
            log::Warn("inbox_retention_failed", {{"worker", options.worker_id}, {"error", e.what()}});
        }
    }
}

void Worker::Impl::Loop() {
    transport::SocketOptions so;
    so.routing_id = options.worker_id;
    so.max_message_bytes = static_cast<std::int64_t>(options.max_frame_bytes);  // dropped unallocated
    so.curve_client = curve;  // unset: plain
    transport::Socket dealer(ctx, transport::SocketKind::kDealer, so);
    dealer.Connect(options.endpoint);
    transport::Socket results(ctx, transport::SocketKind::kPull);
    results_endpoint = "inproc://sagaflow-worker-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    results.Bind(results_endpoint);

    std::vector<std::thread> threads;
    const int thread_count = options.threads > 0 ? options.threads : std::min(options.capacity, 4);
    for (int i = 0; i < thread_count; ++i) threads.emplace_back([this] { HandlerThread(); });
    threads.emplace_back([this] { RetentionThread(); });

    Envelope hello;
    hello.kind = Kind::kHello;
    hello.worker_id = options.worker_id;
    hello.capacity = options.capacity;
    for (const auto& [queue, h] : handlers) hello.queues.push_back(queue);
    for (const auto& [queue, served] : actions) {  // queues served per action (Handle)
        for (const auto& [action, h] : *served) hello.actions[queue].push_back(action);
    }
    (void)dealer.Send(protocol::EncodeEnvelope(hello));

    struct Unacked {
        std::string bytes;
        Clock::time_point sent;
    };
    std::map<std::string, Unacked> unacked;
    std::string last_refusal;
    int in_flight = 0;
    auto next_heartbeat = Clock::now() + options.heartbeat_interval;

    while (!stopping || in_flight > 0) {
        const auto ready = transport::Poll({&dealer, &results}, std::chrono::milliseconds(50));
        if (ready[0]) {
            while (auto m = dealer.TryReceive()) {
                if (m->frames.size() != 1) {
                    ++stats.malformed_frames;
                    continue;
                }
                auto e = protocol::DecodeEnvelope(m->frames[0], options.max_frame_bytes);
                if (!e.ok()) {
                    ++stats.malformed_frames;
                    continue;
                }
                if (e->kind == Kind::kAck) {
                    unacked.erase(e->msg_id);
                } else if (e->kind == Kind::kRefused) {
                    // Heartbeats keep asking: a reloaded allow-list may take us later.
                    if (stats.refusals++ == 0 || e->reason != last_refusal) {
                        log::Error("refused_by_sagad", {{"worker", options.worker_id}, {"why", e->reason}});
                    }
                    last_refusal = e->reason;
                } else if (e->kind == Kind::kCommand && !stopping && handlers.contains(e->queue)) {
                    ++stats.commands;
                    ++in_flight;
                    std::lock_guard lock(mu);
                    jobs.push_back(std::move(*e));
                    cv.notify_one();
                } else if (e->kind != Kind::kCommand) {
                    ++stats.malformed_frames;  // sagad sends only commands and acks
                }
                // A command while stopping, or for a queue we do not serve, is not taken:
                // its deadline passes and sagad sends it elsewhere.
            }
        }
        if (ready[1]) {
            while (auto m = results.TryReceive()) {
                --in_flight;
                auto e = protocol::DecodeEnvelope(m->frames.at(0), std::string::npos);
                (void)dealer.Send(m->frames[0]);
                if (e.ok() && e->outcome != ReplyOutcome::kRetry) {
                    unacked[e->msg_id] = {m->frames[0], Clock::now()};
                }
            }
        }
        const auto now = Clock::now();
        if (now >= next_heartbeat) {
            Envelope hb = hello;
            hb.kind = Kind::kHeartbeat;
            hb.in_flight = in_flight;
            (void)dealer.Send(protocol::EncodeEnvelope(hb));
            next_heartbeat = now + options.heartbeat_interval;
        }
        for (auto& [id, u] : unacked) {
            if (now - u.sent >= options.reply_resend_interval) {
                (void)dealer.Send(u.bytes);
                u.sent = now;
                ++stats.replies_resent;
            }
        }
    }
    {
        std::lock_guard lock(mu);
        no_more_jobs = true;
    }
    cv.notify_all();
    retention_cv.notify_all();
    for (auto& t : threads) t.join();
}

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Worker::~Worker() = default;

void Worker::Register(const std::string& queue, Handler handler, HandlerOptions options) {
    if (queue.empty() || !handler) throw Error(ErrorCode::kInvalidArgument, "Register needs a queue and a handler");
    if (impl_->handlers.contains(queue)) {
        throw Error(ErrorCode::kInvalidArgument, "queue '" + queue + "' is already registered");
    }
    Handler h = WithErrorPolicy(std::move(handler), options.permanent);
    impl_->handlers[queue] = {std::move(h), std::move(options)};
}

void Worker::Add(const std::string& queue, const std::string& action, Handler handler, HandlerOptions options) {
    if (queue.empty() || action.empty() || !handler) {
        throw Error(ErrorCode::kInvalidArgument, "Handle needs a queue, an action and a handler");
    }
    if (!impl_->actions.contains(queue) && impl_->handlers.contains(queue)) {
        throw Error(ErrorCode::kInvalidArgument,
                    "queue '" + queue + "' is already registered with one handler for all its actions");
    }
    auto& served = impl_->actions[queue];
    if (!served) {
        served = std::make_shared<std::map<std::string, Handler>>();
        const std::string worker_id = impl_->options.worker_id;
        impl_->handlers[queue] = {[served, queue, worker_id](StepContext& ctx) -> StepResult {
                                      auto it = served->find(ctx.action());
                                      if (it != served->end()) return it->second(ctx);
                                      std::string known;
                                      for (const auto& [name, h] : *served) known += (known.empty() ? "" : ", ") + name;
                                      log::Warn("no_handler_for_action", {{"worker", worker_id}, {"queue", queue},
                                                                          {"action", ctx.action()}, {"serves", known}});
                                      // Transient: a worker that serves it (a newer build) may take the resend.
                                      throw std::runtime_error("no handler for action '" + ctx.action() + "' of queue '" +
                                                               queue + "' here (it serves " + known + ")");
                                  },
                                  options};
    } else if (impl_->handlers.at(queue).second.use_inbox != options.use_inbox) {
        throw Error(ErrorCode::kInvalidArgument, "the actions of queue '" + queue + "' must agree on use_inbox");
    }
    if (served->contains(action)) {
        throw Error(ErrorCode::kInvalidArgument, "action '" + action + "' of queue '" + queue + "' is already registered");
    }
    (*served)[action] = WithErrorPolicy(std::move(handler), std::move(options.permanent));
}

void Worker::Run() {
    const WorkerOptions& o = impl_->options;
    if (o.worker_id.empty() || o.capacity < 1 || impl_->handlers.empty()) {
        throw Error(ErrorCode::kInvalidArgument,
                    "a worker needs a worker_id, capacity >= 1 and at least one handler");
    }
    if (o.key_file.empty() != o.server_key_file.empty()) {
        throw Error(ErrorCode::kInvalidArgument, "CURVE needs both key_file and server_key_file (or neither)");
    }
    if (!o.key_file.empty()) {
        auto keys = security::LoadClientKeys(o.key_file, o.server_key_file);
        if (!keys.ok()) throw Error(keys.status().code, keys.status().message);
        impl_->curve = *keys;
        log::Info("worker_curve", {{"worker", o.worker_id}, {"key", security::Fingerprint(keys->public_key)},
                                   {"server_key", security::Fingerprint(keys->server_key)}});
    }
    // The inbox table, once, before any command: retried while the database is down.
    auto backoff = std::chrono::milliseconds(50);
    while (!impl_->stopping) {
        if (auto conn = impl_->Connect(backoff)) {
            pg::MigrateWorker(*conn);
            break;
        }
    }
    impl_->Loop();
}

void Worker::Stop() { impl_->stopping = true; }

WorkerStats Worker::stats() const {
    const AtomicStats& s = impl_->stats;
    return {s.commands,         s.handler_runs, s.inbox_hits,
            s.compensations_without_forward, s.forwards_after_compensation,
            s.retries,          s.malformed_frames, s.replies_resent, s.transactions, s.refusals,
            s.inbox_expired};
}

}  // namespace sagaflow::worker
