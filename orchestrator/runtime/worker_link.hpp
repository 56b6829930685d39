// The worker link: the engine's ZeroMQ side. It speaks the envelope protocol over the
// ROUTER: hellos and heartbeats tell the engine's `Dispatcher` (the in-flight ledger) who
// serves which queues with what capacity; commands the ledger hands over leave as
// envelopes; replies come back checked against the ledger (only the worker a command was
// last handed to may answer it). Frames that are not well-formed envelopes are counted
// and dropped, never fatal.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "allow_list.hpp"
#include "dispatcher.hpp"
#include "sagaflow/core/clock.hpp"
#include "sagaflow/protocol/envelope.hpp"
#include "socket.hpp"

namespace sagaflow::runtime {

struct LinkOptions {
    Duration heartbeat_timeout = std::chrono::seconds(5);  ///< Silent longer: gone.
    /// Also the ROUTER's ZMQ_MAXMSGSIZE: libzmq drops a peer that sends more, before
    /// allocating it.
    std::size_t max_frame_bytes = protocol::kDefaultMaxFrameBytes;
};

/// What the link counted. Monotonic.
struct LinkCounters {
    std::uint64_t commands_sent = 0;
    std::uint64_t replies_received = 0;
    std::uint64_t malformed_frames = 0;   ///< not a well-formed envelope (or wrong frame count)
    std::uint64_t bad_version = 0;        ///< an envelope version we do not speak
    std::uint64_t unexpected_kind = 0;    ///< e.g. a command sent to sagad
    std::uint64_t unknown_queue_claims = 0;
    std::uint64_t unknown_action_claims = 0;  ///< hellos' actions that no workflow sends
    std::uint64_t unknown_msg_replies = 0;
    std::uint64_t ignored_replies = 0;    ///< duplicate or late
    std::uint64_t forged_replies = 0;     ///< from a peer that never said hello, or naming another saga
    std::uint64_t workers_gone = 0;
    std::uint64_t refused_hellos = 0;     ///< CURVE: a key claiming a queue it may not serve (or off the list)
};

/// Who a worker is, as its CURVE key says (empty without CURVE).
struct WorkerIdentity {
    std::string name;         ///< the allow-list's name for the key
    std::string fingerprint;  ///< `security::Fingerprint` of its key
};

/// A reply as it came off the wire, with who sent it (for the ack). Only registered
/// workers' replies get this far; `reply.late` says it is not from the peer the command
/// was last handed to.
struct IncomingReply {
    std::string peer;
    engine::Reply reply;
};

/// CURVE on the worker port: the allow-list each hello is judged by. Without it (plain
/// transport, loopback only) every hello is taken.
struct LinkSecurity {
    const security::KeyRing* keys = nullptr;
};

class WorkerLink final : public engine::WorkerChannel {
public:
    /// `known_queues`: the queues the registered workflows use; claims of others are counted.
    WorkerLink(transport::Socket& router, std::map<std::string, std::set<std::string>> known_actions, const Clock& clock,
               LinkOptions options = {}, LinkSecurity security = {});

    /// The ledger this link reports to; set once, before the first message.
    void Attach(engine::Dispatcher& ledger) { ledger_ = &ledger; }

    bool Deliver(const std::string& worker, const engine::Command& command) override;

    /// Handles one received message: hellos and heartbeats here; a reply is returned.
    std::optional<IncomingReply> OnMessage(const transport::Received& message);
    /// Tells the worker its reply is applied (or will never be), so it stops resending.
    void Ack(const IncomingReply& reply, ErrorCode applied);
    /// Takes out workers silent past the heartbeat timeout. Their commands in flight are
    /// handed to others when their deadlines pass.
    void ExpireSilentWorkers();

    [[nodiscard]] const LinkCounters& counters() const { return counters_; }
    /// The key a registered worker connected with; nullopt without CURVE or for a stranger.
    [[nodiscard]] std::optional<WorkerIdentity> IdentityOf(const std::string& peer) const;

private:
    void Register(const transport::Received& m, const protocol::Envelope& e);
    /// CURVE: why this hello may not register, or empty when it may.
    std::string Judge(const transport::Received& m, const protocol::Envelope& e);
    void Refuse(const transport::Received& m, const protocol::Envelope& e, const std::string& why);
    void Forged(const std::string& peer, const std::string& why);
    void RememberGone(const std::string& peer);

    static constexpr std::size_t kMaxGoneRemembered = 1024;

    transport::Socket& router_;
    std::map<std::string, std::set<std::string>> known_actions_;  // by queue
    const Clock& clock_;
    LinkOptions options_;
    LinkSecurity security_;
    engine::Dispatcher* ledger_ = nullptr;
    LinkCounters counters_;
    std::set<std::string> forgers_logged_;  // each forging peer is logged once (bounded below)
    std::set<std::string> gone_;            // registered workers given up on: late, not forged
    struct Bound {
        std::string key;  // Z85: the user id its messages carry
        WorkerIdentity identity;
    };
    std::map<std::string, Bound> keys_;     // CURVE: each registered peer's key
    std::set<std::string> refusals_logged_; // each refused peer and reason is logged once (bounded)
};

}  // namespace sagaflow::runtime
