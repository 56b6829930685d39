#include "sagaflow/protocol/envelope.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

#include "sagaflow/core/ids.hpp"

namespace sagaflow::protocol {
namespace {

using nlohmann::json;

constexpr std::array<std::pair<Kind, std::string_view>, 6> kKinds{{
    {Kind::kHello, "hello"},
    {Kind::kHeartbeat, "heartbeat"},
    {Kind::kCommand, "command"},
    {Kind::kReply, "reply"},
    {Kind::kAck, "ack"},
    {Kind::kRefused, "refused"},
}};

constexpr std::size_t kMaxActions = 4096;  // a hello's actions over all its queues

Status Bad(const std::string& why) { return {ErrorCode::kInvalidArgument, "malformed envelope: " + why}; }

// Field readers that name the field when it is missing or mistyped.
std::string Str(const json& j, const char* key) {
    const auto& v = j.at(key);
    if (!v.is_string()) throw std::invalid_argument(std::string(key) + " must be a string");
    return v.get<std::string>();
}
std::int64_t Int(const json& j, const char* key) {
    const auto& v = j.at(key);
    if (!v.is_number_integer()) throw std::invalid_argument(std::string(key) + " must be an integer");
    return v.get<std::int64_t>();
}
std::string Uuid(const json& j, const char* key) {
    std::string s = Str(j, key);
    if (!IsUuid(s)) throw std::invalid_argument(std::string(key) + " must be a UUID");
    return s;
}

}  // namespace

std::string_view ToString(Kind k) noexcept {
    for (const auto& [kind, word] : kKinds) {
        if (kind == k) return word;
    }
    return "unknown";
}

namespace {

std::string HexOf(std::string_view uuid) {
    std::string hex;
    for (char c : uuid) {
        if (c != '-') hex += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return hex;
}

bool AllHex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

std::string MakeTraceParent(std::string_view trace_id, std::string_view span_id) {
    if (!IsUuid(trace_id) || !IsUuid(span_id)) return {};
    return "00-" + HexOf(trace_id) + "-" + HexOf(span_id).substr(16) + "-01";
}

bool IsTraceParent(std::string_view t) noexcept {
    if (t.size() != 55 || t[2] != '-' || t[35] != '-' || t[52] != '-') return false;
    const std::string_view version = t.substr(0, 2), trace = t.substr(3, 32), span = t.substr(36, 16),
                           flags = t.substr(53, 2);
    return AllHex(version) && version != "ff" && AllHex(trace) && AllHex(span) && AllHex(flags) &&
           trace != std::string(32, '0') && span != std::string(16, '0');
}

std::optional<std::string> TraceIdOf(std::string_view traceparent) {
    if (!IsTraceParent(traceparent)) return std::nullopt;
    const std::string hex(traceparent.substr(3, 32));
    return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
           hex.substr(20);
}

std::string EncodeEnvelope(const Envelope& e) {
    json j{{"v", e.version}, {"kind", ToString(e.kind)}};
    switch (e.kind) {
        case Kind::kHello:
        case Kind::kHeartbeat:
            j["worker_id"] = e.worker_id;
            j["queues"] = e.queues;
            if (!e.actions.empty()) j["actions"] = e.actions;
            j["capacity"] = e.capacity;
            j["in_flight"] = e.in_flight;
            break;
        case Kind::kCommand:
            j["msg_id"] = e.msg_id;
            j["saga_id"] = e.saga_id;
            j["trace_id"] = e.trace_id;
            if (!e.traceparent.empty()) j["traceparent"] = e.traceparent;
            j["workflow"] = e.workflow;
            j["workflow_version"] = e.workflow_version;
            j["step"] = e.step;
            j["step_index"] = e.step_index;
            j["action"] = e.action;
            j["queue"] = e.queue;
            j["phase"] = ToString(e.phase);
            j["attempt"] = e.attempt;
            j["business_key"] = e.business_key ? json(*e.business_key) : json(nullptr);
            j["deadline_us"] = e.deadline_us;
            j["payload"] = e.payload;
            break;
        case Kind::kReply:
            j["msg_id"] = e.msg_id;
            j["saga_id"] = e.saga_id;
            j["trace_id"] = e.trace_id;
            j["outcome"] = ToString(e.outcome);
            j["output"] = e.output;
            j["reason"] = e.reason;
            break;
        case Kind::kAck:
            j["msg_id"] = e.msg_id;
            break;
        case Kind::kRefused:
            j["reason"] = e.reason;
            break;
    }
    return j.dump();
}

Result<Envelope> DecodeEnvelope(std::string_view frame, std::size_t max_bytes) {
    if (frame.size() > max_bytes) {
        return Bad("frame of " + std::to_string(frame.size()) + " bytes exceeds the limit of " +
                   std::to_string(max_bytes));
    }
    const json j = json::parse(frame, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) return Bad("not a JSON object");
    Envelope e;
    try {
        e.version = static_cast<int>(Int(j, "v"));
        if (e.version != kEnvelopeVersion) {
            return Status{ErrorCode::kFailedPrecondition,
                          "unsupported envelope version " + std::to_string(e.version)};
        }
        const std::string kind = Str(j, "kind");
        bool known = false;
        for (const auto& [k, word] : kKinds) {
            if (word == kind) {
                e.kind = k;
                known = true;
            }
        }
        if (!known) return Bad("unknown kind '" + kind + "'");
        switch (e.kind) {
            case Kind::kHello:
            case Kind::kHeartbeat: {
                e.worker_id = Str(j, "worker_id");
                if (e.worker_id.empty() || e.worker_id.size() > 256) return Bad("bad worker_id");
                const auto& q = j.at("queues");
                if (!q.is_array()) return Bad("queues must be an array");
                for (const auto& item : q) {
                    if (!item.is_string()) return Bad("queues must hold strings");
                    e.queues.push_back(item.get<std::string>());
                }
                if (j.contains("actions")) {
                    const auto& a = j.at("actions");
                    if (!a.is_object()) return Bad("actions must be an object");
                    std::size_t n = 0;
                    for (const auto& [queue, names] : a.items()) {
                        if (std::find(e.queues.begin(), e.queues.end(), queue) == e.queues.end()) {
                            return Bad("actions name a queue not in queues");
                        }
                        if (!names.is_array()) return Bad("actions must hold arrays");
                        auto& out = e.actions[queue];
                        for (const auto& name : names) {
                            if (!name.is_string() || name.get_ref<const std::string&>().empty() ||
                                name.get_ref<const std::string&>().size() > 256 || ++n > kMaxActions) {
                                return Bad("actions must be at most " + std::to_string(kMaxActions) +
                                           " names of 1 to 256 bytes");
                            }
                            out.push_back(name.get<std::string>());
                        }
                    }
                }
                e.capacity = static_cast<int>(Int(j, "capacity"));
                if (e.capacity < 1 || e.capacity > 100'000) return Bad("capacity out of range");
                if (j.contains("in_flight")) e.in_flight = static_cast<int>(Int(j, "in_flight"));
                break;
            }
            case Kind::kCommand: {
                e.msg_id = Uuid(j, "msg_id");
                e.saga_id = Uuid(j, "saga_id");
                e.trace_id = Str(j, "trace_id");
                // W3C: a malformed traceparent is ignored, not an error.
                if (j.contains("traceparent") && j.at("traceparent").is_string() &&
                    IsTraceParent(j.at("traceparent").get_ref<const std::string&>())) {
                    e.traceparent = j.at("traceparent").get<std::string>();
                }
                e.workflow = Str(j, "workflow");
                e.workflow_version = static_cast<int>(Int(j, "workflow_version"));
                e.step = Str(j, "step");
                e.step_index = static_cast<int>(Int(j, "step_index"));
                e.action = Str(j, "action");
                e.queue = Str(j, "queue");
                const std::string phase = Str(j, "phase");
                if (phase == "forward") {
                    e.phase = Phase::kForward;
                } else if (phase == "compensate") {
                    e.phase = Phase::kCompensate;
                } else {
                    return Bad("unknown phase '" + phase + "'");
                }
                e.attempt = static_cast<int>(Int(j, "attempt"));
                if (j.contains("business_key") && j.at("business_key").is_string()) {
                    e.business_key = Str(j, "business_key");
                }
                e.deadline_us = Int(j, "deadline_us");
                e.payload = j.at("payload");
                if (!e.payload.is_object()) return Bad("payload must be an object");
                break;
            }
            case Kind::kReply: {
                e.msg_id = Uuid(j, "msg_id");
                e.saga_id = Str(j, "saga_id");
                e.trace_id = Str(j, "trace_id");
                const std::string outcome = Str(j, "outcome");
                if (outcome == "ok") {
                    e.outcome = ReplyOutcome::kOk;
                } else if (outcome == "fail") {
                    e.outcome = ReplyOutcome::kFail;
                } else if (outcome == "retry") {
                    e.outcome = ReplyOutcome::kRetry;
                } else {
                    return Bad("unknown outcome '" + outcome + "'");
                }
                e.output = j.contains("output") ? j.at("output") : json::object();
                e.reason = j.contains("reason") ? Str(j, "reason") : "";
                break;
            }
            case Kind::kAck:
                e.msg_id = Uuid(j, "msg_id");
                break;
            case Kind::kRefused:
                e.reason = Str(j, "reason");
                if (e.reason.size() > 1024) return Bad("reason too long");
                break;
        }
    } catch (const json::exception& ex) {
        return Bad(ex.what());
    } catch (const std::invalid_argument& ex) {
        return Bad(ex.what());
    }
    return e;
}

}  // namespace sagaflow::protocol
