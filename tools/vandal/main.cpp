// sagaflow-vandal: hostile input for sagad's ports while sagas run (scripts/faults).
//
//   --worker E   garbage on the worker socket: random bytes, an empty frame, a half
//                envelope, a wrong version, missing fields, an unknown kind, three
//                frames, a reply from a peer that never said hello. sagad counts each
//                one. And 10 MiB from another socket, which libzmq drops uncounted.
//   --http H:P   bad requests on the HTTP API: random bytes, an oversized body (both
//                refused by the server before any handler), malformed JSON, wrong field
//                types, an unknown route, a wrong method, a SQL-shaped id (each counted
//                as a bad request by the API). Every one must get a JSON error with a 4xx
//                status. With --flood N, first N connections at once: those over sagad's
//                limit must get 429; after they close, sagad must still answer.
//   --raw E      half a ZMTP greeting, then random bytes, on a plain stream socket to E
//                (tcp://host:port or ipc://path); libzmq drops such peers itself. With
//                CURVE on, sagad counts the half greetings as cut-short handshakes
//                (handshakes.other_failures) and the noise as bad_crypto.
//   --forge-reply E --forged MSG SAGA
//                a well-formed `ok` reply for a real command from a peer that never
//                said hello: sagad must drop it (forged_replies in stats). With --hello Q it
//                registers for Q first: the reply is then another worker's, never applied.
//
// With --key-file and --server-key-file the worker-port probes come from a CURVE key
// (an authenticated worker gone bad), and --worker adds a worker whose idea of sagad's
// key is wrong (a stale or forged server key): its handshakes fail as bad_crypto; with --token-file the HTTP ones carry a token, so
// they reach the parsers behind the authentication.
//
// Prints what it sent as one JSON line. Exits 1 if an HTTP request got no answer or an
// answer that is not a 4xx JSON error (or sagad stopped answering after a flood), 2 on
// bad usage.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "keys.hpp"
#include "socket.hpp"

namespace {

using nlohmann::json;
using sagaflow::transport::Context;
using sagaflow::transport::Socket;
using sagaflow::transport::SocketKind;

std::string RandomBytes(std::mt19937_64& rng, std::size_t n) {
    std::string s(n, '\0');
    for (char& c : s) c = static_cast<char>(rng());
    return s;
}

std::optional<sagaflow::transport::CurveClientKeys> g_curve;  // --key-file, --server-key-file
std::string g_auth;                                            // "Authorization: Bearer ...\r\n" or empty

struct Tally {
    int worker_frames = 0;
    int http_requests = 0;
    int api_bad_expected = 0;     ///< reach the API's router: its bad_requests count them
    int http_error_replies = 0;   ///< answered with a 4xx and a JSON {"code","message"}
    int flood_connections = 0;
    int flood_refused = 0;        ///< answered 429 resource_exhausted
    bool alive_after_flood = true;
    int raw_connections = 0;
    int half_greetings = 0;     ///< of raw_connections: ZMTP greetings cut short
    int wrong_server_key = 0;   ///< workers that tried with a wrong server key
};

void Worker(const std::string& endpoint, int rounds, int big_mib, std::mt19937_64& rng, Tally& t) {
    Context ctx;
    const std::string valid =
        R"({"v":1,"kind":"reply","msg_id":"00000000-0000-4000-8000-000000000000","saga_id":"00000000-0000-4000-8000-000000000001","trace_id":"t","outcome":"ok"})";
    for (int r = 0; r < rounds; ++r) {
        sagaflow::transport::SocketOptions o;
        o.routing_id = "vandal-" + std::to_string(r);
        o.linger_ms = 5000;  // closing waits until the garbage is out
        o.curve_client = g_curve;
        Socket s(ctx, SocketKind::kDealer, o);
        s.Connect(endpoint);
        const std::vector<std::vector<std::string>> garbage{
            {RandomBytes(rng, 4096)},
            {""},
            {valid.substr(0, valid.size() / 2)},
            {R"({"v":2,"kind":"hello","worker_id":"x","queues":[],"capacity":1})"},
            {R"({"v":1,"kind":"reply"})"},
            {R"({"v":1,"kind":"gossip","worker_id":"x"})"},
            {valid, valid, valid},
            {valid},
        };
        for (const auto& parts : garbage) {
            if (s.SendParts(parts)) ++t.worker_frames;
        }
        // Over the envelope limit (1 MiB): libzmq drops the connection before allocating it
        // (ZMQ_MAXMSGSIZE), so it is sent from a socket of its own and not counted.
        o.routing_id = "vandal-big-" + std::to_string(r);
        Socket big(ctx, SocketKind::kDealer, o);
        big.Connect(endpoint);
        (void)big.Send(std::string(static_cast<std::size_t>(big_mib) << 20, 'x'));
        if (g_curve) {
            // Our key, but a server key that is not sagad's: the handshake cannot finish.
            // It tries (and libzmq retries) until the linger ends; the hello never leaves.
            sagaflow::transport::SocketOptions wrong = o;
            wrong.routing_id = "vandal-wrong-server-" + std::to_string(r);
            wrong.linger_ms = 1000;
            wrong.curve_client->server_key = sagaflow::transport::NewCurveKeyPair().public_key;
            Socket w(ctx, SocketKind::kDealer, wrong);
            w.Connect(endpoint);
            (void)w.Send(R"({"v":1,"kind":"hello","worker_id":"vandal-wrong","queues":["audit"],"capacity":1})");
            ++t.wrong_server_key;
        }
    }
}

// A TCP connection to 127.0.0.1:port; -1 when it cannot be made.
int Dial(int port, bool nonblocking = false) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0), 0);
    if (fd < 0) return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
        ::close(fd);
        return -1;
    }
    return fd;
}

// Reads until the peer closes or `ms` pass.
std::string ReadFor(int fd, int ms) {
    std::string out;
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        pollfd p{fd, POLLIN, 0};
        if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) return out;
        char buf[4096];
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) return out;
        out.append(buf, static_cast<std::size_t>(n));
    }
}

// True for an HTTP answer with a 4xx status (or `status` exactly) and a JSON error body.
bool IsJsonError(const std::string& answer, int status = 0) {
    if (answer.rfind("HTTP/1.1 4", 0) != 0) return false;
    if (status != 0 && answer.compare(9, 3, std::to_string(status)) != 0) return false;
    const auto body = answer.find("\r\n\r\n");
    const json j = body == std::string::npos ? json() : json::parse(answer.substr(body + 4), nullptr, false);
    return j.is_object() && j.contains("code") && j["code"].is_string() && j.contains("message");
}

void Flood(int port, int n, Tally& t) {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0) {
        lim.rlim_cur = lim.rlim_max;
        (void)setrlimit(RLIMIT_NOFILE, &lim);
    }
    std::vector<int> fds;
    for (int i = 0; i < n; ++i) {
        const int fd = Dial(port, true);
        if (fd >= 0) fds.push_back(fd);
    }
    t.flood_connections = static_cast<int>(fds.size());
    // Those over sagad's limit are answered and closed at once; the others wait, silent.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::vector<std::string> got(fds.size());
    std::vector<bool> done(fds.size(), false);
    std::size_t open = fds.size();
    while (open > 0 && std::chrono::steady_clock::now() < until) {
        std::vector<pollfd> polls;
        std::vector<std::size_t> which;
        for (std::size_t i = 0; i < fds.size(); ++i) {
            if (!done[i]) {
                polls.push_back({fds[i], POLLIN, 0});
                which.push_back(i);
            }
        }
        if (::poll(polls.data(), polls.size(), 500) <= 0) break;  // the rest are held open, silent
        for (std::size_t k = 0; k < polls.size(); ++k) {
            if ((polls[k].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
            const std::size_t i = which[k];
            char buf[1024];
            const ssize_t r = ::recv(fds[i], buf, sizeof buf, 0);
            if (r > 0) {
                got[i].append(buf, static_cast<std::size_t>(r));
            } else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
                done[i] = true;
                --open;
                t.flood_refused += IsJsonError(got[i], 429) ? 1 : 0;
            }
        }
    }
    for (int fd : fds) ::close(fd);
    // sagad must still serve, once the crowd has gone (bounded wait).
    t.alive_after_flood = false;
    for (int attempt = 0; attempt < 50 && !t.alive_after_flood; ++attempt) {
        const int fd = Dial(port);
        if (fd < 0) continue;
        const std::string req = "GET /healthz HTTP/1.1\r\nHost: vandal\r\nConnection: close\r\n\r\n";
        (void)::send(fd, req.data(), req.size(), MSG_NOSIGNAL);
        t.alive_after_flood = ReadFor(fd, 2000).rfind("HTTP/1.1 200", 0) == 0;
        ::close(fd);
    }
}

void Http(const std::string& host_port, int rounds, int flood, std::mt19937_64& rng, Tally& t) {
    const int port = std::stoi(host_port.substr(host_port.rfind(':') + 1));
    if (flood > 0) Flood(port, flood, t);
    auto post = [](const std::string& path, const std::string& body) {
        return "POST " + path + " HTTP/1.1\r\nHost: vandal\r\nContent-Type: application/json\r\nConnection: close\r\n" +
               g_auth + "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    };
    auto get = [](const std::string& target, const std::string& method = "GET") {
        return method + " " + target + " HTTP/1.1\r\nHost: vandal\r\nConnection: close\r\n" + g_auth + "\r\n";
    };
    for (int r = 0; r < rounds; ++r) {
        const std::vector<std::pair<std::string, bool>> requests{
            {RandomBytes(rng, 512) + "\r\n\r\n", false},
            {"POST /api/v1/sagas HTTP/1.1\r\nHost: vandal\r\nContent-Length: 3000000\r\nConnection: close\r\n\r\n{", false},
            {post("/api/v1/sagas", R"({"workflow":"order_fulfilment","input":)"), true},
            {post("/api/v1/sagas", R"({"workflow":["order_fulfilment"],"input":{}})"), true},
            {post("/api/v1/sagas/batch", R"({"sagas":"all of them"})"), true},
            {get("/api/v1/drop_table"), true},
            {get("/api/v1/sagas", "DELETE"), true},
            {get("/api/v1/sagas/'%3B%20DROP%20TABLE%20sagas%3B%20--"), true},
        };
        for (const auto& [request, counted] : requests) {
            ++t.http_requests;
            t.api_bad_expected += counted;
            const int fd = Dial(port);
            if (fd < 0) continue;
            (void)::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
            t.http_error_replies += IsJsonError(ReadFor(fd, 5000)) ? 1 : 0;
            ::close(fd);
        }
    }
}

void Raw(const std::string& endpoint, int rounds, std::mt19937_64& rng, Tally& t) {
    for (int r = 0; r < rounds; ++r) {
        for (int kind = 0; kind < 2; ++kind) {
            int fd = -1;
            if (endpoint.rfind("ipc://", 0) == 0) {
                sockaddr_un a{};
                a.sun_family = AF_UNIX;
                std::strncpy(a.sun_path, endpoint.c_str() + 6, sizeof a.sun_path - 1);
                fd = socket(AF_UNIX, SOCK_STREAM, 0);
                if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fd = (close(fd), -1);
            } else if (endpoint.rfind("tcp://", 0) == 0) {
                const std::string hp = endpoint.substr(6);
                const auto colon = hp.rfind(':');
                sockaddr_in a{};
                a.sin_family = AF_INET;
                a.sin_port = htons(static_cast<std::uint16_t>(std::stoi(hp.substr(colon + 1))));
                inet_pton(AF_INET, hp.substr(0, colon).c_str(), &a.sin_addr);
                fd = socket(AF_INET, SOCK_STREAM, 0);
                if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fd = (close(fd), -1);
            }
            if (fd < 0) continue;
            // ZMTP 3 starts with 0xFF, eight bytes, 0x7F: send half of that, or noise.
            const std::string bytes = kind == 0 ? std::string("\xff\0\0\0\0", 5) : RandomBytes(rng, 64);
            if (write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())) {
                ++t.raw_connections;
                t.half_greetings += kind == 0 ? 1 : 0;
            }
            close(fd);
        }
    }
}

// Finding 1 of the hardening issue: a DEALER that never said hello sends a reply for a
// command it was never given. sagad must drop it and count it as forged.
bool ForgeReply(const std::string& endpoint, const std::vector<std::string>& ids, const std::string& hello_queue) {
    if (ids.size() != 2) {
        std::fprintf(stderr, "sagaflow-vandal: --forge-reply needs --forged MSG_ID SAGA_ID\n");
        return false;
    }
    Context ctx;
    sagaflow::transport::SocketOptions o;
    o.routing_id = "forger";
    o.linger_ms = 5000;
    o.curve_client = g_curve;
    Socket s(ctx, SocketKind::kDealer, o);
    s.Connect(endpoint);
    if (!hello_queue.empty()) {  // registered first: an authenticated worker gone bad
        const json hello{{"v", 1}, {"kind", "hello"}, {"worker_id", "forger"}, {"queues", {hello_queue}}, {"capacity", 1}};
        (void)s.Send(hello.dump());
    }
    const json reply{{"v", 1},         {"kind", "reply"},   {"msg_id", ids[0]}, {"saga_id", ids[1]},
                     {"trace_id", ""}, {"outcome", "ok"},   {"output", {{"tracking", "FORGED"}}}};
    const bool sent = s.Send(reply.dump());
    std::printf(R"({"forged_replies_sent":%d})" "\n", sent ? 1 : 0);
    return sent;
}

}  // namespace

int main(int argc, char** argv) {
    std::string worker, http, raw, forge;
    int flood = 0;
    std::vector<std::string> forged;  // msg id, saga id
    int rounds = 1;
    unsigned long long seed = 1;
    CLI::App app{"sagaflow-vandal: hostile input for sagad's ports"};
    app.add_option("--worker", worker, "garbage on this worker endpoint");
    app.add_option("--http", http, "bad requests on sagad's HTTP API at 127.0.0.1:PORT");
    app.add_option("--flood", flood, "with --http: first open this many connections at once")
        ->check(CLI::Range(1, 100000));
    app.add_option("--raw", raw, "half greetings and noise on this endpoint's stream socket");
    app.add_option("--forge-reply", forge, "a reply for a real command, from a peer that never said hello");
    app.add_option("--forged", forged, "with --forge-reply: MSG_ID SAGA_ID of the reply")->expected(2);
    app.add_option("--rounds", rounds, "how many times")->check(CLI::Range(1, 1000000));
    int big_mib = 10;
    app.add_option("--big-frame-mib", big_mib, "with --worker: the size of the oversized frame")->check(CLI::Range(2, 200));
    app.add_option("--seed", seed, "random seed");
    std::string key_file, server_key_file, token_file, hello_queue;
    app.add_option("--hello", hello_queue, "with --forge-reply: say hello for this queue first (a registered forger)");
    app.add_option("--key-file", key_file, "CURVE: our secret key file (worker-port probes)");
    app.add_option("--server-key-file", server_key_file, "CURVE: sagad's public key file");
    app.add_option("--token-file", token_file, "an API token for the HTTP probes");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (!key_file.empty()) {
        auto keys = sagaflow::security::LoadClientKeys(key_file, server_key_file);
        if (!keys.ok()) {
            std::fprintf(stderr, "sagaflow-vandal: %s\n", keys.status().message.c_str());
            return 2;
        }
        g_curve = *keys;
    }
    if (!token_file.empty()) {
        std::ifstream in(token_file);
        std::string token;
        std::getline(in, token);
        g_auth = "Authorization: Bearer " + token + "\r\n";
    }
    if (!forge.empty()) return ForgeReply(forge, forged, hello_queue) ? 0 : 1;
    if (worker.empty() && http.empty() && raw.empty()) {
        std::fprintf(stderr, "sagaflow-vandal: give --worker, --http, --raw or --forge-reply\n");
        return 2;
    }
    std::mt19937_64 rng(seed);
    Tally t;
    try {
        if (!worker.empty()) Worker(worker, rounds, big_mib, rng, t);
        if (!http.empty()) Http(http, rounds, flood, rng, t);
        if (!raw.empty()) Raw(raw, rounds, rng, t);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sagaflow-vandal: %s\n", e.what());
        return 1;
    }
    std::printf(
        R"({"worker_frames":%d,"http_requests":%d,"api_bad_expected":%d,"http_error_replies":%d,)"
        R"("flood_connections":%d,"flood_refused":%d,"alive_after_flood":%s,"raw_connections":%d,)"
        R"("half_greetings":%d,"wrong_server_key":%d})"
        "\n",
        t.worker_frames, t.http_requests, t.api_bad_expected, t.http_error_replies, t.flood_connections,
        t.flood_refused, t.alive_after_flood ? "true" : "false", t.raw_connections, t.half_greetings,
        t.wrong_server_key);
    return t.http_error_replies == t.http_requests && t.alive_after_flood ? 0 : 1;
}
