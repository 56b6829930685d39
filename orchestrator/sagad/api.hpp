// sagad's HTTP surface: the JSON API under /api/v1 (docs/openapi.yaml), /metrics, /healthz,
// /readyz and the web view (/ and /ui/*, embedded files that call the same API). A table of routes, one small handler each (userver's handler-per-route
// shape); the request and response types and their codec are the client's
// (include/sagaflow/client/api.hpp), so server and client cannot drift.
//
// Writes (start, compensate, retry, signal) go through the node's loop; reads (list, show,
// history, graph) through `Queries`, on the HTTP pool's threads, so they never wait
// behind the loop.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "http/message.hpp"
#include "allow_list.hpp"
#include "awaits.hpp"
#include "bulk.hpp"
#include "node.hpp"
#include "queries.hpp"
#include "sagaflow/workflow/workflow.hpp"
#include "telemetry.hpp"
#include "tokens.hpp"

namespace sagaflow::sagad {

struct ApiOptions {
    /// Sagas in flight (commands the engine tracks) at most: a start beyond is refused
    /// with resource_exhausted (429), so memory stays bounded.
    std::size_t max_running = 100000;
    /// Set: every route but health and the web view's files needs a bearer token whose
    /// role is enough (401 without one, 403 with too little). Unset: loopback only.
    const security::Reloadable<security::TokenSet>* tokens = nullptr;
    /// Callers waiting for sagas to end (GET .../await); null: the route answers unavailable.
    Awaits* awaits = nullptr;
    /// The longest an await waits; a longer timeout is clamped to it, and the answer says so.
    std::chrono::milliseconds max_await{60000};
    /// Bulk operator actions; null: their routes answer unavailable.
    BulkJobs* bulk = nullptr;
};

class Api {
public:
    Api(const WorkflowRegistry& registry, runtime::Node& node, engine::Queries& queries, Telemetry& telemetry,
        ApiOptions options = {});

    /// Routes one request. Never throws: every failure is a JSON error with its status.
    [[nodiscard]] http::Response Handle(const http::Request& request);

    /// Until called, this sagad is a hot standby: /readyz says 503, the API answers
    /// unavailable (503) but for stats, and /metrics shows node_active 0. `holds_lock`,
    /// when given, is asked by stats and /readyz.
    void SetActive(std::function<bool()> holds_lock = {});

    /// Every route served, as "METHOD /path/{param}": what docs/openapi.yaml must describe.
    [[nodiscard]] static std::vector<std::string> Routes();

    /// Active, and (when a lock check was given) still holding the leader lock.
    [[nodiscard]] bool Active() const;

    [[nodiscard]] std::uint64_t requests() const { return requests_; }
    [[nodiscard]] std::uint64_t bad_requests() const { return bad_requests_; }
    [[nodiscard]] std::uint64_t unauthenticated() const { return unauthenticated_; }
    [[nodiscard]] std::uint64_t forbidden() const { return forbidden_; }

private:
    /// A route's path parameters, and who called (for the audit trail).
    struct Params : std::map<std::string, std::string> {
        engine::Actor by;
    };
    using Fn = http::Response (Api::*)(const http::Request&, const Params&);
    enum class Access { kPublic, kViewer, kOperator, kAdmin };
    struct Route {
        const char* method;
        const char* pattern;
        Fn fn;
        bool needs_active;
        Access access;
    };
    /// With tokens: the caller, or the 401/403 to answer. Without: "anonymous".
    std::optional<http::Response> Authorize(const http::Request& req, const Route& route, Params& params);
    static const std::vector<Route>& Table();

    http::Response Workflows(const http::Request&, const Params&);
    http::Response Graph(const http::Request&, const Params&);
    http::Response Start(const http::Request&, const Params&);
    http::Response StartBatch(const http::Request&, const Params&);
    http::Response List(const http::Request&, const Params&);
    http::Response Show(const http::Request&, const Params&);
    http::Response History(const http::Request&, const Params&);
    http::Response Compensate(const http::Request&, const Params&);
    http::Response Retry(const http::Request&, const Params&);
    http::Response Resume(const http::Request&, const Params&);
    http::Response Skip(const http::Request&, const Params&);
    http::Response Cancel(const http::Request&, const Params&);
    http::Response Resolve(const http::Request&, const Params&);
    http::Response Compensation(const http::Request&, const Params&);
    http::Response BulkCreate(const http::Request&, const Params&);
    http::Response BulkList(const http::Request&, const Params&);
    http::Response BulkShow(const http::Request&, const Params&);
    http::Response Signal(const http::Request&, const Params&);
    http::Response Await(const http::Request&, const Params&);
    /// Every operator action: the body decoded, the action applied on the engine's thread.
    http::Response Operator(const http::Request&, const Params&, engine::OperatorAction::Kind kind);
    http::Response Workers(const http::Request&, const Params&);
    http::Response Stats(const http::Request&, const Params&);
    http::Response Metrics(const http::Request&, const Params&);
    http::Response Healthz(const http::Request&, const Params&);
    http::Response Readyz(const http::Request&, const Params&);
    http::Response Index(const http::Request&, const Params&);
    http::Response Asset(const http::Request&, const Params&);

    const WorkflowRegistry& registry_;
    runtime::Node& node_;
    engine::Queries& queries_;
    Telemetry& telemetry_;
    ApiOptions options_;
    std::atomic<std::uint64_t> requests_{0};
    std::atomic<std::uint64_t> bad_requests_{0};
    std::atomic<std::uint64_t> unauthenticated_{0};
    std::atomic<std::uint64_t> forbidden_{0};
    std::atomic<bool> active_{false};
    std::function<bool()> holds_lock_;  // set before active_, read only after it
};

}  // namespace sagaflow::sagad
