#include "http/client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <optional>

#include "sagaflow/core/numbers.hpp"

namespace sagaflow::http {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;

bool ClosedByPeer(const beast::error_code& ec) {
    return ec == bhttp::error::end_of_stream || ec == net::error::eof || ec == net::error::connection_reset ||
           ec == net::error::broken_pipe;
}

}  // namespace

Result<Url> ParseUrl(std::string_view text) {
    constexpr std::string_view kScheme = "http://";
    if (text.substr(0, kScheme.size()) != kScheme) {
        return Status{ErrorCode::kInvalidArgument, "'" + std::string(text) + "' must start with http://"};
    }
    std::string_view rest = text.substr(kScheme.size());
    Url url;
    if (const std::size_t slash = rest.find('/'); slash != std::string_view::npos) {
        url.path = std::string(rest.substr(slash));
        rest = rest.substr(0, slash);
    }
    if (rest.empty() || url.path.find_first_of(" \r\n") != std::string::npos) {
        return Status{ErrorCode::kInvalidArgument, "'" + std::string(text) + "' must be http://host[:port][/path]"};
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
    Impl(Url u, std::chrono::milliseconds t) : url(std::move(u)), timeout(t) {}

    Url url;
    std::chrono::milliseconds timeout;
    std::string authorization;  // "Bearer ..." or empty
    net::io_context ioc;
    std::optional<beast::tcp_stream> stream;
    beast::flat_buffer buffer;

    // Runs the posted operations to their end (each bounded by the stream's timer).
    void Run() {
        ioc.restart();
        ioc.run();
    }

    beast::error_code Connect() {
        stream.emplace(ioc);
        buffer.clear();
        beast::error_code ec;
        tcp::resolver resolver(ioc);
        const auto endpoints = resolver.resolve(url.host, std::to_string(url.port), ec);
        if (ec) return ec;
        stream->expires_after(timeout);
        stream->async_connect(endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
        Run();
        return ec;
    }

    void Close() {
        if (!stream) return;
        beast::error_code ignored;
        stream->socket().close(ignored);
        stream.reset();
    }
};

ClientConnection::ClientConnection(Url url, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(std::move(url), timeout)) {}

ClientConnection::~ClientConnection() = default;

void ClientConnection::SetBearer(std::string token) {
    impl_->authorization = token.empty() ? std::string() : "Bearer " + std::move(token);
}

Response ClientConnection::Send(std::string_view method, const std::string& target, const std::string& body,
                                std::string_view content_type) {
    Impl& c = *impl_;
    const std::string where = c.url.host + ":" + std::to_string(c.url.port);
    for (int attempt = 0;; ++attempt) {
        const bool reused = c.stream.has_value();
        if (!reused) {
            if (const auto ec = c.Connect()) {
                c.Close();
                if (ec == beast::error::timeout) {
                    throw Error(ErrorCode::kDeadlineExceeded, "no connection to " + where + " in time");
                }
                throw Error(ErrorCode::kUnavailable, "cannot connect to " + where + ": " + ec.message());
            }
        }
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
        c.stream->expires_after(c.timeout);
        bhttp::async_write(*c.stream, req, [&](beast::error_code e, std::size_t) {
            ec = e;
            if (ec) return;
            c.stream->expires_after(c.timeout);
            bhttp::async_read(*c.stream, c.buffer, parser, [&](beast::error_code r, std::size_t) { ec = r; });
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
