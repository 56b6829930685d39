#include "command.hpp"

#include "sagaflow/core/error.hpp"

namespace sagaflow::engine {

nlohmann::json CommandPayload(const SagaRecord& saga, const std::string& step) {
    return {
        {"workflow", saga.workflow},
        {"workflow_version", saga.workflow_version},
        {"step", step},
        {"trace_id", saga.trace_id.str()},
        {"business_key", saga.business_key ? nlohmann::json(saga.business_key->str())
                                           : nlohmann::json(nullptr)},
        {"input", saga.input},
        {"context", saga.context},
    };
}

std::string CommandLabel(const CommandRecord& c) {
    return (c.phase == Phase::kForward ? "step '" : "compensation '") + c.action + "'";
}

Command CommandFromRecord(const CommandRecord& r) {
    Command c;
    c.msg_id = r.msg_id;
    c.saga_id = r.saga_id;
    c.step_index = r.step_index;
    c.phase = r.phase;
    c.action = r.action;
    c.queue = r.queue;
    c.attempt = r.attempt;
    try {
        const auto& p = r.payload;
        c.workflow = p.at("workflow").get<std::string>();
        c.workflow_version = p.at("workflow_version").get<int>();
        c.step = p.at("step").get<std::string>();
        c.trace_id = TraceId(p.at("trace_id").get<std::string>());
        if (p.contains("business_key") && p.at("business_key").is_string()) {
            c.business_key = BusinessKey(p.at("business_key").get<std::string>());
        }
        c.input = p.at("input");
        c.context = p.at("context");
    } catch (const nlohmann::json::exception& e) {
        throw Error(ErrorCode::kInternal,
                    "corrupt outbox payload for command " + r.msg_id.str() + ": " + e.what());
    }
    return c;
}

}  // namespace sagaflow::engine
