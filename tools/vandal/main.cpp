// sagaflow-vandal: hostile input for sagad's ports while sagas run (scripts/faults).
//
//   --worker E   garbage on the worker socket: random bytes, an empty frame, a half
//                envelope, a wrong version, missing fields, an unknown kind, three
//                frames, a reply from a peer that never said hello. sagad counts each
//                one. And 10 MiB from another socket, which libzmq drops uncounted.
//   --admin E    garbage on the admin socket: random bytes, a JSON array, a wrong
//                version, 2 MiB, half a request, two frames, an unknown op, a SQL-shaped
//                id. Each must get a well-formed error reply; the first six are counted
//                as bad requests.
//   --raw E      half a ZMTP greeting, then random bytes, on a plain stream socket to E
//                (tcp://host:port or ipc://path); libzmq drops such peers itself.
//   --forge-reply E --forged MSG SAGA
//                a well-formed `ok` reply for a real command from a peer that never
//                said hello: sagad must drop it (forged_replies in stats).
//
// Prints what it sent as one JSON line. Exits 1 if an admin request got no reply or a
// reply that is not a JSON error, 2 on bad usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

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

struct Tally {
    int worker_frames = 0;
    int admin_requests = 0;
    int admin_bad_expected = 0;
    int admin_error_replies = 0;
    int admin_unanswered = 0;
    int raw_connections = 0;
};

void Worker(const std::string& endpoint, int rounds, int big_mib, std::mt19937_64& rng, Tally& t) {
    Context ctx;
    const std::string valid =
        R"({"v":1,"kind":"reply","msg_id":"00000000-0000-4000-8000-000000000000","saga_id":"00000000-0000-4000-8000-000000000001","trace_id":"t","outcome":"ok"})";
    for (int r = 0; r < rounds; ++r) {
        sagaflow::transport::SocketOptions o;
        o.routing_id = "vandal-" + std::to_string(r);
        o.linger_ms = 5000;  // closing waits until the garbage is out
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
    }
}

void Admin(const std::string& endpoint, int rounds, std::mt19937_64& rng, Tally& t) {
    Context ctx;
    for (int r = 0; r < rounds; ++r) {
        const std::vector<std::pair<std::vector<std::string>, bool>> requests{
            {{RandomBytes(rng, 512)}, true},
            {{"[1,2,3]"}, true},
            {{R"({"v":99,"op":"list"})"}, true},
            {{std::string(2 << 20, ' ') + "{}"}, true},
            {{R"({"v":1,"op":"li)"}, true},
            {{R"({"v":1,"op":"list"})", R"({"v":1,"op":"list"})"}, true},
            {{R"({"v":1,"op":"drop_table"})"}, false},
            {{R"({"v":1,"op":"show","id":"'; DROP TABLE sagas; --"})"}, false},
        };
        for (const auto& [parts, bad] : requests) {
            Socket req(ctx, SocketKind::kReq);  // one per request: a lost reply cannot wedge the next
            req.Connect(endpoint);
            ++t.admin_requests;
            t.admin_bad_expected += bad;
            if (!req.SendParts(parts) || !sagaflow::transport::Poll({&req}, std::chrono::seconds(5))[0]) {
                ++t.admin_unanswered;
                continue;
            }
            auto m = req.TryReceive();
            const json reply = m && m->frames.size() == 1 ? json::parse(m->frames[0], nullptr, false) : json();
            if (reply.is_object() && reply.value("ok", true) == false && reply.contains("error")) {
                ++t.admin_error_replies;
            }
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
            if (write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())) ++t.raw_connections;
            close(fd);
        }
    }
}

// Finding 1 of the hardening issue: a DEALER that never said hello sends a reply for a
// command it was never given. sagad must drop it and count it as forged.
bool ForgeReply(const std::string& endpoint, const std::vector<std::string>& ids) {
    if (ids.size() != 2) {
        std::fprintf(stderr, "sagaflow-vandal: --forge-reply needs --forged MSG_ID SAGA_ID\n");
        return false;
    }
    Context ctx;
    sagaflow::transport::SocketOptions o;
    o.routing_id = "forger";
    o.linger_ms = 5000;
    Socket s(ctx, SocketKind::kDealer, o);
    s.Connect(endpoint);
    const json reply{{"v", 1},         {"kind", "reply"},   {"msg_id", ids[0]}, {"saga_id", ids[1]},
                     {"trace_id", ""}, {"outcome", "ok"},   {"output", {{"tracking", "FORGED"}}}};
    const bool sent = s.Send(reply.dump());
    std::printf(R"({"forged_replies_sent":%d})" "\n", sent ? 1 : 0);
    return sent;
}

}  // namespace

int main(int argc, char** argv) {
    std::string worker, admin, raw, forge;
    std::vector<std::string> forged;  // msg id, saga id
    int rounds = 1;
    unsigned long long seed = 1;
    CLI::App app{"sagaflow-vandal: hostile input for sagad's ports"};
    app.add_option("--worker", worker, "garbage on this worker endpoint");
    app.add_option("--admin", admin, "garbage on this admin endpoint");
    app.add_option("--raw", raw, "half greetings and noise on this endpoint's stream socket");
    app.add_option("--forge-reply", forge, "a reply for a real command, from a peer that never said hello");
    app.add_option("--forged", forged, "with --forge-reply: MSG_ID SAGA_ID of the reply")->expected(2);
    app.add_option("--rounds", rounds, "how many times")->check(CLI::Range(1, 1000000));
    int big_mib = 10;
    app.add_option("--big-frame-mib", big_mib, "with --worker: the size of the oversized frame")->check(CLI::Range(2, 200));
    app.add_option("--seed", seed, "random seed");
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (!forge.empty()) return ForgeReply(forge, forged) ? 0 : 1;
    if (worker.empty() && admin.empty() && raw.empty()) {
        std::fprintf(stderr, "sagaflow-vandal: give --worker, --admin, --raw or --forge-reply\n");
        return 2;
    }
    std::mt19937_64 rng(seed);
    Tally t;
    try {
        if (!worker.empty()) Worker(worker, rounds, big_mib, rng, t);
        if (!admin.empty()) Admin(admin, rounds, rng, t);
        if (!raw.empty()) Raw(raw, rounds, rng, t);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sagaflow-vandal: %s\n", e.what());
        return 1;
    }
    std::printf(
        R"({"worker_frames":%d,"admin_requests":%d,"admin_bad_expected":%d,"admin_error_replies":%d,"admin_unanswered":%d,"raw_connections":%d})"
        "\n",
        t.worker_frames, t.admin_requests, t.admin_bad_expected, t.admin_error_replies, t.admin_unanswered,
        t.raw_connections);
    return t.admin_error_replies == t.admin_requests ? 0 : 1;
}
