// The one codec of the HTTP API's types (include/sagaflow/client/api.hpp).
#include <algorithm>
#include <cctype>
#include <limits>

#include "sagaflow/client/api.hpp"
#include "sagaflow/core/numbers.hpp"

namespace sagaflow::api {
namespace {

using nlohmann::json;

[[noreturn]] void Bad(std::string_view key, std::string_view what) {
    throw Error(ErrorCode::kInvalidArgument, "'" + std::string(key) + "' " + std::string(what));
}

void RequireObject(const json& j, std::string_view what) {
    if (!j.is_object()) throw Error(ErrorCode::kInvalidArgument, std::string(what) + " must be a JSON object");
}

bool Has(const json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

std::string Str(const json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_string()) Bad(key, "must be a string");
    return j.at(key).get<std::string>();
}

std::optional<std::string> OptStr(const json& j, const char* key) {
    if (!Has(j, key)) return std::nullopt;
    return Str(j, key);
}

std::int64_t Int(const json& j, const char* key, std::int64_t min = 0,
                 std::int64_t max = std::numeric_limits<std::int64_t>::max()) {
    if (!j.contains(key) || !j.at(key).is_number_integer()) Bad(key, "must be an integer");
    const json& v = j.at(key);
    // A huge unsigned value is not an int64: compare before converting.
    if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(max)) {
        Bad(key, "must be at most " + std::to_string(max));
    }
    const auto n = v.get<std::int64_t>();
    if (n < min || n > max) Bad(key, "must be from " + std::to_string(min) + " to " + std::to_string(max));
    return n;
}

bool Bool(const json& j, const char* key) {
    if (!Has(j, key)) return false;
    if (!j.at(key).is_boolean()) Bad(key, "must be true or false");
    return j.at(key).get<bool>();
}

json Obj(const json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_object()) Bad(key, "must be a JSON object");
    return j.at(key);
}

const json& Arr(const json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_array()) Bad(key, "must be an array");
    return j.at(key);
}

template <class T>
std::vector<T> Items(const json& j, const char* key) {
    std::vector<T> out;
    for (const json& one : Arr(j, key)) out.push_back(one.get<T>());
    return out;
}

template <class Id>
Id IdOf(const json& j, const char* key) {
    auto id = ParseUuidId<Id>(Str(j, key));
    if (!id) Bad(key, "must be a UUID");
    return *id;
}

Timestamp TimeOf(const json& j, const char* key) {
    auto t = ParseTimestamp(Str(j, key));
    if (!t) Bad(key, "must be an RFC 3339 timestamp");
    return *t;
}

SagaStatus StatusOf(const json& j, const char* key) {
    auto s = ParseSagaStatus(Str(j, key));
    if (!s) Bad(key, "is not a saga status");
    return *s;
}

Phase PhaseOf(const json& j, const char* key) {
    const std::string p = Str(j, key);
    for (Phase each : {Phase::kForward, Phase::kCompensate}) {
        if (ToString(each) == p) return each;
    }
    Bad(key, "is not a phase");
}

template <class T>
json OrNull(const std::optional<T>& v) {
    return v ? json(*v) : json(nullptr);
}

Result<int> PositiveParam(const std::string& key, const std::string& v, int max) {
    const auto n = ParseInteger(v, 1, max);
    if (!n) return Status{ErrorCode::kInvalidArgument, "'" + key + "' must be an integer from 1 to " + std::to_string(max)};
    return static_cast<int>(*n);
}

}  // namespace

std::string PercentEncode(std::string_view s) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
    return out;
}

int HttpStatusOf(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::kOk: return 200;
        case ErrorCode::kInvalidArgument: return 400;
        case ErrorCode::kUnauthenticated: return 401;
        case ErrorCode::kPermissionDenied: return 403;
        case ErrorCode::kNotFound: return 404;
        case ErrorCode::kAlreadyExists:
        case ErrorCode::kFailedPrecondition:
        case ErrorCode::kAborted: return 409;
        case ErrorCode::kResourceExhausted: return 429;
        case ErrorCode::kUnavailable: return 503;
        case ErrorCode::kDeadlineExceeded: return 504;
        case ErrorCode::kInternal: return 500;
    }
    return 500;
}

void to_json(json& j, const ApiError& v) { j = {{"code", ToString(v.code)}, {"message", v.message}}; }
void from_json(const json& j, ApiError& v) {
    RequireObject(j, "an error");
    const auto code = ParseErrorCode(Str(j, "code"));
    v.code = code ? *code : ErrorCode::kInternal;
    v.message = OptStr(j, "message").value_or("");
}

void to_json(json& j, const StartSaga& v) {
    j = {{"workflow", v.workflow}, {"input", v.input}};
    if (v.business_key) j["business_key"] = *v.business_key;
    if (v.version) j["version"] = *v.version;
}
void from_json(const json& j, StartSaga& v) {
    RequireObject(j, "a start");
    v.workflow = Str(j, "workflow");
    if (v.workflow.empty()) Bad("workflow", "must not be empty");
    v.input = Obj(j, "input");
    v.business_key = OptStr(j, "business_key");
    if (v.business_key && v.business_key->empty()) Bad("business_key", "must not be empty");
    v.version = Has(j, "version") ? std::optional<int>(static_cast<int>(Int(j, "version", 1, 1'000'000))) : std::nullopt;
}

void to_json(json& j, const Started& v) { j = {{"saga_id", v.saga_id.str()}, {"created", v.created}}; }
void from_json(const json& j, Started& v) {
    RequireObject(j, "a start's answer");
    v.saga_id = IdOf<SagaId>(j, "saga_id");
    v.created = Bool(j, "created");
}

void to_json(json& j, const StartBatch& v) { j = {{"sagas", v.sagas}}; }
void from_json(const json& j, StartBatch& v) {
    RequireObject(j, "a batch");
    const json& sagas = Arr(j, "sagas");
    if (sagas.empty() || sagas.size() > kMaxStartBatch) {
        Bad("sagas", "must hold 1 to " + std::to_string(kMaxStartBatch) + " starts");
    }
    v.sagas = Items<StartSaga>(j, "sagas");
}

void to_json(json& j, const BatchItem& v) {
    if (v.started) {
        j = *v.started;
    } else {
        j = {{"error", v.error.value_or(ApiError{})}};
    }
}
void from_json(const json& j, BatchItem& v) {
    RequireObject(j, "a batch result");
    if (Has(j, "error")) {
        v.error = j.at("error").get<ApiError>();
    } else {
        v.started = j.get<Started>();
    }
}

void to_json(json& j, const BatchStarted& v) { j = {{"results", v.results}}; }
void from_json(const json& j, BatchStarted& v) { v.results = Items<BatchItem>(j, "results"); }

std::string ToQueryString(const ListQuery& q) {
    std::string out;
    auto add = [&](std::string_view key, std::string_view value) {
        out += out.empty() ? '?' : '&';
        out += key;
        out += '=';
        out += PercentEncode(value);
    };
    if (q.status) add("status", ToString(*q.status));
    if (q.workflow) add("workflow", *q.workflow);
    if (q.version) add("version", std::to_string(*q.version));
    if (q.business_key) add("business_key", *q.business_key);
    if (q.created_after) add("created_after", FormatTimestamp(*q.created_after));
    if (q.created_before) add("created_before", FormatTimestamp(*q.created_before));
    if (q.cursor) add("cursor", *q.cursor);
    if (q.limit) add("limit", std::to_string(*q.limit));
    return out;
}

Result<ListQuery> ListQueryFrom(const std::map<std::string, std::string>& params) {
    ListQuery q;
    for (const auto& [key, value] : params) {
        if (key == "status") {
            q.status = ParseSagaStatus(value);
            if (!q.status) return Status{ErrorCode::kInvalidArgument, "unknown status '" + value + "'"};
        } else if (key == "workflow") {
            q.workflow = value;
        } else if (key == "version") {
            auto v = PositiveParam(key, value, 1'000'000);
            if (!v.ok()) return v.status();
            q.version = *v;
        } else if (key == "business_key") {
            q.business_key = value;
        } else if (key == "created_after" || key == "created_before") {
            auto t = ParseTimestamp(value);
            if (!t) return Status{ErrorCode::kInvalidArgument, "'" + key + "' must be an RFC 3339 timestamp"};
            (key == "created_after" ? q.created_after : q.created_before) = *t;
        } else if (key == "cursor") {
            q.cursor = value;
        } else if (key == "limit") {
            // Anything positive is accepted and clamped: the answer says so.
            auto v = PositiveParam(key, value, std::numeric_limits<int>::max());
            if (!v.ok()) return v.status();
            q.limit = *v;
        } else {
            return Status{ErrorCode::kInvalidArgument, "unknown query parameter '" + key + "'"};
        }
    }
    return q;
}

void to_json(json& j, const SagaSummary& v) {
    j = {{"id", v.id.str()},
         {"workflow", v.workflow},
         {"version", v.version},
         {"status", ToString(v.status)},
         {"step", OrNull(v.step)},
         {"business_key", OrNull(v.business_key)},
         {"reason", v.reason},
         {"trace_id", v.trace_id},
         {"created_at", FormatTimestamp(v.created_at)},
         {"updated_at", FormatTimestamp(v.updated_at)},
         {"problem", OrNull(v.problem)}};
    if (v.parent) {
        j["parent"] = *v.parent;
        j["parent_node"] = OrNull(v.parent_node);
    }
}
void from_json(const json& j, SagaSummary& v) {
    RequireObject(j, "a saga");
    v.id = IdOf<SagaId>(j, "id");
    v.workflow = Str(j, "workflow");
    v.version = static_cast<int>(Int(j, "version"));
    v.status = StatusOf(j, "status");
    v.step = OptStr(j, "step");
    v.business_key = OptStr(j, "business_key");
    v.reason = OptStr(j, "reason").value_or("");
    v.trace_id = OptStr(j, "trace_id").value_or("");
    v.created_at = TimeOf(j, "created_at");
    v.updated_at = TimeOf(j, "updated_at");
    v.problem = OptStr(j, "problem");
    v.parent = OptStr(j, "parent");
    v.parent_node = OptStr(j, "parent_node");
}

void to_json(json& j, const SagaPage& v) {
    j = {{"sagas", v.sagas}, {"next_cursor", OrNull(v.next_cursor)}, {"limit", v.limit}};
    if (v.clamped) j["clamped"] = true;
}
void from_json(const json& j, SagaPage& v) {
    RequireObject(j, "a page");
    v.sagas = Items<SagaSummary>(j, "sagas");
    v.next_cursor = OptStr(j, "next_cursor");
    v.limit = static_cast<int>(Int(j, "limit"));
    v.clamped = Bool(j, "clamped");
}

void to_json(json& j, const NodeInfo& v) {
    j = {{"id", v.id}, {"kind", v.kind}, {"state", v.state}};
    if (v.order > 0) j["order"] = v.order;
    if (v.uncertain) j["uncertain"] = true;
    if (v.stuck) j["stuck"] = true;
    if (v.expired) j["expired"] = true;
}
void from_json(const json& j, NodeInfo& v) {
    RequireObject(j, "a node");
    v.id = Str(j, "id");
    v.kind = Str(j, "kind");
    v.state = Str(j, "state");
    v.order = Has(j, "order") ? static_cast<int>(Int(j, "order")) : 0;
    v.uncertain = Bool(j, "uncertain");
    v.stuck = Bool(j, "stuck");
    v.expired = Bool(j, "expired");
}

void to_json(json& j, const PendingInfo& v) {
    j = {{"kind", v.kind}, {"step", v.step}, {"phase", ToString(v.phase)}, {"action", v.action}, {"queue", v.queue},
         {"attempt", v.attempt}, {"msg_id", v.msg_id.str()}, {"not_before", FormatTimestamp(v.not_before)}};
}
void from_json(const json& j, PendingInfo& v) {
    RequireObject(j, "a pending item");
    v.kind = OptStr(j, "kind").value_or("command");
    v.step = Str(j, "step");
    v.phase = PhaseOf(j, "phase");
    v.action = Str(j, "action");
    v.queue = Str(j, "queue");
    v.attempt = static_cast<int>(Int(j, "attempt"));
    v.msg_id = IdOf<MsgId>(j, "msg_id");
    v.not_before = TimeOf(j, "not_before");
}

void to_json(json& j, const AttemptInfo& v) {
    j = {{"step", v.step}, {"phase", ToString(v.phase)}, {"attempt", v.attempt}, {"outcome", v.outcome},
         {"detail", v.detail}, {"msg_id", v.msg_id.str()}, {"at", FormatTimestamp(v.at)}};
    if (!v.worker.empty()) j["worker"] = v.worker;
    if (!v.key.empty()) j["key"] = v.key;
}
void from_json(const json& j, AttemptInfo& v) {
    RequireObject(j, "an attempt");
    v.step = Str(j, "step");
    v.phase = PhaseOf(j, "phase");
    v.attempt = static_cast<int>(Int(j, "attempt"));
    v.outcome = Str(j, "outcome");
    v.detail = OptStr(j, "detail").value_or("");
    v.msg_id = IdOf<MsgId>(j, "msg_id");
    v.at = TimeOf(j, "at");
    v.worker = OptStr(j, "worker").value_or("");
    v.key = OptStr(j, "key").value_or("");
}

void to_json(json& j, const HistoryEntry& v) {
    j = {{"seq", v.seq},
         {"at", FormatTimestamp(v.at)},
         {"kind", v.kind},
         {"step", OrNull(v.step)},
         {"phase", v.phase ? json(ToString(*v.phase)) : json(nullptr)},
         {"attempt", v.attempt},
         {"msg_id", v.msg_id ? json(v.msg_id->str()) : json(nullptr)},
         {"detail", v.detail}};
}
void from_json(const json& j, HistoryEntry& v) {
    RequireObject(j, "a history event");
    v.seq = Int(j, "seq");
    v.at = TimeOf(j, "at");
    v.kind = Str(j, "kind");
    v.step = OptStr(j, "step");
    v.phase = Has(j, "phase") ? std::optional(PhaseOf(j, "phase")) : std::nullopt;
    v.attempt = static_cast<int>(Int(j, "attempt"));
    v.msg_id = Has(j, "msg_id") ? std::optional(IdOf<MsgId>(j, "msg_id")) : std::nullopt;
    v.detail = Has(j, "detail") ? j.at("detail") : json::object();
}

void to_json(json& j, const SagaDetail& v) {
    json saga = v.saga;
    saga["input"] = v.input;
    saga["context"] = v.context;
    j = {{"saga", std::move(saga)}, {"nodes", v.nodes}, {"pending", v.pending}, {"attempts", v.attempts},
         {"history", v.history}, {"signals", v.signals}, {"children", v.children}};
}
void from_json(const json& j, SagaDetail& v) {
    RequireObject(j, "a saga's detail");
    const json saga = Obj(j, "saga");
    v.saga = saga.get<SagaSummary>();
    v.input = Obj(saga, "input");
    v.context = Obj(saga, "context");
    v.nodes = Items<NodeInfo>(j, "nodes");
    v.pending = Items<PendingInfo>(j, "pending");
    v.attempts = Items<AttemptInfo>(j, "attempts");
    v.history = Items<HistoryEntry>(j, "history");
    if (Has(j, "signals")) v.signals = Items<SignalInfo>(j, "signals");
    if (Has(j, "children")) v.children = Items<ChildInfo>(j, "children");
}

void to_json(json& j, const ChildInfo& v) {
    j = {{"node", v.node}, {"saga_id", v.saga_id.str()}, {"workflow", v.workflow}};
}
void from_json(const json& j, ChildInfo& v) {
    RequireObject(j, "a child");
    v.node = Str(j, "node");
    v.saga_id = IdOf<SagaId>(j, "saga_id");
    v.workflow = Str(j, "workflow");
}

void to_json(json& j, const SignalInfo& v) {
    j = {{"id", v.id}, {"name", v.name}, {"received_at", FormatTimestamp(v.received_at)}, {"taken_by", v.taken_by}};
}
void from_json(const json& j, SignalInfo& v) {
    RequireObject(j, "a signal");
    v.id = Str(j, "id");
    v.name = Str(j, "name");
    v.received_at = TimeOf(j, "received_at");
    v.taken_by = OptStr(j, "taken_by").value_or("");
}

void to_json(json& j, const History& v) { j = {{"history", v.history}}; }
void from_json(const json& j, History& v) { v.history = Items<HistoryEntry>(j, "history"); }

void to_json(json& j, const SendSignal& v) {
    j = {{"name", v.name}, {"data", v.data}};
    if (v.id) j["id"] = *v.id;
}
void from_json(const json& j, SendSignal& v) {
    RequireObject(j, "the body");
    v.name = Str(j, "name");
    v.id = OptStr(j, "id");
    v.data = Has(j, "data") ? Obj(j, "data") : json::object();
}

void to_json(json& j, const SignalResult& v) {
    j = {{"saga_id", v.saga_id.str()}, {"name", v.name}, {"id", v.id}, {"outcome", v.outcome}};
}
void from_json(const json& j, SignalResult& v) {
    RequireObject(j, "a signal's answer");
    v.saga_id = IdOf<SagaId>(j, "saga_id");
    v.name = Str(j, "name");
    v.id = Str(j, "id");
    v.outcome = Str(j, "outcome");
}

void to_json(json& j, const AwaitResult& v) {
    j = {{"saga_id", v.saga_id.str()}, {"status", ToString(v.status)}, {"done", v.done}, {"reason", v.reason},
         {"context", v.context}, {"timeout_ms", v.timeout_ms}, {"clamped", v.clamped}};
}
void from_json(const json& j, AwaitResult& v) {
    RequireObject(j, "an await's answer");
    v.saga_id = IdOf<SagaId>(j, "saga_id");
    v.status = StatusOf(j, "status");
    v.done = Bool(j, "done");
    v.reason = OptStr(j, "reason").value_or("");
    v.context = Has(j, "context") ? Obj(j, "context") : json::object();
    v.timeout_ms = Int(j, "timeout_ms");
    v.clamped = Bool(j, "clamped");
}

void to_json(json& j, const OperatorRequest& v) {
    j = {{"reason", v.reason}};
    if (v.node) j["node"] = *v.node;
    if (v.from_node) j["from_node"] = *v.from_node;
    if (v.output) j["output"] = *v.output;
    if (v.force) j["force"] = true;
    if (v.status) j["status"] = ToString(*v.status);
}
void from_json(const json& j, OperatorRequest& v) {
    RequireObject(j, "the body");
    v.reason = OptStr(j, "reason").value_or("");
    v.node = OptStr(j, "node");
    v.from_node = OptStr(j, "from_node");
    if (Has(j, "output")) v.output = Obj(j, "output");
    v.force = Bool(j, "force");
    if (Has(j, "status")) v.status = StatusOf(j, "status");
}

void to_json(json& j, const CompensationStep& v) {
    j = {{"wave", v.wave}, {"node", v.node}, {"action", v.action}, {"queue", v.queue}, {"output", v.output},
         {"uncertain", v.uncertain}, {"in_flight", v.in_flight}};
}
void from_json(const json& j, CompensationStep& v) {
    RequireObject(j, "a compensation step");
    v.wave = static_cast<int>(Int(j, "wave", 1));
    v.node = Str(j, "node");
    v.action = Str(j, "action");
    v.queue = OptStr(j, "queue").value_or("");
    v.output = j.contains("output") ? j.at("output") : json(nullptr);
    v.uncertain = Bool(j, "uncertain");
    v.in_flight = Bool(j, "in_flight");
}

void to_json(json& j, const CompensationPlan& v) {
    j = {{"saga_id", v.saga_id.str()}, {"status", ToString(v.status)}, {"from_node", OrNull(v.from_node)},
         {"steps", v.steps}, {"kept", v.kept}, {"refused", OrNull(v.refused)}};
}
void from_json(const json& j, CompensationPlan& v) {
    RequireObject(j, "a compensation plan");
    v.saga_id = IdOf<SagaId>(j, "saga_id");
    v.status = StatusOf(j, "status");
    v.from_node = OptStr(j, "from_node");
    v.steps = Items<CompensationStep>(j, "steps");
    v.kept.clear();
    for (const json& k : Arr(j, "kept")) {
        if (!k.is_string()) Bad("kept", "must hold node ids");
        v.kept.push_back(k.get<std::string>());
    }
    v.refused = OptStr(j, "refused");
}

void to_json(json& j, const BulkRequest& v) {
    j = {{"action", v.action}, {"reason", v.reason}};
    if (v.status) j["status"] = ToString(*v.status);
    if (v.workflow) j["workflow"] = *v.workflow;
    if (v.version) j["version"] = *v.version;
    if (v.created_after) j["created_after"] = FormatTimestamp(*v.created_after);
    if (v.created_before) j["created_before"] = FormatTimestamp(*v.created_before);
    if (v.dry_run) j["dry_run"] = true;
    if (v.confirm_count) j["confirm_count"] = *v.confirm_count;
    if (v.rate) j["rate"] = *v.rate;
}
void from_json(const json& j, BulkRequest& v) {
    RequireObject(j, "the body");
    v.action = Str(j, "action");
    if (std::find(std::begin(kBulkActions), std::end(kBulkActions), v.action) == std::end(kBulkActions)) {
        Bad("action", "must be compensate, retry or cancel");
    }
    v.status = Has(j, "status") ? std::optional(StatusOf(j, "status")) : std::nullopt;
    v.workflow = OptStr(j, "workflow");
    v.version = Has(j, "version") ? std::optional(static_cast<int>(Int(j, "version", 1, 1'000'000))) : std::nullopt;
    v.created_after = Has(j, "created_after") ? std::optional(TimeOf(j, "created_after")) : std::nullopt;
    v.created_before = Has(j, "created_before") ? std::optional(TimeOf(j, "created_before")) : std::nullopt;
    v.reason = OptStr(j, "reason").value_or("");
    v.dry_run = Bool(j, "dry_run");
    v.confirm_count = Has(j, "confirm_count") ? std::optional(Int(j, "confirm_count")) : std::nullopt;
    v.rate = Has(j, "rate") ? std::optional(static_cast<int>(Int(j, "rate", 1, 1'000'000))) : std::nullopt;
}

void to_json(json& j, const BulkJobInfo& v) {
    json filter = v.request;
    j = {{"id", v.id}, {"action", v.request.action}, {"reason", v.request.reason}, {"requested_by", v.requested_by},
         {"state", v.state}, {"matched", v.matched}, {"done", v.done}, {"refused", v.refused}, {"rate", v.rate},
         {"created_at", FormatTimestamp(v.created_at)}, {"updated_at", FormatTimestamp(v.updated_at)}};
    json f = json::object();
    for (const char* k : {"status", "workflow", "version", "created_after", "created_before"}) {
        if (filter.contains(k)) f[k] = filter[k];
    }
    j["filter"] = f;
    json sample = json::array();
    for (const SagaId& id : v.sample) sample.push_back(id.str());
    j["sample"] = sample;
}
void from_json(const json& j, BulkJobInfo& v) {
    RequireObject(j, "a bulk job");
    v.id = Str(j, "id");
    json request = Has(j, "filter") ? Obj(j, "filter") : json::object();
    request["action"] = Str(j, "action");
    request["reason"] = Str(j, "reason");
    v.request = request.get<BulkRequest>();
    v.requested_by = Str(j, "requested_by");
    v.state = Str(j, "state");
    v.matched = Int(j, "matched");
    v.done = Int(j, "done");
    v.refused = Int(j, "refused");
    v.rate = static_cast<int>(Int(j, "rate"));
    v.created_at = TimeOf(j, "created_at");
    v.updated_at = TimeOf(j, "updated_at");
    v.sample.clear();
    for (const json& id : Has(j, "sample") ? Arr(j, "sample") : json::array()) {
        auto parsed = id.is_string() ? ParseUuidId<SagaId>(id.get<std::string>()) : std::nullopt;
        if (!parsed) Bad("sample", "must hold saga ids");
        v.sample.push_back(*parsed);
    }
}

void to_json(json& j, const BulkJobList& v) { j = {{"jobs", v.jobs}}; }
void from_json(const json& j, BulkJobList& v) {
    RequireObject(j, "a list of bulk jobs");
    v.jobs = Items<BulkJobInfo>(j, "jobs");
}

void to_json(json& j, const Accepted& v) { j = {{"saga_id", v.saga_id.str()}}; }
void from_json(const json& j, Accepted& v) { v.saga_id = IdOf<SagaId>(j, "saga_id"); }

void to_json(json& j, const StepInfo& v) {
    j = {{"name", v.name}, {"queue", v.queue}, {"compensation", OrNull(v.compensation)},
         {"max_attempts", v.max_attempts}, {"timeout_ms", v.timeout_ms}};
}
void from_json(const json& j, StepInfo& v) {
    RequireObject(j, "a step");
    v.name = Str(j, "name");
    v.queue = Str(j, "queue");
    v.compensation = OptStr(j, "compensation");
    v.max_attempts = static_cast<int>(Int(j, "max_attempts"));
    v.timeout_ms = Int(j, "timeout_ms");
}

void to_json(json& j, const WorkflowInfo& v) { j = {{"name", v.name}, {"version", v.version}, {"steps", v.steps}}; }
void from_json(const json& j, WorkflowInfo& v) {
    RequireObject(j, "a workflow");
    v.name = Str(j, "name");
    v.version = static_cast<int>(Int(j, "version"));
    v.steps = Items<StepInfo>(j, "steps");
}

void to_json(json& j, const Workflows& v) { j = {{"workflows", v.workflows}}; }
void from_json(const json& j, Workflows& v) { v.workflows = Items<WorkflowInfo>(j, "workflows"); }

void to_json(json& j, const Graph& v) { j = {{"dot", v.dot}}; }
void from_json(const json& j, Graph& v) { v.dot = Str(j, "dot"); }

void to_json(json& j, const WorkerInfo& v) {
    j = {{"id", v.id}, {"queues", v.queues}, {"capacity", v.capacity}, {"in_flight", v.in_flight},
         {"last_heartbeat", FormatTimestamp(v.last_heartbeat)}};
    if (!v.key.empty()) {
        j["key"] = v.key;
        j["key_name"] = v.key_name;
    }
}
void from_json(const json& j, WorkerInfo& v) {
    RequireObject(j, "a worker");
    v.id = Str(j, "id");
    v.queues.clear();
    for (const json& q : Arr(j, "queues")) {
        if (!q.is_string()) Bad("queues", "must be strings");
        v.queues.push_back(q.get<std::string>());
    }
    v.capacity = static_cast<int>(Int(j, "capacity"));
    v.in_flight = static_cast<int>(Int(j, "in_flight"));
    v.last_heartbeat = TimeOf(j, "last_heartbeat");
    v.key = OptStr(j, "key").value_or("");
    v.key_name = OptStr(j, "key_name").value_or("");
}

void to_json(json& j, const UnservedInfo& v) {
    j = {{"queue", v.queue}, {"action", v.action}, {"commands", v.commands},
         {"oldest", v.oldest ? json(FormatTimestamp(*v.oldest)) : json(nullptr)}};
}
void from_json(const json& j, UnservedInfo& v) {
    RequireObject(j, "an unserved action");
    v.queue = Str(j, "queue");
    v.action = Str(j, "action");
    v.commands = Int(j, "commands");
    v.oldest.reset();
    if (j.contains("oldest") && !j.at("oldest").is_null()) v.oldest = TimeOf(j, "oldest");
}

void to_json(json& j, const Workers& v) { j = {{"workers", v.workers}, {"unserved", v.unserved}}; }
void from_json(const json& j, Workers& v) {
    v.workers = Items<WorkerInfo>(j, "workers");
    v.unserved = j.contains("unserved") ? Items<UnservedInfo>(j, "unserved") : std::vector<UnservedInfo>{};
}

void to_json(json& j, const Stats& v) {
    j = json::object();
    for (const auto& [group, counters] : v.groups) j[group] = counters;
}
void from_json(const json& j, Stats& v) {
    RequireObject(j, "stats");
    v.groups.clear();
    for (const auto& [group, counters] : j.items()) {
        RequireObject(counters, "a stats group");
        for (const auto& [name, value] : counters.items()) v.groups[group][name] = value;
    }
}

}  // namespace sagaflow::api
