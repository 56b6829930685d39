#include "step_rules.hpp"

#include <algorithm>

#include "sagaflow/core/error.hpp"

namespace sagaflow::worker {

using nlohmann::json;

json EncodeOutcome(const Outcome& o) {
    return {{"outcome", ToString(o.outcome)}, {"output", o.output}, {"reason", o.reason}};
}

Outcome DecodeOutcome(const std::string& text) {
    const json j = json::parse(text);
    Outcome o;
    const std::string outcome = j.at("outcome").get<std::string>();
    o.outcome = outcome == "ok" ? ReplyOutcome::kOk : ReplyOutcome::kFail;
    o.output = j.value("output", json::object());
    o.reason = j.value("reason", "");
    return o;
}

std::string PhaseText(Phase phase) { return std::to_string(static_cast<int>(phase)); }

std::optional<Outcome> Guard(Phase phase, const std::vector<PriorRow>& prior, AtomicStats& stats) {
    const std::string same = PhaseText(phase);
    const std::string other = PhaseText(phase == Phase::kForward ? Phase::kCompensate : Phase::kForward);
    bool other_seen = false, forward_done = false;
    for (const PriorRow& row : prior) {
        if (row.phase == same && row.ok) {
            // Done before under another msg id (a manual retry): answer as then.
            ++stats.inbox_hits;
            return DecodeOutcome(row.reply);
        }
        if (row.phase == other) {
            other_seen = true;
            forward_done |= row.ok;
        }
    }
    if (phase == Phase::kForward && other_seen) {
        // Its compensation came first: running it now would leave an effect no one undoes.
        ++stats.forwards_after_compensation;
        return Outcome{ReplyOutcome::kFail, json::object(), "refused: the step was compensated before it ran"};
    }
    if (phase == Phase::kCompensate && !forward_done) {
        ++stats.compensations_without_forward;
        return Outcome{ReplyOutcome::kOk, {{"compensated", false}}, "nothing to undo: the forward action never ran here"};
    }
    return std::nullopt;
}

// The one place where a handler's exception becomes a permanent failure or a retry.
Handler WithErrorPolicy(Handler handler, std::vector<std::function<bool(const std::exception&)>> permanent) {
    return [handler = std::move(handler), permanent = std::move(permanent)](StepContext& ctx) -> StepResult {
        const auto listed = [&](const std::exception& e) {
            return std::any_of(permanent.begin(), permanent.end(), [&](const auto& is) { return is(e); });
        };
        try {
            return handler(ctx);
        } catch (const Permanent& e) {
            return StepResult::Fail(e.what());
        } catch (const Error& e) {
            if (IsRetryable(e.code()) || !listed(e)) throw;  // a lost connection or a deadlock may pass
            return StepResult::Fail(e.what());
        } catch (const std::exception& e) {
            if (!listed(e)) throw;
            return StepResult::Fail(e.what());
        }
    };
}

EnvelopeContext::EnvelopeContext(const protocol::Envelope& e, StepTransaction& tx)
    : e_(e),
      tx_(tx),
      saga_id_(e.saga_id),
      msg_id_(e.msg_id),
      input_(e.payload.contains("input") ? e.payload.at("input") : json::object()),
      context_(e.payload.contains("context") ? e.payload.at("context") : json::object()) {}

}  // namespace sagaflow::worker
