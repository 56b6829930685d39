// The worker's rules for one command that do not touch the database, shared by the inbox
// (inbox.cpp, against PostgreSQL) and the test kit's in-memory inbox (sagaflow/testing):
// how a handler's exception becomes a permanent failure or a retry, what the inbox
// answers without running the handler, how an outcome is stored, and the handler's view
// of a command.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "sagaflow/protocol/envelope.hpp"
#include "sagaflow/worker/worker.hpp"

namespace sagaflow::worker {

struct AtomicStats {
    std::atomic<std::uint64_t> commands{0}, handler_runs{0}, inbox_hits{0},
        compensations_without_forward{0}, forwards_after_compensation{0}, retries{0},
        malformed_frames{0}, replies_resent{0}, transactions{0}, refusals{0}, inbox_expired{0};
};

struct Outcome {
    ReplyOutcome outcome = ReplyOutcome::kOk;
    nlohmann::json output = nlohmann::json::object();
    std::string reason;
};

/// An outcome as the inbox stores it (its `reply` column), and back. Only ok and fail are
/// ever stored: a retry leaves no row.
[[nodiscard]] nlohmann::json EncodeOutcome(const Outcome& o);
[[nodiscard]] Outcome DecodeOutcome(const std::string& text);

/// The inbox's phase column: "1" forward, "2" compensate.
[[nodiscard]] std::string PhaseText(Phase phase);

/// A row the inbox stored before for the same step under another msg id.
struct PriorRow {
    std::string phase;  ///< PhaseText
    bool ok = false;
    std::string reply;  ///< EncodeOutcome, as text
};

/// The guards of a command not run before, from what its step stored before under other
/// msg ids. An outcome means: answer (and store) this, do not run the handler:
///   - the same phase done before (a manual retry): as then;
///   - a forward action whose compensation came first: refused, as a failure;
///   - a compensation whose forward action never ran here: ok, nothing to undo.
[[nodiscard]] std::optional<Outcome> Guard(Phase phase, const std::vector<PriorRow>& prior, AtomicStats& stats);

/// `handler` with the error policy applied: `Permanent`, and an exception whose type
/// `permanent` lists, become a business failure; any other exception propagates (a
/// retry), as does a retryable `sagaflow::Error` whatever is listed.
[[nodiscard]] Handler WithErrorPolicy(Handler handler, std::vector<std::function<bool(const std::exception&)>> permanent);

/// The handler's view of a command as it arrives (`e` and `tx` outlive it).
class EnvelopeContext final : public StepContext {
public:
    EnvelopeContext(const protocol::Envelope& e, StepTransaction& tx);
    const SagaId& saga_id() const override { return saga_id_; }
    const std::string& workflow() const override { return e_.workflow; }
    const std::string& step() const override { return e_.step; }
    int step_index() const override { return e_.step_index; }
    const std::string& action() const override { return e_.action; }
    Phase phase() const override { return e_.phase; }
    int attempt() const override { return e_.attempt; }
    const std::optional<std::string>& business_key() const override { return e_.business_key; }
    const std::string& trace_id() const override { return e_.trace_id; }
    const std::string& traceparent() const override { return e_.traceparent; }
    const MsgId& msg_id() const override { return msg_id_; }
    Timestamp deadline() const override { return Timestamp{Duration{e_.deadline_us}}; }
    const nlohmann::json& input() const override { return input_; }
    const nlohmann::json& context() const override { return context_; }
    StepTransaction& tx() override { return tx_; }

private:
    const protocol::Envelope& e_;
    StepTransaction& tx_;
    SagaId saga_id_;
    MsgId msg_id_;
    nlohmann::json input_;
    nlohmann::json context_;
};

}  // namespace sagaflow::worker
