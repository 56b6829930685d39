#include "command.hpp"

#include "sagaflow/core/error.hpp"

namespace sagaflow::engine {

Command MakeCommand(const PendingRecord& item, const SagaRecord& saga, const Workflow& wf) {
    const int index = wf.find(item.node);
    if (index < 0 || wf.node(index).kind != NodeKind::kStep) {
        throw Error(ErrorCode::kInternal, "pending item " + item.msg_id.str() + " names node '" + item.node +
                                              "', which is no step of " + wf.name() + " v" +
                                              std::to_string(wf.version()));
    }
    Command c;
    c.msg_id = item.msg_id;
    c.saga_id = item.saga_id;
    c.trace_id = saga.trace_id;
    c.workflow = saga.workflow;
    c.workflow_version = saga.workflow_version;
    c.step = item.node;
    c.step_index = index;
    c.phase = item.phase;
    c.action = item.action;
    c.queue = item.queue;
    c.attempt = item.attempt;
    c.business_key = saga.business_key;
    c.input = saga.input;
    c.context = saga.context;
    return c;
}

std::string CommandLabel(const PendingRecord& c) {
    return (c.phase == Phase::kForward ? "step '" : "compensation '") + c.action + "'";
}

protocol::Envelope ToEnvelope(const Command& c) {
    protocol::Envelope e;
    e.kind = protocol::Kind::kCommand;
    e.msg_id = c.msg_id.str();
    e.saga_id = c.saga_id.str();
    e.trace_id = c.trace_id.str();
    e.traceparent = protocol::MakeTraceParent(e.trace_id, c.msg_id.str());
    e.workflow = c.workflow;
    e.workflow_version = c.workflow_version;
    e.step = c.step;
    e.step_index = c.step_index;
    e.action = c.action;
    e.queue = c.queue;
    e.phase = c.phase;
    e.attempt = c.attempt;
    if (c.business_key) e.business_key = c.business_key->str();
    e.deadline_us = c.deadline.time_since_epoch().count();
    e.payload = {{"input", c.input}, {"context", c.context}};
    return e;
}

}  // namespace sagaflow::engine
