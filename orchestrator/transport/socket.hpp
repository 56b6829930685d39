// ZeroMQ behind a small interface: the only place that includes zmq.hpp. Sockets are
// not thread-safe; one thread owns each socket and its poll loop (STYLE "Messaging").
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sagaflow::transport {

/// One process-wide ZeroMQ context. Thread-safe.
class Context {
public:
    Context();
    ~Context();
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

private:
    friend class Socket;
    friend class Gatekeeper;
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

enum class SocketKind { kRouter, kDealer, kPull, kPush, kReq, kRep };

/// One received message. A ROUTER gets the peer's routing id first; everything after it
/// is `frames`. A well-formed message between sagad and a worker has exactly one frame.
struct Received {
    std::string peer;
    std::vector<std::string> frames;
    /// On a CURVE server: the user id its gatekeeper gave the peer's key at the
    /// handshake (the key itself, in Z85). Empty without CURVE.
    std::string user_id;
};

/// CURVE on a ROUTER that serves: its secret key (Z85). The context's `Gatekeeper`
/// decides which client keys get in.
struct CurveServerKeys {
    std::string secret_key;
};

/// CURVE on a DEALER that connects: the server's public key and our own pair (Z85).
struct CurveClientKeys {
    std::string server_key;
    std::string public_key;
    std::string secret_key;
};

struct SocketOptions {
    std::string routing_id;                    ///< DEALER: how the ROUTER knows us.
    std::int64_t max_message_bytes = 16 << 20; ///< Larger messages drop the peer (libzmq).
    int reconnect_ms = 100;                    ///< DEALER reconnect backoff start...
    int reconnect_max_ms = 5000;               ///< ...and cap.
    int send_high_water = 10000;
    int linger_ms = 0;  ///< how long closing waits for queued messages to go out
    std::optional<CurveServerKeys> curve_server;  ///< set: only CURVE clients, judged by ZAP
    std::optional<CurveClientKeys> curve_client;  ///< set: connect with CURVE
    int handshake_ms = 5000;  ///< a handshake not done by then is dropped (a stalled one, say)
};

class Socket {
public:
    Socket(Context& ctx, SocketKind kind, const SocketOptions& options = {});
    ~Socket();
    Socket(Socket&&) noexcept;
    Socket& operator=(Socket&&) noexcept;

    /// Binds and returns the endpoint actually bound (the port, for tcp://host:*).
    /// Throws `Error(kInvalidArgument)` for a bad endpoint, kUnavailable if taken (an
    /// ipc:// path counts as taken while another process listens on it).
    std::string Bind(const std::string& endpoint);
    void Connect(const std::string& endpoint);

    /// Sends without blocking. For a ROUTER, `peer` names the destination. Returns false
    /// when the peer is unknown or its queue is full (the message is not sent).
    bool Send(const std::string& body, const std::string& peer = {});
    /// Sends one message of several frames (`Send` is the one-frame case). Between
    /// sagad and its peers only tests and the vandal tool send more than one.
    bool SendParts(const std::vector<std::string>& parts, const std::string& peer = {});
    /// Receives one whole message if one is waiting.
    std::optional<Received> TryReceive();

private:
    friend class Gatekeeper;
    friend std::vector<bool> Poll(const std::vector<Socket*>&, std::chrono::milliseconds);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Waits until one of `sockets` is readable or `timeout` passes; which ones are.
std::vector<bool> Poll(const std::vector<Socket*>& sockets, std::chrono::milliseconds timeout);

}  // namespace sagaflow::transport
