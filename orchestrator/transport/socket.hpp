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
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

enum class SocketKind { kRouter, kDealer, kPull, kPush, kReq, kRep };

/// One received message. A ROUTER gets the peer's routing id first; everything after it
/// is `frames`. A well-formed message between sagad and a worker has exactly one frame.
struct Received {
    std::string peer;
    std::vector<std::string> frames;
};

struct SocketOptions {
    std::string routing_id;                    ///< DEALER: how the ROUTER knows us.
    std::int64_t max_message_bytes = 16 << 20; ///< Larger messages drop the peer (libzmq).
    int reconnect_ms = 100;                    ///< DEALER reconnect backoff start...
    int reconnect_max_ms = 5000;               ///< ...and cap.
    int send_high_water = 10000;
    int linger_ms = 0;  ///< how long closing waits for queued messages to go out
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
    friend std::vector<bool> Poll(const std::vector<Socket*>&, std::chrono::milliseconds);
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// Waits until one of `sockets` is readable or `timeout` passes; which ones are.
std::vector<bool> Poll(const std::vector<Socket*>& sockets, std::chrono::milliseconds timeout);

}  // namespace sagaflow::transport
