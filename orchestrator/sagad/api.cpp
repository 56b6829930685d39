#include "api.hpp"

#include <chrono>

#include "graph_dot.hpp"
#include "sagaflow/client/api.hpp"
#include "sagaflow/core/numbers.hpp"
#include "sagaflow/log.hpp"
#include "sagaflow/protocol/envelope.hpp"
#include "web/assets.hpp"

namespace sagaflow::sagad {
namespace {

using nlohmann::json;

http::Response Ok(const json& body, int status = 200) {
    return http::Json(status, body.dump(-1, ' ', false, json::error_handler_t::replace));
}

http::Response Fail(const Status& s) { return http::JsonError(s.code, s.message); }

Status Busy(std::size_t max_running) {
    return {ErrorCode::kResourceExhausted, "too many sagas in flight (max_running_sagas " +
                                               std::to_string(max_running) + "); retry later"};
}

SagaId IdParam(const std::map<std::string, std::string>& params) {
    const std::string& text = params.at("id");
    auto id = ParseUuidId<SagaId>(text);
    if (!id) throw Error(ErrorCode::kInvalidArgument, "'" + text + "' is not a saga id");
    return *id;
}

// A W3C traceparent on the request: the saga joins the caller's trace.
std::optional<TraceId> CallersTrace(const http::Request& req) {
    auto id = protocol::TraceIdOf(req.Header("traceparent"));
    return id ? std::optional(TraceId(*id)) : std::nullopt;
}

engine::StartRequest ToEngine(const api::StartSaga& s, const std::optional<TraceId>& trace, const engine::Actor& by) {
    engine::StartRequest r;
    r.trace_id = trace;
    r.by = by;
    r.workflow = s.workflow;
    r.version = s.version;
    r.input = s.input;
    if (s.business_key) r.business_key = BusinessKey(*s.business_key);
    return r;
}

// The steps whose commands are out (forward or undo), comma-separated.
std::optional<std::string> StepsInFlight(const engine::SagaRecord& s) {
    std::string steps;
    for (const auto& [id, n] : s.nodes.nodes) {
        const bool out = n.state == engine::NodeState::kRunning || (n.state == engine::NodeState::kCompensating && !n.stuck);
        if (out || n.stuck) steps += (steps.empty() ? "" : ",") + id;
    }
    return steps.empty() ? std::nullopt : std::optional(steps);
}

api::SagaSummary SummaryOf(const engine::SagaRecord& s, const Workflow* wf) {
    api::SagaSummary out;
    out.id = s.id;
    out.workflow = s.workflow;
    out.version = s.workflow_version;
    out.status = s.status;
    out.step = StepsInFlight(s);
    if (s.business_key) out.business_key = s.business_key->str();
    out.reason = s.failure_reason;
    out.trace_id = s.trace_id.str();
    out.created_at = s.created_at;
    out.updated_at = s.updated_at;
    if (wf == nullptr) out.problem = engine::UnregisteredReason(s);
    if (s.parent_id) {
        out.parent = s.parent_id->str();
        out.parent_node = s.parent_node;
    }
    return out;
}

// Every node of the saga's workflow in declaration order, with its state; without the
// workflow, the stored states alone.
std::vector<api::NodeInfo> NodesOf(const engine::SagaRecord& s, const Workflow* wf) {
    std::vector<api::NodeInfo> out;
    auto one = [&](const std::string& id, std::string_view kind) {
        const engine::NodeStatus n = s.nodes.at(id);
        out.push_back({id, std::string(kind), std::string(engine::ToString(n.state)), n.order, n.uncertain, n.stuck,
                       n.expired});
    };
    if (wf == nullptr) {
        for (const auto& [id, n] : s.nodes.nodes) one(id, "unknown");
        return out;
    }
    for (const auto& place : wf->nodes()) one(place.def->id, ToString(place.def->kind));
    return out;
}

std::vector<api::HistoryEntry> HistoryOf(const std::vector<engine::HistoryEvent>& events) {
    std::vector<api::HistoryEntry> out;
    for (const auto& h : events) {
        out.push_back({h.seq, h.at, h.kind, h.node.empty() ? std::nullopt : std::optional(h.node), h.phase, h.attempt,
                       h.msg_id, h.detail});
    }
    return out;
}

// The opaque list cursor: the last saga of a page, "<created_at µs>_<id>".
std::string CursorOf(const engine::SagaRecord& s) {
    return std::to_string(s.created_at.time_since_epoch().count()) + "_" + s.id.str();
}

engine::SagaCursor ParseCursor(const std::string& text) {
    const std::size_t sep = text.find('_');
    const auto bad = [&] { return Error(ErrorCode::kInvalidArgument, "'cursor' is not one this API handed out"); };
    if (sep == std::string::npos) throw bad();
    const auto us = ParseInteger(std::string_view(text).substr(0, sep), INT64_MIN, INT64_MAX);
    auto id = ParseUuidId<SagaId>(text.substr(sep + 1));
    if (!us || !id) throw bad();
    return {Timestamp(std::chrono::microseconds(*us)), *id};
}

// Matches a path against a pattern ("/api/v1/sagas/{id}"), capturing the parameters.
bool Match(std::string_view pattern, std::string_view path, std::map<std::string, std::string>& params) {
    params.clear();
    while (!pattern.empty() || !path.empty()) {
        if (pattern.empty() || path.empty() || pattern[0] != '/' || path[0] != '/') return false;
        pattern.remove_prefix(1);
        path.remove_prefix(1);
        const std::string_view p = pattern.substr(0, pattern.find('/'));
        const std::string_view s = path.substr(0, path.find('/'));
        if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
            if (s.empty()) return false;
            params[std::string(p.substr(1, p.size() - 2))] = std::string(s);
        } else if (p != s) {
            return false;
        }
        pattern.remove_prefix(p.size());
        path.remove_prefix(s.size());
    }
    return true;
}

}  // namespace

Api::Api(const WorkflowRegistry& registry, runtime::Node& node, engine::Queries& queries, Telemetry& telemetry,
         ApiOptions options)
    : registry_(registry), node_(node), queries_(queries), telemetry_(telemetry), options_(options) {}

const std::vector<Api::Route>& Api::Table() {
    using A = Access;
    static const std::vector<Route> kRoutes{
        {"GET", "/api/v1/workflows", &Api::Workflows, true, A::kViewer},
        {"GET", "/api/v1/workflows/{name}/graph", &Api::Graph, true, A::kViewer},
        {"POST", "/api/v1/sagas", &Api::Start, true, A::kOperator},
        {"POST", "/api/v1/sagas/batch", &Api::StartBatch, true, A::kOperator},
        {"GET", "/api/v1/sagas", &Api::List, true, A::kViewer},
        {"GET", "/api/v1/sagas/{id}", &Api::Show, true, A::kViewer},
        {"GET", "/api/v1/sagas/{id}/history", &Api::History, true, A::kViewer},
        {"POST", "/api/v1/sagas/{id}/compensate", &Api::Compensate, true, A::kOperator},
        {"POST", "/api/v1/sagas/{id}/retry", &Api::Retry, true, A::kOperator},
        {"POST", "/api/v1/sagas/{id}/resume", &Api::Resume, true, A::kOperator},
        {"POST", "/api/v1/sagas/{id}/skip", &Api::Skip, true, A::kOperator},
        {"POST", "/api/v1/sagas/{id}/cancel", &Api::Cancel, true, A::kOperator},
        {"POST", "/api/v1/sagas/{id}/resolve", &Api::Resolve, true, A::kOperator},
        {"GET", "/api/v1/sagas/{id}/compensation", &Api::Compensation, true, A::kViewer},
        {"POST", "/api/v1/bulk", &Api::BulkCreate, true, A::kOperator},
        {"GET", "/api/v1/bulk", &Api::BulkList, true, A::kViewer},
        {"GET", "/api/v1/bulk/{id}", &Api::BulkShow, true, A::kViewer},
        {"POST", "/api/v1/sagas/{id}/signals", &Api::Signal, true, A::kOperator},
        {"GET", "/api/v1/sagas/{id}/await", &Api::Await, true, A::kViewer},
        {"GET", "/api/v1/workers", &Api::Workers, true, A::kAdmin},
        {"GET", "/api/v1/stats", &Api::Stats, false, A::kViewer},
        {"GET", "/metrics", &Api::Metrics, false, A::kViewer},
        {"GET", "/healthz", &Api::Healthz, false, A::kPublic},
        {"GET", "/readyz", &Api::Readyz, false, A::kPublic},
        {"GET", "/", &Api::Index, false, A::kPublic},          // the page asks for a token itself
        {"GET", "/ui/{file}", &Api::Asset, false, A::kPublic},
    };
    return kRoutes;
}

std::vector<std::string> Api::Routes() {
    std::vector<std::string> out;
    for (const Route& r : Table()) out.push_back(std::string(r.method) + " " + r.pattern);
    return out;
}

void Api::SetActive(std::function<bool()> holds_lock) {
    holds_lock_ = std::move(holds_lock);
    active_ = true;
}

bool Api::Active() const { return active_ && (!holds_lock_ || holds_lock_()); }

std::optional<http::Response> Api::Authorize(const http::Request& req, const Route& route, Params& params) {
    params.by.remote = req.remote;
    if (options_.tokens == nullptr) {
        params.by.name = "anonymous";
        return std::nullopt;
    }
    if (route.access == Access::kPublic) return std::nullopt;
    const auto refused = [&](std::atomic<std::uint64_t>& counter, const std::string& why, const std::string& who) {
        // The first hundred, then one in a thousand: a stranger's flood is a few lines.
        if (const auto n = ++counter; n <= 100 || n % 1000 == 0) {
            log::Warn("api_refused", {{"remote", req.remote}, {"route", std::string(route.method) + " " + route.pattern},
                                      {"token", who}, {"why", why}, {"refused_so_far", n}});
        }
    };
    const auto caller = options_.tokens->Get()->Authenticate(req.Header("authorization"));
    if (!caller.ok()) {
        refused(unauthenticated_, caller.status().message, "");
        http::Response r = http::JsonError(ErrorCode::kUnauthenticated, caller.status().message);
        r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"sagad\"");
        return r;
    }
    static constexpr security::Role kNeeds[] = {security::Role::kViewer, security::Role::kViewer,
                                                security::Role::kOperator, security::Role::kAdmin};
    const security::Role need = kNeeds[static_cast<int>(route.access)];
    if (caller->role < need) {
        const std::string why = "token '" + caller->name + "' is " + std::string(security::ToString(caller->role)) +
                                "; " + route.method + " " + route.pattern + " needs " +
                                std::string(security::ToString(need));
        refused(forbidden_, why, caller->name);
        return http::JsonError(ErrorCode::kPermissionDenied, why);
    }
    params.by.name = caller->name;
    return std::nullopt;
}

http::Response Api::Handle(const http::Request& req) {
    ++requests_;
    const auto began = std::chrono::steady_clock::now();
    const Route* route = nullptr;
    Params params;
    bool path_known = false;
    for (const Route& r : Table()) {
        if (!Match(r.pattern, req.path, params)) continue;
        path_known = true;
        if (req.method == r.method || (req.method == "HEAD" && std::string_view(r.method) == "GET")) {
            route = &r;
            break;
        }
    }
    http::Response res;
    // A browser on another site can send a POST without asking (a form, or fetch in
    // no-cors mode), but never with this content type: operator actions need it.
    const bool json_body = req.Header("content-type").rfind("application/json", 0) == 0;
    std::optional<http::Response> refusal;  // who may ask comes before what was asked
    if (route != nullptr) refusal = Authorize(req, *route, params);
    if (refusal) {
        res = std::move(*refusal);
    } else if (route != nullptr && req.method == "POST" && !json_body) {
        res = http::JsonError(ErrorCode::kInvalidArgument, "a POST must carry Content-Type: application/json", 415);
    } else if (route == nullptr) {
        res = path_known ? http::JsonError(ErrorCode::kInvalidArgument, "method " + req.method + " is not allowed here", 405)
                         : http::JsonError(ErrorCode::kNotFound, "no route " + req.path);
    } else if (route->needs_active && !active_) {
        res = http::JsonError(ErrorCode::kUnavailable,
                              "this sagad is a standby: another sagad is active on this database; retry later");
    } else {
        try {
            res = (this->*(route->fn))(req, params);
        } catch (const Error& e) {
            res = Fail(e.status());
        } catch (const std::exception& e) {
            res = http::JsonError(ErrorCode::kInternal, e.what());
        }
    }
    if (res.status >= 400 && res.status < 500) ++bad_requests_;
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
    telemetry_.Request(route != nullptr ? route->pattern : "unmatched", route != nullptr ? route->method : "other",
                       res.status, seconds);
    return res;
}

http::Response Api::Workflows(const http::Request&, const Params&) {
    api::Workflows out;
    for (const Workflow* wf : registry_.All()) {
        api::WorkflowInfo info{wf->name(), wf->version(), {}};
        for (const StepDef& s : wf->steps()) {
            info.steps.push_back({s.name, s.queue, s.compensation ? std::optional(s.compensation->action) : std::nullopt,
                                  s.retry.max_attempts, static_cast<std::int64_t>(s.timeout.count())});
        }
        out.workflows.push_back(std::move(info));
    }
    return Ok(out);
}

http::Response Api::Graph(const http::Request& req, const Params& params) {
    const std::string& name = params.at("name");
    std::optional<int> version;
    if (const auto v = req.query.find("version"); v != req.query.end()) {
        auto q = api::ListQueryFrom({{"version", v->second}});
        if (!q.ok()) return Fail(q.status());
        version = q->version;
    }
    std::optional<engine::SagaView> view;
    if (const auto s = req.query.find("saga"); s != req.query.end()) {
        auto r = queries_.Describe(IdParam({{"id", s->second}}));
        if (!r.ok()) return Fail(r.status());
        view = *r;
    }
    const Workflow* wf = view      ? registry_.Find(view->saga.workflow, view->saga.workflow_version)
                         : version ? registry_.Find(name, *version)
                                   : registry_.Latest(name);
    if (wf == nullptr || wf->name() != name || (view && version && wf->version() != *version)) {
        return Fail({ErrorCode::kNotFound, "unknown workflow '" + name + "'" +
                                               (version ? " v" + std::to_string(*version) : "") +
                                               (view ? " for that saga" : "")});
    }
    const std::optional<SagaMarks> marks = view ? std::optional(MarksOf(*view)) : std::nullopt;
    return Ok(api::Graph{WorkflowDot(*wf, marks ? &*marks : nullptr)});
}

http::Response Api::Start(const http::Request& req, const Params& params) {
    auto start = api::Decode<api::StartSaga>(req.body);
    if (!start.ok()) return Fail(start.status());
    const engine::StartRequest one = ToEngine(*start, CallersTrace(req), params.by);
    auto r = node_.Submit<Result<engine::StartResult>>([&](engine::Engine& e, runtime::WorkerLink&) {
        if (e.tracked() + 1 > options_.max_running) return Result<engine::StartResult>(Busy(options_.max_running));
        return e.Start(one);
    });
    if (!r.ok()) return Fail(r.status());
    log::Info("saga_started", {{"saga_id", r->saga_id.str()}, {"workflow", one.workflow}, {"created", r->created},
                               {"by", params.by.name}});
    return Ok(api::Started{r->saga_id, r->created}, r->created ? 201 : 200);
}

http::Response Api::StartBatch(const http::Request& req, const Params& params) {
    auto batch = api::Decode<api::StartBatch>(req.body);
    if (!batch.ok()) return Fail(batch.status());
    std::vector<engine::StartRequest> starts;
    for (const auto& s : batch->sagas) starts.push_back(ToEngine(s, CallersTrace(req), params.by));
    auto results = node_.Submit<std::vector<Result<engine::StartResult>>>([&](engine::Engine& e, runtime::WorkerLink&) {
        if (e.tracked() + starts.size() > options_.max_running) {
            return std::vector<Result<engine::StartResult>>(starts.size(), Busy(options_.max_running));
        }
        return e.StartMany(starts);
    });
    api::BatchStarted out;
    for (const auto& r : results) {
        api::BatchItem item;
        if (r.ok()) {
            item.started = api::Started{r->saga_id, r->created};
        } else {
            item.error = api::ApiError{r.code(), r.status().message};
        }
        out.results.push_back(std::move(item));
    }
    log::Debug("sagas_started", {{"count", starts.size()}});
    return Ok(out);
}

http::Response Api::List(const http::Request& req, const Params&) {
    auto q = api::ListQueryFrom(req.query);
    if (!q.ok()) return Fail(q.status());
    engine::SagaFilter f;
    f.status = q->status;
    f.workflow = q->workflow;
    f.version = q->version;
    if (q->business_key) f.business_key = BusinessKey(*q->business_key);
    f.created_after = q->created_after;
    f.created_before = q->created_before;
    if (q->cursor) f.after = ParseCursor(*q->cursor);
    // A page is bounded, so one request cannot hold sagad's memory hostage.
    const int asked = q->limit.value_or(100);
    const int limit = std::min(asked, api::kMaxListPage);
    f.limit = limit + 1;  // one more tells whether there is a next page
    auto sagas = queries_.List(f);
    api::SagaPage page;
    page.limit = limit;
    page.clamped = asked > limit;
    if (static_cast<int>(sagas.size()) > limit) {
        sagas.resize(static_cast<std::size_t>(limit));
        page.next_cursor = CursorOf(sagas.back());
    }
    for (const auto& s : sagas) page.sagas.push_back(SummaryOf(s, registry_.Find(s.workflow, s.workflow_version)));
    return Ok(page);
}

http::Response Api::Show(const http::Request&, const Params& params) {
    auto r = queries_.Describe(IdParam(params));
    if (!r.ok()) return Fail(r.status());
    const engine::SagaView& view = *r;
    const Workflow* wf = registry_.Find(view.saga.workflow, view.saga.workflow_version);
    api::SagaDetail out;
    out.saga = SummaryOf(view.saga, wf);
    out.input = view.saga.input;
    out.context = view.saga.context;
    out.nodes = NodesOf(view.saga, wf);
    for (const auto& p : view.pending) {
        out.pending.push_back({std::string(engine::ToString(p.kind)), p.node, p.phase, p.action, p.queue, p.attempt,
                               p.msg_id, p.not_before});
    }
    for (const auto& a : view.attempts) {
        out.attempts.push_back({a.node, a.phase, a.attempt, a.outcome, a.detail, a.msg_id, a.finished_at, a.worker, a.key});
    }
    out.history = HistoryOf(view.history);
    for (const auto& g : view.signals) out.signals.push_back({g.id, g.name, g.received_at, g.consumed_by});
    for (const auto& h : view.history) {  // the children its nodes started, from the history
        if (h.kind != "child_started" || !h.detail.contains("child")) continue;
        if (auto child = ParseUuidId<SagaId>(h.detail.value("child", std::string()))) {
            out.children.push_back({h.node, *child, h.detail.value("workflow", std::string())});
        }
    }
    return Ok(out);
}

http::Response Api::History(const http::Request&, const Params& params) {
    auto r = queries_.Describe(IdParam(params));
    if (!r.ok()) return Fail(r.status());
    return Ok(api::History{HistoryOf(r->history)});
}

using OpKind = engine::OperatorAction::Kind;
http::Response Api::Compensate(const http::Request& req, const Params& p) { return Operator(req, p, OpKind::kCompensate); }
http::Response Api::Retry(const http::Request& req, const Params& p) { return Operator(req, p, OpKind::kRetry); }
http::Response Api::Resume(const http::Request& req, const Params& p) { return Operator(req, p, OpKind::kResume); }
http::Response Api::Skip(const http::Request& req, const Params& p) { return Operator(req, p, OpKind::kSkip); }
http::Response Api::Cancel(const http::Request& req, const Params& p) { return Operator(req, p, OpKind::kCancel); }
http::Response Api::Resolve(const http::Request& req, const Params& p) { return Operator(req, p, OpKind::kResolve); }

namespace {

// The engine's action from an API body: the one mapping, for the actions and the preview.
Result<engine::OperatorAction> ActionOf(const http::Request& req, const SagaId& id, OpKind kind, const engine::Actor& by) {
    api::OperatorRequest body;
    if (!req.body.empty()) {
        auto decoded = api::Decode<api::OperatorRequest>(req.body);
        if (!decoded.ok()) return decoded.status();
        body = *decoded;
    }
    engine::OperatorAction a;
    a.kind = kind;
    a.saga_id = id;
    a.reason = body.reason;
    a.by = by;
    a.node = body.node.value_or("");
    a.from_node = body.from_node.value_or("");
    if (body.output) a.output = *body.output;
    a.force = body.force;
    if (kind == OpKind::kSkip && a.node.empty()) return Status{ErrorCode::kInvalidArgument, "'node' names the node to skip"};
    if (kind == OpKind::kResolve) {
        if (!body.status) return Status{ErrorCode::kInvalidArgument, "'status' is completed or compensated"};
        a.resolve_to = *body.status;
    }
    return a;
}

}  // namespace

http::Response Api::Operator(const http::Request& req, const Params& params, OpKind kind) {
    const SagaId id = IdParam(params);
    auto action = ActionOf(req, id, kind, params.by);
    if (!action.ok()) return Fail(action.status());
    const Status st = node_.Submit<Status>([&](engine::Engine& e, runtime::WorkerLink&) { return e.Operate(*action); });
    if (!st.ok()) return Fail(st);
    const std::string word(engine::ToString(kind));
    log::Info("saga_operator_action", {{"saga_id", id.str()}, {"action", word}, {"node", action->node},
                                       {"reason", action->reason}, {"by", params.by.name}, {"from", params.by.remote}});
    return Ok(api::Accepted{id}, 202);
}

http::Response Api::Compensation(const http::Request& req, const Params& params) {
    const SagaId id = IdParam(params);
    engine::OperatorAction a;
    a.saga_id = id;
    if (const auto f = req.query.find("from_node"); f != req.query.end()) a.from_node = f->second;
    if (const auto f = req.query.find("force"); f != req.query.end()) a.force = f->second == "true";
    if (const auto f = req.query.find("reason"); f != req.query.end()) a.reason = f->second;
    auto r = node_.Submit<Result<engine::CompensationPreview>>(
        [&](engine::Engine& e, runtime::WorkerLink&) { return e.PreviewCompensation(a); });
    if (!r.ok()) return Fail(r.status());
    api::CompensationPlan out;
    out.saga_id = id;
    out.status = r->saga.status;
    if (!a.from_node.empty()) out.from_node = a.from_node;
    if (r->refused) out.refused = r->refused->message;
    if (r->plan) {
        const Workflow* wf = registry_.Find(r->saga.workflow, r->saga.workflow_version);
        const nlohmann::json& context = r->saga.context;
        for (std::size_t w = 0; w < r->plan->waves.size(); ++w) {
            for (const std::string& node : r->plan->waves[w]) {
                const NodeDef& d = wf->node(wf->find(node));
                api::CompensationStep step;
                step.wave = static_cast<int>(w) + 1;
                step.node = node;
                step.action = d.kind == NodeKind::kChild ? "compensate child saga (" + d.child_workflow + ")"
                                                         : d.step.compensation->action;
                step.queue = d.kind == NodeKind::kChild ? "" : d.step.compensation->queue;
                step.in_flight = r->plan->in_flight.contains(node);
                step.uncertain = r->saga.nodes.at(node).uncertain;
                step.output = context.contains(node) ? context[node] : nlohmann::json(nullptr);
                out.steps.push_back(std::move(step));
            }
        }
        out.kept = r->plan->kept;
    }
    return Ok(out);
}

http::Response Api::BulkCreate(const http::Request& req, const Params& params) {
    auto body = api::Decode<api::BulkRequest>(req.body);  // a bad body is answered as such first
    if (!body.ok()) return Fail(body.status());
    if (options_.bulk == nullptr) return Fail({ErrorCode::kUnavailable, "this sagad runs no bulk jobs"});
    auto job = options_.bulk->Create(*body, params.by);
    if (!job.ok()) return Fail(job.status());
    return Ok(*job, body->dry_run ? 200 : 202);
}

http::Response Api::BulkList(const http::Request&, const Params&) {
    if (options_.bulk == nullptr) return Fail({ErrorCode::kUnavailable, "this sagad runs no bulk jobs"});
    return Ok(api::BulkJobList{options_.bulk->List(100)});
}

http::Response Api::BulkShow(const http::Request&, const Params& params) {
    if (options_.bulk == nullptr) return Fail({ErrorCode::kUnavailable, "this sagad runs no bulk jobs"});
    auto job = options_.bulk->Get(params.at("id"));
    if (!job.ok()) return Fail(job.status());
    return Ok(*job);
}

http::Response Api::Signal(const http::Request& req, const Params& params) {
    const SagaId id = IdParam(params);
    auto body = api::Decode<api::SendSignal>(req.body);
    if (!body.ok()) return Fail(body.status());
    engine::SignalSent g;
    g.saga_id = id;
    g.name = body->name;
    g.id = body->id.value_or(NewUuid());
    g.payload = body->data;
    g.by = params.by;
    const Status st = node_.Submit<Status>([&](engine::Engine& e, runtime::WorkerLink&) { return e.Signal(g); });
    api::SignalResult out{id, g.name, g.id, st.message};
    if (st.code == ErrorCode::kAlreadyExists) {
        out.outcome = "already_applied";
        return Ok(out, 200);
    }
    if (!st.ok()) return Fail(st);
    log::Info("saga_signalled", {{"saga_id", id.str()}, {"signal", g.name}, {"signal_id", g.id},
                                 {"outcome", out.outcome}, {"by", params.by.name}});
    return Ok(out, 202);
}

http::Response Api::Await(const http::Request& req, const Params& params) {
    const SagaId id = IdParam(params);
    std::int64_t asked = 30000;
    if (const auto t = req.query.find("timeout_ms"); t != req.query.end()) {
        const auto v = ParseInteger(t->second, 0, INT64_MAX);
        if (!v) return Fail({ErrorCode::kInvalidArgument, "'timeout_ms' must be a whole number of milliseconds >= 0"});
        asked = *v;
    }
    if (options_.awaits == nullptr) return Fail({ErrorCode::kUnavailable, "this sagad does not serve awaits"});
    const std::int64_t max = options_.max_await.count();
    const bool clamped = asked > max;
    const auto timeout = std::chrono::milliseconds(std::min(asked, max));
    http::Response r;
    r.deferred = [this, id, timeout, clamped](http::Responder respond) {
        auto answer = [id, timeout, clamped, respond](Awaits::Answer a) {
            if (!a.status) return respond(Fail({ErrorCode::kNotFound, "no saga " + id.str()}));
            if (a.stopping) return respond(Fail({ErrorCode::kUnavailable, "sagad is stopping; await again"}));
            respond(Ok(api::AwaitResult{id, *a.status, a.done, a.reason, a.context, timeout.count(), clamped}));
        };
        auto ticket = options_.awaits->Add(id, timeout, answer);
        if (!ticket.ok()) return respond(Fail(ticket.status()));
        // It may have ended before the waiter was there: one read tells (the facts after it).
        std::optional<engine::SagaRecord> now;
        try {
            now = queries_.Get(id);
        } catch (const std::exception& e) {
            log::Warn("await_read_failed", {{"saga_id", id.str()}, {"error", e.what()}});
            return;  // the waiter is still there: it is woken when the saga ends, or times out
        }
        options_.awaits->Seen(*ticket, now);
    };
    return r;
}

http::Response Api::Workers(const http::Request&, const Params&) {
    auto out = node_.Submit<api::Workers>([](engine::Engine& e, runtime::WorkerLink& link) {
        api::Workers all;
        for (const auto& w : e.dispatcher().Workers()) {
            const auto who = link.IdentityOf(w.id).value_or(runtime::WorkerIdentity{});
            all.workers.push_back({w.id, w.queues, w.capacity, w.in_flight, w.last_seen, who.name, who.fingerprint});
        }
        for (const auto& u : e.dispatcher().Gauges().unserved) {
            all.unserved.push_back({u.queue, u.action, static_cast<std::int64_t>(u.commands), u.oldest});
        }
        return all;
    });
    return Ok(out);
}

http::Response Api::Stats(const http::Request&, const Params&) {
    api::Stats out;
    out.groups["api"] = {{"requests", requests_.load()}, {"bad_requests", bad_requests_.load()},
                         {"unauthenticated", unauthenticated_.load()}, {"forbidden", forbidden_.load()}};
    if (!active_) {
        out.groups["node"] = {{"role", "standby"}};
        return Ok(out);
    }
    const auto d = node_.Submit<runtime::LinkCounters>(
        [](engine::Engine&, runtime::WorkerLink& link) { return link.counters(); });
    out.groups["node"] = {{"role", Active() ? "active" : "lost"}, {"loop_errors", node_.loop_errors()}};
    out.groups["workers"] = {{"commands_sent", d.commands_sent},
                             {"replies_received", d.replies_received},
                             {"malformed_frames", d.malformed_frames},
                             {"bad_version", d.bad_version},
                             {"unexpected_kind", d.unexpected_kind},
                             {"unknown_queue_claims", d.unknown_queue_claims},
                             {"unknown_action_claims", d.unknown_action_claims},
                             {"unknown_msg_replies", d.unknown_msg_replies},
                             {"ignored_replies", d.ignored_replies},
                             {"forged_replies", d.forged_replies},
                             {"workers_gone", d.workers_gone},
                             {"refused_hellos", d.refused_hellos}};
    const runtime::HandshakeCounters h = node_.handshakes();
    out.groups["handshakes"] = {{"completed", h.completed},
                                {"unknown_key", h.unknown_key},
                                {"bad_crypto", h.bad_crypto},
                                {"other_failures", h.other}};
    if (const auto r = telemetry_.Retention()) {
        out.groups["retention"] = {{"completed_window", FormatDuration(r->completed_window)},
                                   {"compensated_window", FormatDuration(r->compensated_window)},
                                   {"passes", r->passes},
                                   {"sagas_removed", r->sagas},
                                   {"history_rows_removed", r->history_rows},
                                   {"pending_removed", r->pending},
                                   {"alerts_removed", r->alerts},
                                   {"locked_out", r->locked_out},
                                   {"last_pass_at", r->last_pass_unix_ms > 0
                                                        ? FormatTimestamp(Timestamp(std::chrono::milliseconds(r->last_pass_unix_ms)))
                                                        : std::string("never")},
                                   {"last_pass_ms", r->last_pass_ms}};
    }
    return Ok(out);
}

http::Response Api::Metrics(const http::Request&, const Params&) {
    http::Response r;
    r.content_type = "text/plain; version=0.0.4; charset=utf-8";
    r.body = telemetry_.Expose();
    return r;
}

http::Response Api::Healthz(const http::Request&, const Params&) { return Ok({{"status", "serving"}}); }

http::Response Api::Readyz(const http::Request&, const Params&) {
    // Ready: migrated and recovered (both done before SetActive), still the leader, and
    // the database answers now.
    if (!active_) return http::JsonError(ErrorCode::kUnavailable, "standby: another sagad is active");
    if (!Active()) return http::JsonError(ErrorCode::kUnavailable, "this sagad lost the database's leader lock");
    const Status db = queries_.Probe();
    if (!db.ok()) return http::JsonError(ErrorCode::kUnavailable, "the database does not answer: " + db.message);
    return Ok({{"status", "ready"}});
}

namespace {

// The web view's pages run only their own files, in no one else's frame.
http::Response Page(const web::Asset& a) {
    http::Response r;
    r.content_type = std::string(a.content_type);
    r.body = std::string(a.body);
    r.headers = {{"Content-Security-Policy",
                  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self' data:; "
                  "frame-ancestors 'none'"},
                 {"X-Frame-Options", "DENY"},
                 {"Referrer-Policy", "no-referrer"}};
    return r;
}

}  // namespace

http::Response Api::Index(const http::Request&, const Params&) { return Page(*web::FindAsset("index.html")); }

http::Response Api::Asset(const http::Request&, const Params& params) {
    const web::Asset* a = params.at("file") == "index.html" ? nullptr : web::FindAsset(params.at("file"));
    if (a == nullptr) return http::JsonError(ErrorCode::kNotFound, "no file /ui/" + params.at("file"));
    return Page(*a);
}

}  // namespace sagaflow::sagad
