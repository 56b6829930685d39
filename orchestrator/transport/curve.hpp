// CurveZMQ on our sockets: key pairs, and the gatekeeper that answers libzmq's ZAP
// requests (who may finish a handshake) and watches the handshakes that fail. The keys
// are Z85 text, 40 characters, as libzmq and its tools print them.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace sagaflow::transport {

class Context;
class Socket;

inline constexpr std::size_t kCurveKeyChars = 40;

struct CurveKeyPair {
    std::string public_key;  ///< Z85
    std::string secret_key;  ///< Z85
};

/// A fresh key pair from libzmq (libsodium's randomness).
[[nodiscard]] CurveKeyPair NewCurveKeyPair();
/// The public half of a Z85 secret key; nullopt when `secret` is not one.
[[nodiscard]] std::optional<std::string> CurvePublicOf(const std::string& secret);
/// The 32 bytes a Z85 key spells; nullopt when `z85` is not a key.
[[nodiscard]] std::optional<std::string> CurveKeyBytes(const std::string& z85);
/// The Z85 text of 32 raw key bytes (what ZAP hands over).
[[nodiscard]] std::string CurveKeyText(const std::string& bytes);

/// One ZAP request: a peer finishing a CURVE handshake.
struct ZapRequest {
    std::string address;     ///< the peer's IP address (empty for ipc)
    std::string mechanism;   ///< "CURVE", or "NULL" for a socket without it
    std::string public_key;  ///< Z85; empty unless CURVE
};

struct ZapVerdict {
    bool allow = false;
    std::string user_id;  ///< allowed: every message of the peer carries it (Received::user_id)
    std::string reason;   ///< refused: why (the ZAP status text)
};

/// A handshake that did not complete, as the socket monitor reported it.
enum class HandshakeFailure {
    kProtocol,  ///< not our protocol, or a message it could not decrypt: e.g. a wrong server key
    kAuth,      ///< ZAP refused the key
    kOther,     ///< cut short, timed out or otherwise failed
};

/// Answers ZAP for every CURVE socket of `ctx` and watches `watched`'s handshakes, on a
/// thread of its own. Construct it before `watched` binds; `decide` and `on_failure`
/// run on that thread.
class Gatekeeper {
public:
    Gatekeeper(Context& ctx, Socket& watched, std::function<ZapVerdict(const ZapRequest&)> decide,
               std::function<void(HandshakeFailure, const std::string& endpoint)> on_failure);
    ~Gatekeeper();
    Gatekeeper(const Gatekeeper&) = delete;
    Gatekeeper& operator=(const Gatekeeper&) = delete;

    [[nodiscard]] std::uint64_t handshakes() const { return handshakes_; }  ///< completed

private:
    struct Impl;
    void Loop();
    std::unique_ptr<Impl> impl_;
    std::atomic<bool> stop_{false};
    std::atomic<std::uint64_t> handshakes_{0};
    std::thread thread_;
};

}  // namespace sagaflow::transport
