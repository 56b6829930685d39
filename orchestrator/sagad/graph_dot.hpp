// `sagactl graph`: a workflow's graph as Graphviz DOT, drawn from its definition and the
// Plan (exits and the undo walk come from there; nothing here re-derives them).
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine.hpp"
#include "plan.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::sagad {

/// One saga drawn on its workflow's graph.
struct SagaMarks {
    std::string title;                     ///< "saga <id>: <status>"
    engine::FlowState nodes;               ///< Per-node states.
    std::map<std::string, int> retries;    ///< By "node" (forward) and "~node" (compensation).
    std::map<std::string, int> timeouts;   ///< Same keys.
    /// By node: what it waits for now ("due ...", "deadline ...") and signals it took.
    std::map<std::string, std::vector<std::string>> notes;
};

/// Steps are boxes (their compensations dashed), choices diamonds with their guards on the
/// edges, parallel groups clusters between a fork and a join bar, end nodes circles (a
/// fail node an octagon), timers ellipses, signal waits parallelograms; a deadline is
/// written under its node, and an `OnDeadline` edge is labelled "deadline". Dotted edges show where a failure leads, dashed ones the undo
/// walk. With `marks`: done green, failed red, compensated blue (still dashed), in flight
/// bold, skipped grey, with retries and timeouts; the edges the saga took drawn bold.
[[nodiscard]] std::string WorkflowDot(const Workflow& wf, const SagaMarks* marks);

/// The marks of a saga: its node states, the retries and timeouts of its attempts, the due
/// times of its timers and deadlines and the signals its waits took.
[[nodiscard]] SagaMarks MarksOf(const engine::SagaView& view);

}  // namespace sagaflow::sagad
