// Envelope v1: every message between sagad and workers. JSON today; a binary encoding
// may come later behind the same type. Decoding happens only in `DecodeEnvelope`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sagaflow/core/error.hpp"
#include "sagaflow/core/saga_types.hpp"

namespace sagaflow::protocol {

inline constexpr int kEnvelopeVersion = 1;
inline constexpr std::size_t kDefaultMaxFrameBytes = 1 << 20;  // 1 MiB

enum class Kind {
    kHello,      ///< worker -> sagad: id, queues, capacity
    kHeartbeat,  ///< worker -> sagad: id, queues, capacity, in flight
    kCommand,    ///< sagad -> worker: run a step action
    kReply,      ///< worker -> sagad: the outcome of a command
    kAck,        ///< sagad -> worker: the reply is applied; stop resending it
};

[[nodiscard]] std::string_view ToString(Kind k) noexcept;

struct Envelope {
    int version = kEnvelopeVersion;
    Kind kind = Kind::kHeartbeat;

    // hello, heartbeat
    std::string worker_id;
    std::vector<std::string> queues;
    int capacity = 0;
    int in_flight = 0;

    // command, reply, ack (ack carries msg_id only)
    std::string msg_id;
    std::string saga_id;
    std::string trace_id;
    std::string workflow;
    int workflow_version = 0;
    std::string step;
    int step_index = 0;
    std::string action;
    std::string queue;
    Phase phase = Phase::kForward;
    int attempt = 0;
    std::optional<std::string> business_key;
    std::int64_t deadline_us = 0;  ///< Microseconds since the epoch.
    nlohmann::json payload;        ///< command: {"input": ..., "context": ...}

    // reply
    ReplyOutcome outcome = ReplyOutcome::kOk;
    nlohmann::json output;  ///< with ok
    std::string reason;     ///< with fail and retry
};

/// Serialises an envelope. Never fails.
[[nodiscard]] std::string EncodeEnvelope(const Envelope& e);

/// Parses one frame. Errors: kInvalidArgument (not JSON, missing or mistyped fields, too
/// large for `max_bytes`), kFailedPrecondition (a version this build does not speak).
/// Never throws.
[[nodiscard]] Result<Envelope> DecodeEnvelope(std::string_view frame,
                                              std::size_t max_bytes = kDefaultMaxFrameBytes);

}  // namespace sagaflow::protocol
