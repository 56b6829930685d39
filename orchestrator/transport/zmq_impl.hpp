// The libzmq objects behind Context and Socket, shared by the transport's own files.
#pragma once

#include <zmq.hpp>

#include "socket.hpp"

namespace sagaflow::transport {

struct Context::Impl {
    zmq::context_t ctx;
};

struct Socket::Impl {
    Impl(zmq::context_t& ctx, zmq::socket_type type) : sock(ctx, type) {}
    zmq::socket_t sock;
    SocketKind kind;
    bool curve = false;  // a CURVE server: messages carry the peer's user id
};

/// The one translation of zmq errno into our vocabulary: throws `Error`.
[[noreturn]] void Rethrow(const zmq::error_t& e, const std::string& what);

}  // namespace sagaflow::transport
