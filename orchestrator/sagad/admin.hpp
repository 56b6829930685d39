// The admin API between sagad and sagactl: ZeroMQ REQ/REP carrying versioned JSON.
//
//   request  {"v":1, "op":"show", "id":"..."}
//   reply    {"v":1, "ok":true, "result":{...}}   (list adds "limit", and "clamped":true
//                                                  when it asked for more than kMaxListPage)
//          | {"v":1, "ok":false, "error":{"code":"not_found", "message":"..."}}
//
// ops: workflows, start, start_batch, list, show, compensate, retry, workers, graph, stats.
#pragma once

#include <atomic>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "node.hpp"
#include "queries.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::sagad {

inline constexpr int kAdminVersion = 1;
inline constexpr std::size_t kMaxStartBatch = 1000;  ///< starts in one start_batch request
inline constexpr std::size_t kMaxListPage = 1000;    ///< sagas in one list reply; more is clamped

/// One request in, one reply out. Never throws: bad requests become error replies.
/// `log` hears about every state-changing operation (op, saga id, trace id).
class AdminHandler {
public:
    using Logger = std::function<void(const std::string& event, const nlohmann::json& fields)>;
    /// `max_running` bounds the sagas in flight (commands the engine tracks): a start that
    /// would exceed it is refused with resource_exhausted, so memory stays bounded. Writes
    /// go through `node`'s engine loop; reads (list, show, graph) through `queries`, on
    /// the admin thread, so they never wait behind the loop.
    AdminHandler(const WorkflowRegistry& registry, runtime::Node& node, engine::Queries& queries, Logger log,
                 std::size_t max_running = 100000);
    [[nodiscard]] std::string Handle(const std::string& request);

    /// Until called, this sagad is a hot standby: `stats` says so, every other op is
    /// refused with unavailable (sagactl exits 3: retry later, or ask the active node).
    /// `holds_lock`, when given, is asked by `stats`: "active" only while it says so,
    /// "lost" after (the node is about to exit).
    void SetActive(std::function<bool()> holds_lock = {}) {
        holds_lock_ = std::move(holds_lock);
        active_ = true;
    }

    /// Requests handled, and those refused before dispatch (oversized, not a JSON object,
    /// wrong version, more than one frame): what `stats` reports.
    [[nodiscard]] std::uint64_t requests() const { return requests_; }
    [[nodiscard]] std::uint64_t bad_requests() const { return bad_requests_; }

private:
    nlohmann::json Dispatch(const nlohmann::json& req);
    std::string Refuse(ErrorCode code, const std::string& message);

    const WorkflowRegistry& registry_;
    runtime::Node& node_;
    engine::Queries& queries_;
    Logger log_;
    std::size_t max_running_;
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> bad_requests_{0};
    std::atomic<bool> active_{false};
    std::function<bool()> holds_lock_;  // set before active_, read only after it
};

/// Serves an `AdminHandler` on a REP socket from its own thread.
class AdminServer {
public:
    AdminServer(AdminHandler& handler, std::string endpoint);
    ~AdminServer();
    /// Binds (once; throws `Error` if it cannot) and returns the bound endpoint.
    std::string Bind();
    /// Binds if needed and starts serving; returns the bound endpoint.
    std::string Start();
    void Stop();

private:
    AdminHandler& handler_;
    std::string endpoint_;
    std::unique_ptr<transport::Context> ctx_;  // declared first: outlives the socket
    std::unique_ptr<transport::Socket> rep_;
    std::string bound_;
    std::atomic<bool> stop_{false};
    runtime::LoopGuard guard_{"admin"};
    std::thread thread_;
};

}  // namespace sagaflow::sagad
