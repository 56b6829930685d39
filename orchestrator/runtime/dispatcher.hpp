// The dispatcher: the engine's CommandSink over the ZeroMQ ROUTER. It knows the live
// workers (hello, heartbeats), sends each command to the least-loaded live worker that
// serves its queue and has free capacity, and turns incoming frames into replies.
// Frames that are not well-formed envelopes are counted and dropped, never fatal.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "command.hpp"
#include "sagaflow/core/clock.hpp"
#include "sagaflow/protocol/envelope.hpp"
#include "socket.hpp"

namespace sagaflow::runtime {

struct DispatcherOptions {
    Duration heartbeat_timeout = std::chrono::seconds(5);  ///< Silent longer: gone.
    /// Also the ROUTER's ZMQ_MAXMSGSIZE: libzmq drops a peer that sends more, before
    /// allocating it.
    std::size_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
};

/// What the dispatcher counted. Monotonic.
struct DispatchCounters {
    std::uint64_t commands_sent = 0;
    std::uint64_t replies_received = 0;
    std::uint64_t malformed_frames = 0;   ///< not a well-formed envelope (or wrong frame count)
    std::uint64_t bad_version = 0;        ///< an envelope version we do not speak
    std::uint64_t unexpected_kind = 0;    ///< e.g. a command sent to sagad
    std::uint64_t unknown_queue_claims = 0;
    std::uint64_t unknown_msg_replies = 0;
    std::uint64_t ignored_replies = 0;    ///< duplicate or late
    std::uint64_t forged_replies = 0;     ///< from a peer that never said hello, or naming another saga
    std::uint64_t workers_gone = 0;
};

struct WorkerInfo {
    std::string id;
    std::vector<std::string> queues;
    int capacity = 0;
    int in_flight = 0;
    Timestamp last_seen{};
};

/// A reply as it came off the wire, with who sent it (for the ack). Only registered
/// workers' replies get this far; `reply.late` says it is not from the peer the command
/// was last sent to.
struct IncomingReply {
    std::string peer;
    engine::Reply reply;
};

class Dispatcher final : public engine::CommandSink {
public:
    /// `known_queues`: the queues the registered workflows use; claims of others are counted.
    Dispatcher(transport::Socket& router, std::set<std::string> known_queues, const Clock& clock,
               DispatcherOptions options = {});

    bool Send(const engine::Command& command) override;

    /// Handles one received message: hellos and heartbeats here; a reply is returned.
    std::optional<IncomingReply> OnMessage(const transport::Received& message);
    /// Tells the worker its reply is applied (or will never be), so it stops resending.
    void Ack(const IncomingReply& reply, ErrorCode applied);
    /// Forgets workers silent past the heartbeat timeout. Their commands in flight are
    /// resent elsewhere when their deadlines pass.
    void ExpireSilentWorkers();

    /// True once since capacity was last freed (a reply, a new or re-announced worker).
    [[nodiscard]] bool TakeCapacityFreed() { return std::exchange(capacity_freed_, false); }
    [[nodiscard]] const DispatchCounters& counters() const { return counters_; }
    [[nodiscard]] std::vector<WorkerInfo> Workers() const;

private:
    void Register(const std::string& peer, const protocol::Envelope& e);
    void Forged(const std::string& peer, const std::string& why);
    void RememberGone(const std::string& peer);

    static constexpr std::size_t kMaxGoneRemembered = 1024;

    transport::Socket& router_;
    std::set<std::string> known_queues_;
    const Clock& clock_;
    DispatcherOptions options_;
    DispatchCounters counters_;
    std::map<std::string, WorkerInfo> workers_;               // by routing id
    std::unordered_map<std::string, std::string> in_flight_;  // msg id -> routing id
    bool capacity_freed_ = false;
    std::set<std::string> forgers_logged_;  // each forging peer is logged once (bounded below)
    std::set<std::string> gone_;            // registered workers given up on: late, not forged
};

}  // namespace sagaflow::runtime
