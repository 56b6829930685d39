// The HTTP server and client over TLS, with certificates `openssl req` makes at test time:
// the API answers over HTTPS to a client that trusts the certificate, plain HTTP on that
// port hears why it is refused, an untrusted or misnamed certificate stops the client, and
// garbage or an unfinished handshake is counted while everyone else is served.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "eventually.hpp"
#include "http/client.hpp"
#include "http/server.hpp"
#include "os/process.hpp"
#include "raw_tcp.hpp"

namespace sagaflow::testing {
namespace {

namespace fs = std::filesystem;

// A self-signed certificate and its key, from `openssl req`, for the names in `san`.
struct Pem {
    std::string cert, key;
};

Pem MakeCertificate(const fs::path& dir, const std::string& name, const std::string& san) {
    const Pem pem{(dir / (name + ".crt")).string(), (dir / (name + ".key")).string()};
    const int rc = os::Run({"openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                            "-nodes", "-days", "2", "-subj", "/CN=" + name, "-addext", "subjectAltName=" + san,
                            "-keyout", pem.key, "-out", pem.cert},
                           {(dir / "openssl.log").string(), "", std::nullopt});
    if (rc != 0) throw std::runtime_error("openssl req failed; see " + (dir / "openssl.log").string());
    fs::permissions(pem.key, fs::perms::owner_read | fs::perms::owner_write);
    return pem;
}

class HttpTlsTest : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = new fs::path(fs::temp_directory_path() / ("sagaflow-tls-" + std::to_string(::getpid())));
        fs::create_directories(*dir_);
        sagad_ = new Pem(MakeCertificate(*dir_, "sagad", "DNS:localhost,IP:127.0.0.1"));
        stranger_ = new Pem(MakeCertificate(*dir_, "stranger", "DNS:localhost,IP:127.0.0.1"));
        elsewhere_ = new Pem(MakeCertificate(*dir_, "elsewhere", "DNS:elsewhere.example"));
    }
    static void TearDownTestSuite() {
        std::error_code ignored;
        fs::remove_all(*dir_, ignored);
        delete dir_;
        delete sagad_;
        delete stranger_;
        delete elsewhere_;
    }

    // A server on a free port with `pem`, answering every request with the path it asked
    // for; returns its port.
    int Serve(const Pem& pem, std::chrono::milliseconds read_timeout = std::chrono::seconds(10)) {
        http::ServerOptions o;
        o.port = 0;
        o.tls_cert = pem.cert;
        o.tls_key = pem.key;
        o.read_timeout = read_timeout;
        server_ = std::make_unique<http::Server>(
            [](const http::Request& r) {
                http::Response out;
                out.body = R"({"path":")" + r.path + R"(","remote":")" + r.remote + R"("})";
                return out;
            },
            o);
        const std::string bound = server_->Start();
        return std::stoi(bound.substr(bound.rfind(':') + 1));
    }

    static http::Url UrlOf(const std::string& host, int port) {
        auto url = http::ParseUrl("https://" + host + ":" + std::to_string(port) + "/");
        EXPECT_TRUE(url.ok()) << url.status().message;
        return *url;
    }

    static inline fs::path* dir_ = nullptr;
    static inline Pem* sagad_ = nullptr;
    static inline Pem* stranger_ = nullptr;
    static inline Pem* elsewhere_ = nullptr;
    std::unique_ptr<http::Server> server_;
};

TEST_F(HttpTlsTest, AnswersOverHttpsToAClientThatTrustsTheCertificate) {
    const int port = Serve(*sagad_);
    for (const std::string host : {"127.0.0.1", "localhost"}) {
        http::ClientConnection conn(UrlOf(host, port), std::chrono::seconds(5), sagad_->cert);
        // Two requests on one kept-alive connection.
        for (const std::string path : {"/api/v1/sagas", "/healthz"}) {
            const http::Response r = conn.Send("GET", path);
            EXPECT_EQ(r.status, 200);
            EXPECT_NE(r.body.find(R"("path":")" + path + "\""), std::string::npos) << r.body;
            EXPECT_NE(r.body.find(R"("remote":"127.0.0.1:)"), std::string::npos) << r.body;
        }
    }
    EXPECT_EQ(server_->counters().requests, 4u);
    EXPECT_EQ(server_->counters().connections, 2u);
    EXPECT_EQ(server_->counters().tls_refused, 0u);
}

TEST_F(HttpTlsTest, PlainHttpOnTheTlsPortIsRefusedInPlainWords) {
    const int port = Serve(*sagad_);
    RawTcp raw(port);
    ASSERT_TRUE(raw.connected());
    raw.Send("GET /api/v1/sagas HTTP/1.1\r\nHost: x\r\n\r\n");
    const std::string answer = raw.ReadAll();
    EXPECT_EQ(answer.rfind("HTTP/1.1 400 ", 0), 0u) << answer;
    EXPECT_NE(answer.find("HTTPS only"), std::string::npos) << answer;
    EXPECT_EQ(server_->counters().requests, 0u);  // no handler saw it
    EXPECT_EQ(server_->counters().tls_refused, 1u);

    // The typed client says what went wrong when given http:// for an https port.
    auto url = http::ParseUrl("http://127.0.0.1:" + std::to_string(port) + "/");
    ASSERT_TRUE(url.ok());
    http::ClientConnection plain(*url, std::chrono::seconds(5));
    const http::Response r = plain.Send("GET", "/api/v1/sagas");
    EXPECT_EQ(r.status, 400);
    EXPECT_NE(r.body.find("use https://"), std::string::npos) << r.body;
}

TEST_F(HttpTlsTest, TheClientRefusesACertificateItDoesNotTrustOrThatNamesAnotherHost) {
    int port = Serve(*sagad_);
    http::ClientConnection untrusted(UrlOf("127.0.0.1", port), std::chrono::seconds(5), stranger_->cert);
    try {
        (void)untrusted.Send("GET", "/api/v1/sagas");
        ADD_FAILURE() << "a certificate signed by nobody it trusts was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
        EXPECT_NE(std::string(e.what()).find("TLS handshake"), std::string::npos) << e.what();
    }
    // The system's store knows no test certificate either.
    http::ClientConnection system_store(UrlOf("127.0.0.1", port), std::chrono::seconds(5));
    EXPECT_THROW((void)system_store.Send("GET", "/"), Error);
    EXPECT_EQ(server_->counters().requests, 0u);

    // Trusted, but issued for another name.
    server_.reset();
    port = Serve(*elsewhere_);
    http::ClientConnection misnamed(UrlOf("127.0.0.1", port), std::chrono::seconds(5), elsewhere_->cert);
    EXPECT_THROW((void)misnamed.Send("GET", "/"), Error);
    EXPECT_EQ(server_->counters().requests, 0u);
}

TEST_F(HttpTlsTest, GarbageAndUnfinishedHandshakesAreCountedAndOthersAreServed) {
    const int port = Serve(*sagad_, std::chrono::milliseconds(300));
    {
        RawTcp garbage(port);  // a client hello's first bytes, then nonsense
        ASSERT_TRUE(garbage.connected());
        garbage.Send(std::string("\x16\x03\x01\x00\x40\x01\x00\x00\x3c", 9) + std::string(60, 'j'));
        EXPECT_EQ(garbage.ReadAll().find("HTTP/1.1"), std::string::npos);  // no answer in HTTP
    }
    {
        RawTcp truncated(port);  // a handshake record that never finishes
        ASSERT_TRUE(truncated.connected());
        truncated.Send(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11));
        EXPECT_EQ(truncated.ReadAll(), "");  // closed at the read timeout
    }
    (void)Eventually([&] { return server_->counters().tls_refused >= 2; }, std::chrono::seconds(10));
    EXPECT_EQ(server_->counters().tls_refused, 2u);
    http::ClientConnection good(UrlOf("127.0.0.1", port), std::chrono::seconds(5), sagad_->cert);
    EXPECT_EQ(good.Send("GET", "/healthz").status, 200);
}

TEST_F(HttpTlsTest, ACertificateThatDoesNotLoadStopsTheServerBeforeItListens) {
    const auto bind_with = [](const std::string& cert, const std::string& key) {
        http::ServerOptions o;
        o.port = 0;
        o.tls_cert = cert;
        o.tls_key = key;
        http::Server server([](const http::Request&) { return http::Response{}; }, o);
        try {
            (void)server.Bind();
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
            return std::string(e.what());
        }
        return std::string("bound");
    };
    const std::string mismatched = bind_with(sagad_->cert, stranger_->key);
    EXPECT_NE(mismatched.find(stranger_->key), std::string::npos) << mismatched;
    EXPECT_NE(bind_with((*dir_ / "missing.crt").string(), sagad_->key).find("cannot load the TLS certificate"),
              std::string::npos);
    EXPECT_NE(bind_with(sagad_->cert, sagad_->cert).find("cannot load the TLS key"), std::string::npos);
}

}  // namespace
}  // namespace sagaflow::testing
