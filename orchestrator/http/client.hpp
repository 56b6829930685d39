// A blocking HTTP/1.1 client connection with keep-alive and a bound on every wait: the
// transport under `sagaflow::client::Client`.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "http/message.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::http {

/// "http://host[:port][/path]" or "https://...".
struct Url {
    std::string host;
    std::uint16_t port = 80;  ///< 443 for https without a port
    std::string path = "/";   ///< Starts with '/'.
    bool tls = false;         ///< https
};

/// kInvalidArgument naming what is wrong.
[[nodiscard]] Result<Url> ParseUrl(std::string_view text);

/// One connection, reopened when the server closed it. Not thread-safe.
class ClientConnection {
public:
    /// For https, the server's certificate must chain to `ca_file` (PEM), or to the
    /// system's trust store when it is empty, and name the URL's host.
    ClientConnection(Url url, std::chrono::milliseconds timeout, std::string ca_file = {});
    ~ClientConnection();
    ClientConnection(const ClientConnection&) = delete;
    ClientConnection& operator=(const ClientConnection&) = delete;

    /// Sends one request and reads the answer. Throws Error(kUnavailable) when the server
    /// cannot be reached, drops the connection or fails the TLS handshake (an untrusted
    /// certificate, say), Error(kDeadlineExceeded) when a connect, handshake,
    /// write or read takes longer than the timeout. When a kept-alive connection turns out
    /// closed (a server closes idle ones) and nothing of an answer came, the request is sent
    /// once more on a new connection, as browsers do; give starts a business key so that
    /// even a server that died mid-request cannot start a saga twice.
    Response Send(std::string_view method, const std::string& target, const std::string& body = "",
                  std::string_view content_type = "application/json");
    /// Sends `Authorization: Bearer <token>` with every request from now on (empty: none).
    void SetBearer(std::string token);
    /// The bound on connecting, writing and reading from now on (a long poll needs more).
    void SetTimeout(std::chrono::milliseconds timeout);
    [[nodiscard]] std::chrono::milliseconds timeout() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sagaflow::http
