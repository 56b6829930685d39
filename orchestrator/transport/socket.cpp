#include "socket.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <zmq.hpp>

#include "sagaflow/core/error.hpp"
#include "zmq_impl.hpp"

namespace sagaflow::transport {

Context::Context() : impl_(std::make_unique<Impl>()) {}
Context::~Context() = default;

namespace {

zmq::socket_type TypeOf(SocketKind k) {
    switch (k) {
        case SocketKind::kRouter: return zmq::socket_type::router;
        case SocketKind::kDealer: return zmq::socket_type::dealer;
        case SocketKind::kPull: return zmq::socket_type::pull;
        case SocketKind::kPush: return zmq::socket_type::push;
        case SocketKind::kReq: return zmq::socket_type::req;
        case SocketKind::kRep: return zmq::socket_type::rep;
    }
    return zmq::socket_type::dealer;
}

}  // namespace

// The one translation of zmq errno into our vocabulary.
[[noreturn]] void Rethrow(const zmq::error_t& e, const std::string& what) {
    const ErrorCode code = (e.num() == EADDRINUSE || e.num() == EAGAIN) ? ErrorCode::kUnavailable
                           : (e.num() == ETERM)                         ? ErrorCode::kUnavailable
                                                                        : ErrorCode::kInvalidArgument;
    throw Error(code, what + ": " + e.what());
}

namespace {

// True when something accepts connections on the Unix socket at `path`.
bool IpcListening(const std::string& path) {
    sockaddr_un addr{};
    if (path.empty() || path.size() >= sizeof addr.sun_path || path[0] == '@') return false;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, path.c_str(), path.size());
    const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    const bool listening = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
    close(fd);
    return listening;
}

}  // namespace

Socket::Socket(Context& ctx, SocketKind kind, const SocketOptions& o)
    : impl_(std::make_unique<Impl>(ctx.impl_->ctx, TypeOf(kind))) {
    impl_->kind = kind;
    auto& s = impl_->sock;
    s.set(zmq::sockopt::linger, o.linger_ms);
    s.set(zmq::sockopt::maxmsgsize, o.max_message_bytes);
    s.set(zmq::sockopt::sndhwm, o.send_high_water);
    if (kind == SocketKind::kRouter) s.set(zmq::sockopt::router_mandatory, 1);
    if (!o.routing_id.empty()) s.set(zmq::sockopt::routing_id, o.routing_id);
    s.set(zmq::sockopt::reconnect_ivl, o.reconnect_ms);
    s.set(zmq::sockopt::reconnect_ivl_max, o.reconnect_max_ms);
    s.set(zmq::sockopt::handshake_ivl, o.handshake_ms);
    try {
        if (o.curve_server) {
            s.set(zmq::sockopt::curve_server, 1);
            s.set(zmq::sockopt::curve_secretkey, o.curve_server->secret_key);
            s.set(zmq::sockopt::zap_domain, "sagaflow");
            impl_->curve = true;
        } else if (o.curve_client) {
            s.set(zmq::sockopt::curve_serverkey, o.curve_client->server_key);
            s.set(zmq::sockopt::curve_publickey, o.curve_client->public_key);
            s.set(zmq::sockopt::curve_secretkey, o.curve_client->secret_key);
        }
    } catch (const zmq::error_t& e) {
        Rethrow(e, "bad CURVE key");  // not 40 characters of Z85
    }
}

Socket::~Socket() = default;
Socket::Socket(Socket&&) noexcept = default;
Socket& Socket::operator=(Socket&&) noexcept = default;

std::string Socket::Bind(const std::string& endpoint) {
    // libzmq unlinks an ipc path before binding it, so a second process would silently
    // take a live endpoint from the first. A path someone still listens on is taken.
    if (endpoint.rfind("ipc://", 0) == 0 && IpcListening(endpoint.substr(6))) {
        throw Error(ErrorCode::kUnavailable, "cannot bind " + endpoint + ": another process is listening on it");
    }
    try {
        impl_->sock.bind(endpoint);
        return impl_->sock.get(zmq::sockopt::last_endpoint);
    } catch (const zmq::error_t& e) {
        Rethrow(e, "cannot bind " + endpoint);
    }
}

void Socket::Connect(const std::string& endpoint) {
    try {
        impl_->sock.connect(endpoint);
    } catch (const zmq::error_t& e) {
        Rethrow(e, "cannot connect to " + endpoint);
    }
}

bool Socket::Send(const std::string& body, const std::string& peer) { return SendParts({body}, peer); }

bool Socket::SendParts(const std::vector<std::string>& parts, const std::string& peer) {
    try {
        if (impl_->kind == SocketKind::kRouter) {
            if (!impl_->sock.send(zmq::buffer(peer), zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
                return false;
            }
        }
        for (std::size_t i = 0; i < parts.size(); ++i) {
            const auto flags = i + 1 < parts.size() ? zmq::send_flags::sndmore | zmq::send_flags::dontwait
                                                    : zmq::send_flags::dontwait;
            if (!impl_->sock.send(zmq::buffer(parts[i]), flags)) return false;
        }
        return true;
    } catch (const zmq::error_t& e) {
        if (e.num() == EHOSTUNREACH) return false;  // the peer is gone
        Rethrow(e, "send failed");
    }
}

std::optional<Received> Socket::TryReceive() {
    Received r;
    bool first = true;
    try {
        while (true) {
            zmq::message_t part;
            if (!impl_->sock.recv(part, zmq::recv_flags::dontwait)) {
                if (first) return std::nullopt;
                break;  // cannot happen: the parts of a message arrive together
            }
            if (first && impl_->kind == SocketKind::kRouter) {
                r.peer = part.to_string();
            } else {
                if (impl_->curve && r.frames.empty()) {
                    // libzmq stamps each message from a pipe with the ZAP user id.
                    if (const char* user = zmq_msg_gets(part.handle(), "User-Id")) r.user_id = user;
                }
                r.frames.push_back(part.to_string());
            }
            first = false;
            if (!part.more()) break;
        }
    } catch (const zmq::error_t& e) {
        Rethrow(e, "receive failed");
    }
    return r;
}

std::vector<bool> Poll(const std::vector<Socket*>& sockets, std::chrono::milliseconds timeout) {
    std::vector<zmq::pollitem_t> items;
    items.reserve(sockets.size());
    for (Socket* s : sockets) items.push_back({s->impl_->sock.handle(), 0, ZMQ_POLLIN, 0});
    try {
        zmq::poll(items, timeout);
    } catch (const zmq::error_t& e) {
        if (e.num() != EINTR) Rethrow(e, "poll failed");
    }
    std::vector<bool> ready;
    ready.reserve(items.size());
    for (const auto& i : items) ready.push_back((i.revents & ZMQ_POLLIN) != 0);
    return ready;
}

}  // namespace sagaflow::transport
