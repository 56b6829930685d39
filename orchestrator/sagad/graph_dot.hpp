// `sagactl graph`: a workflow's graph as Graphviz DOT, drawn from its definition and the
// Plan (exits and the undo walk come from there; nothing here re-derives them).
#pragma once

#include <map>
#include <string>

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
};

/// Steps are boxes (their compensations dashed), choices diamonds with their guards on the
/// edges, parallel groups clusters between a fork and a join bar, end nodes circles (a
/// fail node an octagon). Dotted edges show where a failure leads, dashed ones the undo
/// walk. With `marks`: done green, failed red, compensated blue (still dashed), in flight
/// bold, skipped grey, with retries and timeouts; the edges the saga took drawn bold.
[[nodiscard]] std::string WorkflowDot(const Workflow& wf, const SagaMarks* marks);

/// The marks of a saga: its node states, and the retries and timeouts of its attempts.
[[nodiscard]] SagaMarks MarksOf(const engine::SagaView& view);

}  // namespace sagaflow::sagad
