// A command as it leaves the engine, and a worker's answer to it.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/ids.hpp"
#include "sagaflow/core/saga_types.hpp"
#include "sagaflow/protocol/envelope.hpp"
#include "sagaflow/workflow/workflow.hpp"
#include "saga_store.hpp"

namespace sagaflow::engine {

/// Everything a worker needs to run one step action: its pending item and its saga.
struct Command {
    MsgId msg_id;
    SagaId saga_id;
    TraceId trace_id;
    std::string workflow;
    int workflow_version = 0;
    std::string step;    ///< The step's node id, in both phases.
    int step_index = 0;  ///< The node's number in its workflow version (the workers' key).
    Phase phase = Phase::kForward;
    std::string action;  ///< The step name (forward) or its compensation's name.
    std::string queue;
    int attempt = 1;
    std::optional<BusinessKey> business_key;
    nlohmann::json input;
    nlohmann::json context;
    Timestamp deadline{};  ///< When the engine stops waiting for this attempt.
};

/// The command of pending item `item` of `saga`, a saga of `wf`. Throws `Error(kInternal)`
/// when `wf` has no step with the item's node id (a corrupt row).
[[nodiscard]] Command MakeCommand(const PendingRecord& item, const SagaRecord& saga, const Workflow& wf);

/// "step 'reserve_inventory'" or "compensation 'release_inventory'", for messages.
[[nodiscard]] std::string CommandLabel(const PendingRecord& item);

/// The command as it goes on the wire (kind command, with its W3C trace context): the one
/// mapping, for sagad's worker link and the test kit's in-process worker.
[[nodiscard]] protocol::Envelope ToEnvelope(const Command& c);

/// A worker's answer to a command.
struct Reply {
    MsgId msg_id;
    ReplyOutcome outcome = ReplyOutcome::kOk;
    nlohmann::json output = nlohmann::json::object();  ///< With kOk.
    std::string reason;                                ///< With kFail and kRetry.
    /// The saga the worker names. When set, a reply whose command belongs to another saga
    /// is refused as forged (kInvalidArgument, nothing written).
    std::optional<SagaId> saga_id;
    /// From a registered worker that this command is no longer in flight to (it was
    /// resent elsewhere, or sagad restarted since): recorded as ignored, never applied.
    /// The command's own delivery answers it, from that worker's inbox.
    bool late = false;
    /// Who answered, for the attempt's history: the worker's id, and its CURVE key's
    /// fingerprint (empty without CURVE).
    std::string worker;
    std::string key;
};

}  // namespace sagaflow::engine
