#include "curve.hpp"

#include <cstring>
#include <vector>

#include "sagaflow/core/error.hpp"
#include "zmq_impl.hpp"

namespace sagaflow::transport {

CurveKeyPair NewCurveKeyPair() {
    char pub[kCurveKeyChars + 1] = {};
    char sec[kCurveKeyChars + 1] = {};
    if (zmq_curve_keypair(pub, sec) != 0) {
        throw Error(ErrorCode::kInternal, "this libzmq cannot make CURVE keys (built without libsodium?)");
    }
    return {pub, sec};
}

std::optional<std::string> CurveKeyBytes(const std::string& z85) {
    if (z85.size() != kCurveKeyChars) return std::nullopt;
    std::uint8_t bytes[32];
    if (zmq_z85_decode(bytes, z85.c_str()) == nullptr) return std::nullopt;
    return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

std::string CurveKeyText(const std::string& bytes) {
    if (bytes.size() != 32) return {};
    char text[kCurveKeyChars + 1] = {};
    (void)zmq_z85_encode(text, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
    return text;
}

std::optional<std::string> CurvePublicOf(const std::string& secret) {
    if (!CurveKeyBytes(secret)) return std::nullopt;
    char pub[kCurveKeyChars + 1] = {};
    if (zmq_curve_public(pub, secret.c_str()) != 0) return std::nullopt;
    return std::string(pub);
}

struct Gatekeeper::Impl {
    Impl(zmq::context_t& ctx) : zap(ctx, zmq::socket_type::rep), monitor(ctx, zmq::socket_type::pair) {}
    zmq::socket_t zap;
    zmq::socket_t monitor;
    std::function<ZapVerdict(const ZapRequest&)> decide;
    std::function<void(HandshakeFailure, const std::string&)> on_failure;
};

namespace {

std::vector<zmq::message_t> ReceiveAll(zmq::socket_t& s) {
    std::vector<zmq::message_t> parts;
    while (true) {
        zmq::message_t m;
        if (!s.recv(m, zmq::recv_flags::dontwait)) break;
        const bool more = m.more();
        parts.push_back(std::move(m));
        if (!more) break;
    }
    return parts;
}

}  // namespace

Gatekeeper::Gatekeeper(Context& ctx, Socket& watched, std::function<ZapVerdict(const ZapRequest&)> decide,
                       std::function<void(HandshakeFailure, const std::string&)> on_failure)
    : impl_(std::make_unique<Impl>(ctx.impl_->ctx)) {
    impl_->decide = std::move(decide);
    impl_->on_failure = std::move(on_failure);
    const std::string monitor = "inproc://sagaflow-monitor-" + std::to_string(reinterpret_cast<std::uintptr_t>(this));
    try {
        impl_->zap.set(zmq::sockopt::linger, 0);
        impl_->zap.bind("inproc://zeromq.zap.01");  // libzmq's fixed ZAP address
        if (zmq_socket_monitor(watched.impl_->sock.handle(), monitor.c_str(),
                               ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                                   ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0) {
            throw zmq::error_t();
        }
        impl_->monitor.set(zmq::sockopt::linger, 0);
        impl_->monitor.connect(monitor);
    } catch (const zmq::error_t& e) {
        Rethrow(e, "cannot start the CURVE gatekeeper");
    }
    thread_ = std::thread([this] { Loop(); });
}

Gatekeeper::~Gatekeeper() {
    stop_ = true;
    thread_.join();
}

void Gatekeeper::Loop() {
    std::vector<zmq::pollitem_t> items{{impl_->zap.handle(), 0, ZMQ_POLLIN, 0},
                                       {impl_->monitor.handle(), 0, ZMQ_POLLIN, 0}};
    while (!stop_) {
        try {
            zmq::poll(items, std::chrono::milliseconds(100));  // the stop flag's latency
            if (items[0].revents & ZMQ_POLLIN) {
                auto req = ReceiveAll(impl_->zap);
                // version, request id, domain, address, routing id, mechanism, credentials...
                ZapVerdict v;
                if (req.size() < 6 || req[0].to_string_view() != "1.0") {
                    v.reason = "malformed ZAP request";
                } else {
                    ZapRequest r;
                    r.address = req[3].to_string();
                    r.mechanism = req[5].to_string();
                    if (r.mechanism == "CURVE" && req.size() >= 7) r.public_key = CurveKeyText(req[6].to_string());
                    v = impl_->decide(r);
                }
                const std::string id = req.size() > 1 ? req[1].to_string() : "";
                const std::vector<std::string> reply{"1.0", id, v.allow ? "200" : "400",
                                                     v.allow ? "OK" : v.reason, v.allow ? v.user_id : "", ""};
                for (std::size_t i = 0; i < reply.size(); ++i) {
                    (void)impl_->zap.send(zmq::buffer(reply[i]),
                                          i + 1 < reply.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
                }
            }
            if (items[1].revents & ZMQ_POLLIN) {
                auto ev = ReceiveAll(impl_->monitor);
                if (ev.size() < 2 || ev[0].size() < 6) continue;
                std::uint16_t event = 0;
                std::memcpy(&event, ev[0].data(), sizeof event);
                const std::string endpoint = ev[1].to_string();
                switch (event) {
                    case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: ++handshakes_; break;
                    case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL: impl_->on_failure(HandshakeFailure::kProtocol, endpoint); break;
                    case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: impl_->on_failure(HandshakeFailure::kAuth, endpoint); break;
                    default: impl_->on_failure(HandshakeFailure::kOther, endpoint); break;
                }
            }
        } catch (const zmq::error_t& e) {
            if (e.num() == ETERM) return;  // the context is closing
        }
    }
}

}  // namespace sagaflow::transport
