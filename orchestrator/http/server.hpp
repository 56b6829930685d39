// An HTTP/1.1 server on Boost.Beast for sagad's API, metrics, health and web view.
//
// Sockets are served asynchronously by `io_threads`, so an idle or slow client costs a
// socket and a timer, never a thread; handlers run on a bounded pool of
// `handler_threads` (they may wait on the engine or the database). Every limit answers
// with a JSON error and never grows memory without bound:
//   - more than `max_connections` open: the new one gets 429 and is closed;
//   - more than `max_queued` requests waiting for a handler: 429;
//   - a body over `max_body`: 413; headers over `max_header`: 431; not HTTP: 400;
//   - a request that has begun but not fully arrived within `read_timeout`: 408
//     (a kept-alive connection that sends nothing for that long is closed quietly).
// With `tls_cert` and `tls_key` it speaks only HTTPS (TLS 1.2 or later): plain HTTP on that
// port gets a plain 400 saying so, and a handshake that fails or does not finish within
// `read_timeout` closes the connection; both are counted as `tls_refused`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http/message.hpp"

namespace sagaflow::http {

using Handler = std::function<Response(const Request&)>;

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8080;  ///< 0: a free port, read back from `Bind()`
    int io_threads = 1;
    int handler_threads = 4;
    std::size_t max_connections = 1024;
    std::size_t max_queued = 512;
    std::size_t max_body = 1 << 20;
    std::size_t max_header = 16 << 10;
    std::chrono::milliseconds read_timeout{10000};
    std::chrono::milliseconds write_timeout{10000};
    std::string tls_cert;  ///< PEM certificate chain; with tls_key, HTTPS only
    std::string tls_key;   ///< PEM private key of tls_cert
};

/// What the server refused or cut, for /metrics.
struct ServerCounters {
    std::uint64_t requests = 0;             ///< Handed to the handler.
    std::uint64_t connections = 0;          ///< Accepted and served.
    std::uint64_t open_connections = 0;     ///< Now.
    std::uint64_t refused_connections = 0;  ///< Over max_connections.
    std::uint64_t queue_full = 0;           ///< Over max_queued.
    std::uint64_t timeouts = 0;             ///< 408s.
    std::uint64_t malformed = 0;            ///< 400, 413 and 431 before any handler.
    std::uint64_t tls_refused = 0;          ///< Plain HTTP on the TLS port, failed handshakes.
};

/// Thread-safe: `counters()` from any thread; Bind, Start and Stop from one.
class Server {
public:
    Server(Handler handler, ServerOptions options);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Binds and listens (once); returns "host:port" as bound. Throws Error(kUnavailable)
    /// when the address is taken, Error(kInvalidArgument) for a bad host or a certificate
    /// or key that does not load.
    std::string Bind();
    /// Starts serving (binding first if needed); returns "host:port".
    std::string Start();
    /// Stops accepting, drops queued requests, waits for running handlers. Idempotent.
    void Stop();

    [[nodiscard]] ServerCounters counters() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sagaflow::http
