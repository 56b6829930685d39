// A saga walked by the Plan alone, for the Plan's unit tests: the test plays the
// lifecycle's part by hand (`undoing`).
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "plan.hpp"

namespace sagaflow::testing {

struct PlanWalk {
    explicit PlanWalk(Workflow wf, nlohmann::json in = nlohmann::json::object()) : plan(std::move(wf)), input(std::move(in)) {}

    engine::PlanResult Fire(engine::PlanEvent::Kind kind, const std::string& node = {}, Phase phase = Phase::kForward,
                            int attempt = 1) {
        engine::PlanEvent e;
        e.kind = kind;
        e.node = node;
        e.phase = phase;
        e.attempt = attempt;
        return Fire(e);
    }
    engine::PlanResult Fire(const engine::PlanEvent& e) {
        last = plan.Apply(state, e, engine::FlowFacts{input, context, undoing});
        return last;
    }
    engine::PlanResult Ok(const std::string& node) { return Fire(engine::PlanEvent::Kind::kOk, node); }
    engine::PlanResult Undone(const std::string& node) {
        return Fire(engine::PlanEvent::Kind::kOk, node, Phase::kCompensate);
    }
    [[nodiscard]] engine::NodeState Of(const std::string& node) const { return state.at(node).state; }

    engine::Plan plan;
    nlohmann::json input;
    nlohmann::json context = nlohmann::json::object();
    engine::FlowState state;
    bool undoing = false;
    engine::PlanResult last;
};

/// The effects as words: "node" for a forward send, "~node" for a compensation, "+node"
/// for a resend, "-node" withdrawn, "=node" sent under its last msg id; with `all`, the
/// arms and disarms too (as plain node names), else only what goes to a worker.
inline std::vector<std::string> Effects(const engine::PlanResult& r, bool all = true) {
    using K = engine::PlanEffect::Kind;
    std::vector<std::string> out;
    for (const engine::PlanEffect& e : r.effects) {
        const bool command = e.kind == K::kSend || e.kind == K::kResend || e.kind == K::kWithdraw;
        if (!all && !command) continue;
        const char* mark = e.kind == K::kResend ? "+" : e.kind == K::kWithdraw ? "-" : e.same_msg_id ? "=" : "";
        out.push_back(std::string(mark) + (e.phase == Phase::kCompensate ? "~" : "") + e.node);
    }
    return out;
}

}  // namespace sagaflow::testing
