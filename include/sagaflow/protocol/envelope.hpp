// Envelope v1: every message between sagad and workers. JSON today; a binary encoding
// may come later behind the same type. Decoding happens only in `DecodeEnvelope`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
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
    kRefused,    ///< sagad -> worker: your hello is refused, and `reason` says why
};

[[nodiscard]] std::string_view ToString(Kind k) noexcept;

struct Envelope {
    int version = kEnvelopeVersion;
    Kind kind = Kind::kHeartbeat;

    // hello, heartbeat
    std::string worker_id;
    std::vector<std::string> queues;
    /// The actions served per queue, for a worker that registers them one by one
    /// (Worker::Handle). A queue absent here is served whole. Optional on the wire.
    std::map<std::string, std::vector<std::string>> actions;
    int capacity = 0;
    int in_flight = 0;

    // command, reply, ack (ack carries msg_id only)
    std::string msg_id;
    std::string saga_id;
    std::string trace_id;
    /// W3C trace context of the command ("00-<trace>-<span>-01"): the saga's trace id and a
    /// span per command. Empty when the sender sent none (an older sagad, or a reply).
    std::string traceparent;
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
    std::string reason;     ///< with fail and retry; refused: why
};

/// The W3C `traceparent` for a span `span_id` (a UUID: its last 16 hex digits) in the
/// trace `trace_id` (a UUID: its 32 hex digits), sampled. Empty when either is no UUID.
[[nodiscard]] std::string MakeTraceParent(std::string_view trace_id, std::string_view span_id);

/// True for a well-formed version-00 `traceparent` (lower-case hex, ids not all zero).
[[nodiscard]] bool IsTraceParent(std::string_view text) noexcept;

/// The trace id of a `traceparent` as a UUID (8-4-4-4-12); nullopt when it is malformed.
[[nodiscard]] std::optional<std::string> TraceIdOf(std::string_view traceparent);

/// Serialises an envelope. Never fails.
[[nodiscard]] std::string EncodeEnvelope(const Envelope& e);

/// Parses one frame. Errors: kInvalidArgument (not JSON, missing or mistyped fields, too
/// large for `max_bytes`), kFailedPrecondition (a version this build does not speak).
/// Never throws.
[[nodiscard]] Result<Envelope> DecodeEnvelope(std::string_view frame,
                                              std::size_t max_bytes = kDefaultMaxFrameBytes);

}  // namespace sagaflow::protocol
