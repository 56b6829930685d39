#include "admin.hpp"

#include <chrono>
#include <ctime>
#include <map>
#include <sstream>

#include "graph_dot.hpp"
#include "socket.hpp"

namespace sagaflow::sagad {
namespace {

using nlohmann::json;

std::string Iso(Timestamp t) {
    const auto us = t.time_since_epoch().count();
    const std::time_t secs = static_cast<std::time_t>(us / 1'000'000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    char out[48];
    std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>((us % 1'000'000) / 1000));
    return out;
}

json Error(ErrorCode code, const std::string& message) {
    return {{"v", kAdminVersion}, {"ok", false}, {"error", {{"code", ToString(code)}, {"message", message}}}};
}

json Ok(json result) { return {{"v", kAdminVersion}, {"ok", true}, {"result", std::move(result)}}; }

// Request fields, with the caller told exactly what is wrong.
std::string Field(const json& req, const char* key) {
    if (!req.contains(key) || !req.at(key).is_string()) {
        throw sagaflow::Error(ErrorCode::kInvalidArgument, std::string("'") + key + "' must be a string");
    }
    return req.at(key).get<std::string>();
}

SagaId IdField(const json& req) {
    auto id = ParseUuidId<SagaId>(Field(req, "id"));
    if (!id) throw sagaflow::Error(ErrorCode::kInvalidArgument, "'" + Field(req, "id") + "' is not a saga id");
    return *id;
}

// An optional positive "version".
std::optional<int> VersionField(const json& req) {
    if (!req.contains("version") || req.at("version").is_null()) return std::nullopt;
    const json& v = req.at("version");
    if (!v.is_number_integer() || v.get<std::int64_t>() < 1 || v.get<std::int64_t>() > 1'000'000) {
        throw sagaflow::Error(ErrorCode::kInvalidArgument, "'version' must be an integer from 1");
    }
    return v.get<int>();
}

Status Busy(std::size_t max_running) {
    return {ErrorCode::kResourceExhausted, "too many sagas in flight (max_running_sagas " +
                                               std::to_string(max_running) + "); retry later"};
}

// {"workflow": ..., "input": {...}, "key": ...}: one start, of `start` or `start_batch`.
engine::StartRequest StartFrom(const json& req) {
    engine::StartRequest start;
    start.workflow = Field(req, "workflow");
    if (!req.contains("input") || !req.at("input").is_object()) {
        throw sagaflow::Error(ErrorCode::kInvalidArgument, "'input' must be a JSON object");
    }
    start.input = req.at("input");
    if (req.contains("key") && !req.at("key").is_null()) start.business_key = BusinessKey(Field(req, "key"));
    start.version = VersionField(req);
    return start;
}

// The steps whose commands are out (forward or undo), comma-separated; null when none.
json StepsInFlight(const engine::SagaRecord& s) {
    std::string steps;
    for (const auto& [id, n] : s.nodes.nodes) {
        const bool out = n.state == engine::NodeState::kRunning || (n.state == engine::NodeState::kCompensating && !n.stuck);
        if (out || n.stuck) steps += (steps.empty() ? "" : ",") + id;
    }
    return steps.empty() ? json(nullptr) : json(steps);
}

// Every node of the saga's workflow in declaration order, with its state; without the
// workflow, the stored states alone.
json NodesOf(const engine::SagaRecord& s, const Workflow* wf) {
    json out = json::array();
    auto one = [&](const std::string& id, std::string_view kind) {
        const engine::NodeStatus n = s.nodes.at(id);
        json j{{"id", id}, {"kind", kind}, {"state", engine::ToString(n.state)}};
        if (n.order > 0) j["order"] = n.order;
        if (n.uncertain) j["uncertain"] = true;
        if (n.stuck) j["stuck"] = true;
        out.push_back(std::move(j));
    };
    if (wf == nullptr) {
        for (const auto& [id, n] : s.nodes.nodes) one(id, "unknown");
        return out;
    }
    for (const auto& place : wf->nodes()) one(place.def->id, ToString(place.def->kind));
    return out;
}

json SagaSummary(const engine::SagaRecord& s, const Workflow* wf) {
    const json step = StepsInFlight(s);
    return {{"id", s.id.str()},
            {"workflow", s.workflow},
            {"version", s.workflow_version},
            {"status", ToString(s.status)},
            {"step", step},
            {"business_key", s.business_key ? json(s.business_key->str()) : json(nullptr)},
            {"reason", s.failure_reason},
            {"trace_id", s.trace_id.str()},
            {"created_at", Iso(s.created_at)},
            {"updated_at", Iso(s.updated_at)},
            {"problem", wf == nullptr ? json(engine::UnregisteredReason(s)) : json(nullptr)}};
}

}  // namespace

AdminHandler::AdminHandler(const WorkflowRegistry& registry, runtime::Node& node, engine::Queries& queries,
                           Logger log, std::size_t max_running)
    : registry_(registry), node_(node), queries_(queries), log_(std::move(log)), max_running_(max_running) {}

std::string AdminHandler::Refuse(ErrorCode code, const std::string& message) {
    ++bad_requests_;
    return Error(code, message).dump();
}

std::string AdminHandler::Handle(const std::string& request) {
    ++requests_;
    if (request.size() > (1u << 20)) return Refuse(ErrorCode::kInvalidArgument, "request over 1 MiB");
    const json req = json::parse(request, nullptr, /*allow_exceptions=*/false);
    if (req.is_discarded() || !req.is_object()) return Refuse(ErrorCode::kInvalidArgument, "request is not a JSON object");
    if (!req.contains("v") || req.at("v") != kAdminVersion) {
        return Refuse(ErrorCode::kFailedPrecondition, "unsupported admin API version (this sagad speaks v1)");
    }
    try {
        return Dispatch(req).dump();
    } catch (const sagaflow::Error& e) {
        return Error(e.code(), e.what()).dump();
    } catch (const std::exception& e) {
        return Error(ErrorCode::kInternal, e.what()).dump();
    }
}

json AdminHandler::Dispatch(const json& req) {
    const std::string op = Field(req, "op");
    if (!active_) {
        if (op == "stats") {
            return Ok({{"node", {{"role", "standby"}}},
                       {"admin", {{"requests", requests_.load()}, {"bad_requests", bad_requests_.load()}}}});
        }
        return Error(ErrorCode::kUnavailable,
                     "this sagad is a standby: another sagad is active on this database; retry later");
    }
    if (op == "workflows") {
        json out = json::array();
        for (const Workflow* wf : registry_.All()) {
            json steps = json::array();
            for (const StepDef& s : wf->steps()) {
                steps.push_back({{"name", s.name},
                                 {"queue", s.queue},
                                 {"compensation", s.compensation ? json(s.compensation->action) : json(nullptr)},
                                 {"max_attempts", s.retry.max_attempts},
                                 {"timeout_ms", s.timeout.count()}});
            }
            out.push_back({{"name", wf->name()}, {"version", wf->version()}, {"steps", steps}});
        }
        return Ok(out);
    }
    if (op == "start") {
        const engine::StartRequest start = StartFrom(req);
        auto r = node_.Submit<Result<engine::StartResult>>([&](engine::Engine& e, runtime::WorkerLink&) {
            if (e.tracked() + 1 > max_running_) return Result<engine::StartResult>(Busy(max_running_));
            return e.Start(start);
        });
        if (!r.ok()) return Error(r.code(), r.status().message);
        log_("saga_started", {{"saga_id", r->saga_id.str()}, {"workflow", start.workflow}, {"created", r->created}});
        return Ok({{"saga_id", r->saga_id.str()}, {"created", r->created}});
    }
    if (op == "start_batch") {
        // Many starts, one commit: for clients that start sagas in bulk (and the benchmark).
        if (!req.contains("sagas") || !req.at("sagas").is_array() || req.at("sagas").empty() ||
            req.at("sagas").size() > kMaxStartBatch) {
            throw sagaflow::Error(ErrorCode::kInvalidArgument,
                                  "'sagas' must be an array of 1 to " + std::to_string(kMaxStartBatch) + " starts");
        }
        std::vector<engine::StartRequest> starts;
        for (const json& one : req.at("sagas")) {
            if (!one.is_object()) throw sagaflow::Error(ErrorCode::kInvalidArgument, "each start must be an object");
            starts.push_back(StartFrom(one));
        }
        auto results = node_.Submit<std::vector<Result<engine::StartResult>>>(
            [&](engine::Engine& e, runtime::WorkerLink&) {
                if (e.tracked() + starts.size() > max_running_) {
                    return std::vector<Result<engine::StartResult>>(starts.size(), Busy(max_running_));
                }
                return e.StartMany(starts);
            });
        json out = json::array();
        for (const auto& r : results) {
            if (r.ok()) {
                out.push_back({{"saga_id", r->saga_id.str()}, {"created", r->created}});
            } else {
                out.push_back({{"error", {{"code", ToString(r.code())}, {"message", r.status().message}}}});
            }
        }
        log_("sagas_started", {{"count", starts.size()}});
        return Ok(out);
    }
    if (op == "list") {
        engine::SagaFilter f;
        if (req.contains("status") && !req.at("status").is_null()) {
            auto st = ParseSagaStatus(Field(req, "status"));
            if (!st) throw sagaflow::Error(ErrorCode::kInvalidArgument, "unknown status '" + Field(req, "status") + "'");
            f.status = st;
        }
        if (req.contains("workflow") && !req.at("workflow").is_null()) f.workflow = Field(req, "workflow");
        if (req.contains("limit")) {
            if (!req.at("limit").is_number_integer() || req.at("limit").get<int>() < 1) {
                throw sagaflow::Error(ErrorCode::kInvalidArgument, "'limit' must be a positive integer");
            }
            f.limit = req.at("limit").get<int>();
        }
        // A page is bounded, so one request cannot hold sagad's memory hostage.
        const int asked = f.limit;
        f.limit = std::min(f.limit, static_cast<int>(kMaxListPage));
        const auto sagas = queries_.List(f);
        json out = json::array();
        for (const auto& s : sagas) out.push_back(SagaSummary(s, registry_.Find(s.workflow, s.workflow_version)));
        json reply = Ok(out);
        reply["limit"] = f.limit;
        if (asked > f.limit) reply["clamped"] = true;
        return reply;
    }
    if (op == "show" || op == "graph") {
        std::optional<engine::SagaView> view;
        if (op == "show" || (req.contains("id") && !req.at("id").is_null())) {
            const SagaId id = IdField(req);
            auto r = queries_.Describe(id);
            if (!r.ok()) return Error(r.code(), r.status().message);
            view = *r;
        }
        if (op == "graph") {
            const std::string name = Field(req, "workflow");
            const std::optional<int> version = VersionField(req);
            const Workflow* wf = view      ? registry_.Find(view->saga.workflow, view->saga.workflow_version)
                                 : version ? registry_.Find(name, *version)
                                           : registry_.Latest(name);
            if (wf == nullptr || wf->name() != name || (view && version && wf->version() != *version)) {
                return Error(ErrorCode::kNotFound, "unknown workflow '" + name + "'" +
                                                       (version ? " v" + std::to_string(*version) : "") +
                                                       (view ? " for that saga" : ""));
            }
            const std::optional<SagaMarks> marks = view ? std::optional(MarksOf(*view)) : std::nullopt;
            return Ok({{"dot", WorkflowDot(*wf, marks ? &*marks : nullptr)}});
        }
        const Workflow* wf = registry_.Find(view->saga.workflow, view->saga.workflow_version);
        json saga = SagaSummary(view->saga, wf);
        saga["input"] = view->saga.input;
        saga["context"] = view->saga.context;
        json attempts = json::array();
        for (const auto& a : view->attempts) {
            attempts.push_back({{"step", a.node},
                                {"phase", ToString(a.phase)},
                                {"attempt", a.attempt},
                                {"outcome", a.outcome},
                                {"detail", a.detail},
                                {"msg_id", a.msg_id.str()},
                                {"at", Iso(a.finished_at)}});
        }
        json history = json::array();
        for (const auto& h : view->history) {
            history.push_back({{"seq", h.seq},
                               {"at", Iso(h.at)},
                               {"kind", h.kind},
                               {"step", h.node.empty() ? json(nullptr) : json(h.node)},
                               {"phase", h.phase ? json(ToString(*h.phase)) : json(nullptr)},
                               {"attempt", h.attempt},
                               {"msg_id", h.msg_id ? json(h.msg_id->str()) : json(nullptr)},
                               {"detail", h.detail}});
        }
        json pending = json::array();
        for (const auto& p : view->pending) {
            pending.push_back({{"step", p.node}, {"phase", ToString(p.phase)}, {"action", p.action},
                               {"queue", p.queue}, {"attempt", p.attempt}, {"msg_id", p.msg_id.str()},
                               {"not_before", Iso(p.not_before)}});
        }
        return Ok({{"saga", saga}, {"nodes", NodesOf(view->saga, wf)}, {"pending", pending}, {"attempts", attempts},
                   {"history", history}});
    }
    if (op == "compensate" || op == "retry") {
        const SagaId id = IdField(req);
        const std::string reason = req.contains("reason") && req.at("reason").is_string() ? Field(req, "reason") : "";
        const Status st = node_.Submit<Status>([&](engine::Engine& e, runtime::WorkerLink&) {
            return op == "compensate" ? e.Compensate(id, reason) : e.Retry(id);
        });
        if (!st.ok()) return Error(st.code, st.message);
        log_(op == "compensate" ? "saga_compensation_requested" : "saga_retry_requested",
             {{"saga_id", id.str()}, {"reason", reason}});
        return Ok({{"saga_id", id.str()}});
    }
    if (op == "workers") {
        auto workers = node_.Submit<std::vector<engine::WorkerSlot>>(
            [](engine::Engine& e, runtime::WorkerLink&) { return e.dispatcher().Workers(); });
        json out = json::array();
        for (const auto& w : workers) {
            out.push_back({{"id", w.id}, {"queues", w.queues}, {"capacity", w.capacity},
                           {"in_flight", w.in_flight}, {"last_heartbeat", Iso(w.last_seen)}});
        }
        return Ok(out);
    }
    if (op == "stats") {
        const auto d = node_.Submit<runtime::LinkCounters>(
            [](engine::Engine&, runtime::WorkerLink& disp) { return disp.counters(); });
        const bool holds = !holds_lock_ || holds_lock_();
        return Ok({{"node", {{"role", holds ? "active" : "lost"}, {"loop_errors", node_.loop_errors()}}},
                   {"admin", {{"requests", requests_.load()}, {"bad_requests", bad_requests_.load()}}},
                   {"workers",
                    {{"commands_sent", d.commands_sent},
                     {"replies_received", d.replies_received},
                     {"malformed_frames", d.malformed_frames},
                     {"bad_version", d.bad_version},
                     {"unexpected_kind", d.unexpected_kind},
                     {"unknown_queue_claims", d.unknown_queue_claims},
                     {"unknown_msg_replies", d.unknown_msg_replies},
                     {"ignored_replies", d.ignored_replies},
                     {"forged_replies", d.forged_replies},
                     {"workers_gone", d.workers_gone}}}});
    }
    return Error(ErrorCode::kInvalidArgument, "unknown op '" + op + "'");
}

AdminServer::AdminServer(AdminHandler& handler, std::string endpoint)
    : handler_(handler), endpoint_(std::move(endpoint)) {}

AdminServer::~AdminServer() { Stop(); }

std::string AdminServer::Bind() {
    if (rep_) return bound_;
    ctx_ = std::make_unique<transport::Context>();
    rep_ = std::make_unique<transport::Socket>(*ctx_, transport::SocketKind::kRep);
    bound_ = rep_->Bind(endpoint_);
    return bound_;
}

std::string AdminServer::Start() {
    // Bound first so a taken port fails start-up, then served from the thread.
    const std::string bound = Bind();
    thread_ = std::thread([this] {
        while (!stop_) {
            try {
                if (!transport::Poll({rep_.get()}, std::chrono::milliseconds(100))[0]) continue;
                auto m = rep_->TryReceive();
                if (!m) continue;
                const std::string request = m->frames.size() == 1 ? m->frames[0] : std::string();
                (void)rep_->Send(handler_.Handle(request));
                guard_.Succeeded();
            } catch (const std::exception& e) {
                // Pausing the admin thread, not synchronising a test.
                std::this_thread::sleep_for(guard_.Failed(e));
            }
        }
    });
    return bound;
}

void AdminServer::Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
    rep_.reset();
    ctx_.reset();
}

}  // namespace sagaflow::sagad
