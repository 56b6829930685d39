#include "http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <optional>

#include "sagaflow/core/numbers.hpp"

namespace sagaflow::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

bool ClosedByPeer(const beast::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe || ec == ssl::error::stream_truncated;
}

// TLS 1.2 or later, verifying the server against `ca_file` or the system's store.
ssl::context TlsContext(const std::string& ca_file) {
    ssl::context ctx(ssl::context::tls_client);
    ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                    ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    beast::error_code ec;
    if (ca_file.empty()) {
        ctx.set_default_verify_paths(ec);
    } else {
        ctx.load_verify_file(ca_file, ec);
    }
    if (ec) {
        throw Error(ErrorCode::kInvalidArgument,
                    "cannot read the CA certificates " + (ca_file.empty() ? std::string("of this system") : ca_file) +
                        ": " + ec.message());
    }
    return ctx;
}

}  // namespace

Result<Url> ParseUrl(std::string_view text) {
    Url url;
    std::string_view rest;
    if (text.substr(0, 7) == "http://") {
        rest = text.substr(7);
    } else if (text.substr(0, 8) == "https://") {
        rest = text.substr(8);
        url.tls = true;
        url.port = 443;
    } else {
        return Status{ErrorCode::kInvalidArgument, "'" + std::string(text) + "' must start with http:// or https://"};
    }
    if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
        url.path = std::string(rest.substr(slash));
        rest = rest.substr(0, slash);
    }
    if (rest.empty() || url.path.find_first_of(" \r\n") != std::string::npos) {
        return Status{ErrorCode::kInvalidArgument, "'" + std::string(text) + "' must be http[s]://host[:port][/path]"};
    }
    const std::size_t colon = rest.rfind(':');
    url.host = std::string(rest.substr(0, colon));
    if (colon != std::string_view::npos) {
        const auto port = ParseInteger(rest.substr(colon + 1), 1, 65535);
        if (!port) return Status{ErrorCode::kInvalidArgument, "'" + std::string(text) + "' has a bad port"};
        url.port = static_cast<std::uint16_t>(*port);
    }
    if (url.host.empty()) return Status{ErrorCode::kInvalidArgument, "'" + std::string(text) + "' has no host"};
    return url;
}

struct ClientConnection::Impl {
    Impl(Url u, std::chrono::milliseconds t, const std::string& ca_file)
        : url(std::move(u)), timeout(t), where(url.host + ":" + std::to_string(url.port)) {
        if (url.tls) tls.emplace(TlsContext(ca_file));
    }

    Url url;
    std::chrono::milliseconds timeout;
    std::string where;          // host:port, for messages and the Host header
    std::string authorization;  // "Bearer ..." or empty
    net::io_context ioc;
    std::optional<ssl::context> tls;  // https only
    // At most one is open: the connection, plain or under TLS.
    std::optional<beast::tcp_stream> plain;
    std::optional<TlsStream> secure;
    beast::flat_buffer buffer;

    [[nodiscard]] bool open() const { return plain.has_value() || secure.has_value(); }
    beast::tcp_stream& Tcp() { return secure ? beast::get_lowest_layer(*secure) : *plain; }
    template <class F>
    void With(F&& f) {
        if (secure) {
            f(*secure);
        } else {
            f(*plain);
        }
    }

    // Runs the posted operations to their end (each bounded by the stream's timer).
    void Run() {
        ioc.restart();
        ioc.run();
    }

    // Connects (and shakes hands, for https); throws as Send promises.
    void Connect() {
        plain.emplace(ioc);
        buffer.clear();
        beast::error_code ec;
        tcp::resolver resolver(ioc);
        const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
        if (!ec) {
            plain->expires_after(timeout);
            plain->async_connect(endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
            Run();
        }
        if (ec) Fail(ec, "cannot connect to " + where, "no connection to ");
        if (!url.tls) return;
        secure.emplace(std::move(*plain), *tls);
        plain.reset();
        beast::error_code not_ip;
        (void)net::ip::make_address(url.host, not_ip);
        if (not_ip) (void)SSL_set_tlsext_host_name(secure->native_handle(), url.host.c_str());  // SNI: names only
        secure->set_verify_mode(ssl::verify_peer);
        secure->set_verify_callback(ssl::host_name_verification(url.host));
        Tcp().expires_after(timeout);
        secure->async_handshake(ssl::stream_base::client, [&ec](beast::error_code e) { ec = e; });
        Run();
        if (ec) Fail(ec, "the TLS handshake with " + where + " failed", "no TLS handshake with ");
    }

    // `failed`: what did not happen, for an error; `late`: what did not happen in time.
    [[noreturn]] void Fail(const beast::error_code& ec, const std::string& failed, const std::string& late) {
        Close();
        if (ec == beast::error::timeout) throw Error(ErrorCode::kDeadlineExceeded, late + where + " in time");
        throw Error(ErrorCode::kUnavailable, failed + ": " + ec.message());
    }

    void Close() {
        if (!open()) return;
        beast::error_code ignored;
        Tcp().socket().close(ignored);
        secure.reset();
        plain.reset();
    }
};

ClientConnection::ClientConnection(Url url, std::chrono::milliseconds timeout, std::string ca_file)
    : impl_(std::make_unique<Impl>(std::move(url), timeout, ca_file)) {}

void ClientConnection::SetTimeout(std::chrono::milliseconds timeout) { impl_->timeout = timeout; }

std::chrono::milliseconds ClientConnection::timeout() const { return impl_->timeout; }

ClientConnection::~ClientConnection() = default;

void ClientConnection::SetBearer(std::string token) {
    impl_->authorization = token.empty() ? std::string() : "Bearer " + std::move(token);
}

Response ClientConnection::Send(std::string_view method, const std::string& target, const std::string& body,
                                std::string_view content_type) {
    Impl& c = *impl_;
    const std::string& where = c.where;
    for (int attempt = 0;; ++attempt) {
        const bool reused = c.open();
        if (!reused) c.Connect();
        bhttp::request<bhttp::string_body> req(bhttp::string_to_verb(beast::string_view(method.data(), method.size())),
                                              target, 11);
        req.set(bhttp::field::host, where);
        req.set(bhttp::field::user_agent, "sagaflow-client");
        if (!c.authorization.empty()) req.set(bhttp::field::authorization, c.authorization);
        if (!body.empty() || method == "POST") {
            req.set(bhttp::field::content_type, beast::string_view(content_type.data(), content_type.size()));
            req.body() = body;
        }
        req.keep_alive(true);
        req.prepare_payload();
        bhttp::response_parser<bhttp::string_body> parser;
        parser.body_limit(64u << 20);
        beast::error_code ec;
        c.With([&](auto& stream) {
            c.Tcp().expires_after(c.timeout);
            bhttp::async_write(stream, req, [&](beast::error_code e, std::size_t) {
                ec = e;
                if (ec) return;
                c.Tcp().expires_after(c.timeout);
                bhttp::async_read(stream, c.buffer, parser, [&](beast::error_code r, std::size_t) { ec = r; });
            });
        });
        c.Run();
        if (ec) {
            const bool got_some = parser.got_some();
            c.Close();
            if (reused && attempt == 0 && !got_some && ClosedByPeer(ec)) continue;  // an idle close: resend
            if (ec == beast::error::timeout) {
                throw Error(ErrorCode::kDeadlineExceeded, "no answer from " + where + " in time");
            }
            throw Error(ErrorCode::kUnavailable, "lost the connection to " + where + ": " + ec.message());
        }
        auto msg = parser.release();
        Response out;
        out.status = static_cast<int>(msg.result_int());
        out.content_type = std::string(msg[bhttp::field::content_type]);
        out.body = std::move(msg.body());
        if (!msg.keep_alive()) c.Close();
        return out;
    }
}

}  // namespace sagaflow::http
