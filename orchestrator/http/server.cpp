#include "http/server.hpp"

#include <fcntl.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detect_ssl.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "runtime/loop_guard.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

// Lower-case header names, as Request promises.
std::string Lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// What a session needs of its server.
struct State {
    State(Handler h, ServerOptions o)
        : handler(std::move(h)), options(std::move(o)), pool(static_cast<std::size_t>(std::max(1, options.handler_threads))) {}

    Handler handler;
    ServerOptions options;
    std::atomic<std::uint64_t> requests{0}, connections{0}, open{0}, refused{0}, queue_full{0}, timeouts{0}, malformed{0},
        tls_refused{0};
    std::atomic<std::size_t> queued{0};
    net::io_context ioc;
    net::thread_pool pool;
    std::optional<ssl::context> tls;  // set by Bind() when the options name a certificate
};

// A whole answer as bytes, for the two that are written before (or instead of) HTTP
// parsing: too many connections, and plain HTTP on the TLS port.
std::string RawAnswer(const Response& r, std::string_view status_line) {
    return "HTTP/1.1 " + std::string(status_line) + "\r\nContent-Type: " + r.content_type +
           "\r\nConnection: close\r\nContent-Length: " + std::to_string(r.body.size()) + "\r\n\r\n" + r.body;
}

// TLS 1.2 or later, from the PEM files; kInvalidArgument naming the file that did not load.
ssl::context TlsContext(const ServerOptions& o) {
    ssl::context ctx(ssl::context::tls_server);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
    beast::error_code ec;
    ctx.use_certificate_chain_file(o.tls_cert, ec);
    if (ec) throw Error(ErrorCode::kInvalidArgument, "cannot load the TLS certificate " + o.tls_cert + ": " + ec.message());
    ctx.use_private_key_file(o.tls_key, ssl::context::pem, ec);  // also checks it is the certificate's
    if (ec) {
        throw Error(ErrorCode::kInvalidArgument,
                    "cannot load the TLS key " + o.tls_key + " of " + o.tls_cert + ": " + ec.message());
    }
    return ctx;
}

}  // namespace

struct Server::Impl : State {
    using State::State;

    tcp::acceptor acceptor{ioc};
    net::steady_timer accept_pause{ioc};
    std::vector<std::thread> threads;
    std::string bound;
    bool stopped = false;

    void Accept();
    void RefuseOverCapacity(tcp::socket socket);
};

namespace {

// One connection. `Stream` is beast::tcp_stream (HTTP) or TlsStream (HTTPS); everything
// below the TLS layer goes through Tcp().
template <class Stream>
class Session : public std::enable_shared_from_this<Session<Stream>> {
    static constexpr bool kTls = std::is_same_v<Stream, TlsStream>;

public:
    Session(tcp::socket socket, State& server)
        : stream_(MakeStream(std::move(socket), server)), server_(server), read_deadline_(stream_.get_executor()) {
        ++server_.open;
        beast::error_code ec;
        const auto peer = Tcp().socket().remote_endpoint(ec);
        if (!ec) {
            const std::string address = peer.address().to_string();
            remote_ = (peer.address().is_v6() ? "[" + address + "]" : address) + ":" + std::to_string(peer.port());
        }
    }
    ~Session() { --server_.open; }

    void Start() {
        if constexpr (kTls) {
            // TLS starts with a handshake record; anything else is someone speaking plain
            // HTTP (or not HTTP) to the HTTPS port, who hears so in plain text.
            Tcp().expires_after(server_.options.read_timeout);
            beast::async_detect_ssl(Tcp(), buffer_, [self = this->shared_from_this()](beast::error_code ec, bool tls) {
                if (ec) return self->Refused();
                if (!tls) return self->RefusePlain();
                self->stream_.async_handshake(ssl::stream_base::server, self->buffer_.data(),
                                              [self](beast::error_code e, std::size_t used) {
                                                  if (e) return self->Refused();
                                                  self->buffer_.consume(used);
                                                  self->handshaken_ = true;
                                                  self->Read();
                                              });
            });
        } else {
            Read();
        }
    }

private:
    static Stream MakeStream(tcp::socket socket, State& server) {
        if constexpr (kTls) {
            return Stream(beast::tcp_stream(std::move(socket)), *server.tls);
        } else {
            (void)server;
            return Stream(std::move(socket));
        }
    }

    beast::tcp_stream& Tcp() { return beast::get_lowest_layer(stream_); }

    void Refused() {
        ++server_.tls_refused;
        CloseSocket();
    }

    void RefusePlain() {
        ++server_.tls_refused;
        static const std::string kAnswer = RawAnswer(
            JsonError(ErrorCode::kInvalidArgument, "this port speaks HTTPS only: use https://", 400), "400 Bad Request");
        Tcp().expires_after(server_.options.write_timeout);
        net::async_write(Tcp(), net::buffer(kAnswer),
                         [self = this->shared_from_this()](beast::error_code, std::size_t) { self->CloseSocket(); });
    }

    void Read() {
        parser_.emplace();
        parser_->body_limit(server_.options.max_body);
        parser_->header_limit(static_cast<std::uint32_t>(server_.options.max_header));
        // Our own deadline, not the stream's: its timeout closes the socket, and a slow
        // client is owed a 408 first.
        Tcp().expires_never();
        timed_out_ = false;
        read_deadline_.expires_after(server_.options.read_timeout);
        read_deadline_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
            if (ec) return;  // cancelled: the request arrived
            self->timed_out_ = true;
            beast::error_code ignored;
            self->Tcp().socket().cancel(ignored);
        });
        bhttp::async_read(stream_, buffer_, *parser_,
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t) { self->OnRead(ec); });
    }

    void OnRead(beast::error_code ec) {
        read_deadline_.cancel();
        if (ec && timed_out_) {  // a request that completed as the timer fired is served
            // A kept-alive connection that said nothing is simply closed; one that began a
            // request and did not finish it (a slow-loris) hears why.
            // (Bytes of an unfinished header wait in the buffer, not yet in the parser.)
            if (!parser_->got_some() && buffer_.size() == 0) return Close();
            ++server_.timeouts;
            return Reply(JsonError(ErrorCode::kDeadlineExceeded, "the request did not arrive in time", 408), false);
        }
        if (ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
            ec == net::error::operation_aborted || ec == ssl::error::stream_truncated) {
            return Close();
        }
        if (ec.category() == net::error::get_ssl_category()) {  // the TLS layer broke: nothing to answer on
            ++server_.tls_refused;
            return CloseSocket();
        }
        if (ec) {
            ++server_.malformed;
            if (ec == bhttp::error::body_limit) {
                return Reply(JsonError(ErrorCode::kInvalidArgument,
                                       "the body is over " + std::to_string(server_.options.max_body) + " bytes", 413),
                             false);
            }
            if (ec == bhttp::error::header_limit) {
                return Reply(JsonError(ErrorCode::kInvalidArgument, "the request's headers are too large", 431), false);
            }
            return Reply(JsonError(ErrorCode::kInvalidArgument, "malformed HTTP request: " + ec.message(), 400), false);
        }
        auto msg = parser_->release();
        Request req;
        req.method = std::string(msg.method_string());
        if (!ParseTarget(std::string_view(msg.target().data(), msg.target().size()), req.path, req.query)) {
            ++server_.malformed;
            return Reply(JsonError(ErrorCode::kInvalidArgument, "malformed request target"), false);
        }
        for (const auto& field : msg) {
            req.headers[Lower(std::string_view(field.name_string().data(), field.name_string().size()))] =
                std::string(field.value());
        }
        req.body = std::move(msg.body());
        req.remote = remote_;
        const bool keep_alive = msg.keep_alive();
        if (server_.queued.fetch_add(1) >= server_.options.max_queued) {
            --server_.queued;
            ++server_.queue_full;
            return Reply(JsonError(ErrorCode::kResourceExhausted, "sagad is busy: too many requests queued; retry later"),
                         false);
        }
        ++server_.requests;
        net::post(server_.pool, [self = this->shared_from_this(), req = std::move(req), keep_alive]() mutable {
            Response r;
            try {
                r = self->server_.handler(req);
            } catch (const std::exception& e) {
                r = JsonError(ErrorCode::kInternal, e.what());
            }
            --self->server_.queued;
            auto answer = [self, keep_alive](Response later) {
                net::post(self->stream_.get_executor(), [self, later = std::move(later), keep_alive]() mutable {
                    self->Reply(std::move(later), keep_alive);
                });
            };
            if (r.deferred) {  // answered later, from another thread; this one is free now
                auto deferred = std::move(r.deferred);
                try {
                    deferred(std::move(answer));
                } catch (const std::exception& e) {
                    answer(JsonError(ErrorCode::kInternal, e.what()));
                }
                return;
            }
            answer(std::move(r));
        });
    }

    void Reply(Response r, bool keep_alive) {
        auto res = std::make_shared<bhttp::response<bhttp::string_body>>(static_cast<bhttp::status>(r.status), 11);
        res->set(bhttp::field::server, "sagad");
        res->set(bhttp::field::content_type, r.content_type);
        res->set(bhttp::field::cache_control, "no-store");
        res->set("X-Content-Type-Options", "nosniff");
        for (const auto& [name, value] : r.headers) res->set(name, value);
        res->body() = std::move(r.body);
        res->keep_alive(keep_alive);
        res->prepare_payload();
        Tcp().expires_after(server_.options.write_timeout);
        bhttp::async_write(stream_, *res, [self = this->shared_from_this(), res](beast::error_code ec, std::size_t) {
            if (ec || !res->keep_alive()) return self->Close();
            self->Read();
        });
    }

    // An orderly end: TLS says close_notify first (bounded by the write timeout).
    void Close() {
        if constexpr (kTls) {
            if (handshaken_) {
                handshaken_ = false;
                Tcp().expires_after(server_.options.write_timeout);
                stream_.async_shutdown([self = this->shared_from_this()](beast::error_code) { self->CloseSocket(); });
                return;
            }
        }
        CloseSocket();
    }

    void CloseSocket() {
        beast::error_code ignored;
        Tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
        Tcp().socket().close(ignored);
    }

    Stream stream_;
    State& server_;
    beast::flat_buffer buffer_;
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    net::steady_timer read_deadline_;
    bool timed_out_ = false;
    bool handshaken_ = false;
    std::string remote_;
};

}  // namespace

void Server::Impl::Accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
        if (ec) {
            // Out of descriptors (EMFILE) or a connection gone before accept: pause, go on.
            accept_pause.expires_after(std::chrono::milliseconds(50));
            accept_pause.async_wait([this](beast::error_code) { Accept(); });
            return;
        }
        if (open.load() >= options.max_connections) {
            RefuseOverCapacity(std::move(socket));
        } else {
            ++connections;
            (void)::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
            if (tls) {
                std::make_shared<Session<TlsStream>>(std::move(socket), *this)->Start();
            } else {
                std::make_shared<Session<beast::tcp_stream>>(std::move(socket), *this)->Start();
            }
        }
        Accept();
    });
}

void Server::Impl::RefuseOverCapacity(tcp::socket socket) {
    ++refused;
    // One non-blocking write of a short answer: a client that does not read it loses it,
    // and this thread never waits on it.
    static const std::string kAnswer = RawAnswer(
        JsonError(ErrorCode::kResourceExhausted, "too many connections; retry later"), "429 Too Many Requests");
    beast::error_code ec;
    socket.non_blocking(true, ec);
    if (!ec) (void)socket.write_some(net::buffer(kAnswer), ec);
    socket.shutdown(tcp::socket::shutdown_both, ec);
    socket.close(ec);
}

Server::Server(Handler handler, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(handler), std::move(options))) {}

Server::~Server() { Stop(); }

std::string Server::Bind() {
    if (impl_->acceptor.is_open()) return impl_->bound;
    if (!impl_->options.tls_cert.empty() && !impl_->tls) impl_->tls.emplace(TlsContext(impl_->options));
    const std::string& host = impl_->options.host;
    beast::error_code ec;
    const auto address = net::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
    if (ec) throw Error(ErrorCode::kInvalidArgument, "'" + host + "' is not an IP address to listen on");
    const tcp::endpoint at(address, impl_->options.port);
    auto& a = impl_->acceptor;
    a.open(at.protocol(), ec);
    // Not inherited by a child (the embedded PostgreSQL outlives a killed sagad, and would
    // keep the port).
    if (!ec) (void)::fcntl(a.native_handle(), F_SETFD, FD_CLOEXEC);
    if (!ec) a.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) a.bind(at, ec);
    if (!ec) a.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
        beast::error_code ignored;
        a.close(ignored);
        throw Error(ErrorCode::kUnavailable, "cannot listen for HTTP on " + host + ":" +
                                                 std::to_string(impl_->options.port) + ": " + ec.message());
    }
    const auto local = a.local_endpoint();
    impl_->bound = local.address().to_string() + ":" + std::to_string(local.port());
    return impl_->bound;
}

std::string Server::Start() {
    const std::string bound = Bind();
    if (!impl_->threads.empty()) return bound;
    impl_->Accept();
    for (int i = 0; i < std::max(1, impl_->options.io_threads); ++i) {
        impl_->threads.emplace_back([this] {
            // Whatever escapes a completion handler is counted and logged; the loop goes on.
            runtime::LoopGuard guard("http");
            for (;;) {
                try {
                    impl_->ioc.run();
                    return;
                } catch (const std::exception& e) {
                    std::this_thread::sleep_for(guard.Failed(e));  // backoff, not synchronisation
                }
            }
        });
    }
    return bound;
}

void Server::Stop() {
    if (impl_->stopped) return;
    impl_->stopped = true;
    net::post(impl_->ioc, [this] {
        beast::error_code ignored;
        impl_->acceptor.close(ignored);
        impl_->accept_pause.cancel();
    });
    impl_->ioc.stop();
    for (auto& t : impl_->threads) t.join();
    impl_->threads.clear();
    impl_->pool.stop();
    impl_->pool.join();
}

ServerCounters Server::counters() const {
    return {impl_->requests.load(), impl_->connections.load(), impl_->open.load(), impl_->refused.load(),
            impl_->queue_full.load(), impl_->timeouts.load(), impl_->malformed.load(), impl_->tls_refused.load()};
}

}  // namespace sagaflow::http
