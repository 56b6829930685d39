// One orchestrator node: the engine, the worker link and the ROUTER socket, driven by one
// loop thread (DESIGN §3). Other threads hand work in through `Submit`, which the loop
// runs between polls; nothing else touches the engine or the socket.
#pragma once

#include <atomic>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "allow_list.hpp"
#include "curve.hpp"
#include "engine.hpp"
#include "loop_guard.hpp"
#include "socket.hpp"
#include "worker_link.hpp"

namespace sagaflow::runtime {

/// CURVE on the worker port: sagad's secret key, and the allow-list (reloadable) that
/// says which worker keys may connect and what each may serve.
struct WorkerCurve {
    std::string secret_key;  ///< Z85
    const security::KeyRing* keys = nullptr;
};

/// Handshakes refused at the worker port, by reason. Monotonic.
struct HandshakeCounters {
    std::uint64_t completed = 0;
    std::uint64_t unknown_key = 0;  ///< ZAP refused it: not on the allow-list
    std::uint64_t bad_crypto = 0;   ///< e.g. a client using a wrong server key
    std::uint64_t other = 0;        ///< cut short, stalled past the handshake timeout, ...
};

struct NodeOptions {
    std::string worker_endpoint = "tcp://127.0.0.1:5555";
    std::optional<WorkerCurve> curve;  ///< unset: plain ZeroMQ (loopback or ipc only, or told insecure)
    LinkOptions link;
    engine::EngineOptions engine;
    int max_replies_per_batch = 512;
};

class Node {
public:
    Node(const WorkflowRegistry& registry, engine::SagaStore& store, const Clock& clock,
         NodeOptions options);
    ~Node();  ///< Stops the loop.
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    /// Binds the worker socket (once) and returns the bound endpoint (port read back for
    /// tcp://host:*). Throws `Error(kUnavailable)` when it is taken.
    std::string Bind();
    /// Binds if `Bind` was not called, recovers pending commands and starts the loop
    /// thread. Returns the bound endpoint.
    std::string Start();
    /// Stops the loop and joins it. Idempotent.
    void Stop();
    /// Exceptions the loop caught (and backed off from) so far. Thread-safe.
    [[nodiscard]] std::uint64_t loop_errors() const { return guard_.errors(); }
    /// CURVE handshakes at the worker port. Thread-safe.
    [[nodiscard]] HandshakeCounters handshakes() const;

    /// Runs `fn` on the loop thread with the engine and waits for it. Thread-safe.
    template <class R>
    R Submit(std::function<R(engine::Engine&, WorkerLink&)> fn) {
        auto task = std::make_shared<std::packaged_task<R()>>(
            [this, fn = std::move(fn)] { return fn(*engine_, *link_); });
        auto result = task->get_future();
        Post([task] { (*task)(); });
        return result.get();
    }

private:
    void Post(std::function<void()> task);
    transport::ZapVerdict Admit(const transport::ZapRequest& r);  // on the gatekeeper's thread
    void Loop();
    void DrainReplies();

    const WorkflowRegistry& registry_;
    engine::SagaStore& store_;
    const Clock& clock_;
    NodeOptions options_;
    transport::Context ctx_;
    std::unique_ptr<transport::Socket> router_;
    std::unique_ptr<transport::Gatekeeper> gatekeeper_;  // before router_ closes: declared after it
    std::atomic<std::uint64_t> unknown_keys_{0};
    std::atomic<std::uint64_t> bad_crypto_{0};
    std::atomic<std::uint64_t> other_failures_{0};
    std::string bound_;
    std::unique_ptr<transport::Socket> wake_pull_;
    std::unique_ptr<transport::Socket> wake_push_;  // guarded by mu_
    std::unique_ptr<WorkerLink> link_;
    std::unique_ptr<engine::Engine> engine_;
    std::mutex mu_;
    std::vector<std::function<void()>> tasks_;
    std::atomic<bool> stop_{false};
    LoopGuard guard_{"node"};
    std::thread thread_;
};

}  // namespace sagaflow::runtime
