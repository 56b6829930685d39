// Transport micro-benchmark: ROUTER <-> DEALER over TCP loopback, carrying real command
// and reply envelopes (encode and decode included). Prints round-trip latency and
// messages per second. A program, not a test: `build/dev/bench/transport_bench [N]`.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "sagaflow/core/ids.hpp"
#include "sagaflow/protocol/envelope.hpp"
#include "socket.hpp"

using namespace sagaflow;
using Clock = std::chrono::steady_clock;

namespace {

protocol::Envelope Command() {
    protocol::Envelope e;
    e.kind = protocol::Kind::kCommand;
    e.msg_id = NewUuid();
    e.saga_id = NewUuid();
    e.trace_id = NewUuid();
    e.workflow = "order_fulfilment";
    e.workflow_version = 1;
    e.step = e.action = "charge_payment";
    e.queue = "payment";
    e.attempt = 1;
    e.business_key = "order-123456";
    e.payload = {{"input", {{"order_id", "o-1"}, {"customer", "c-9"}, {"amount", 4200}}},
                 {"context", {{"reserve_inventory", {{"reservation", 77}}}}}};
    return e;
}

transport::Received Wait(transport::Socket& s) {
    while (true) {
        if (auto m = s.TryReceive()) return *m;
        transport::Poll({&s}, std::chrono::milliseconds(100));
    }
}

// Worker side: decode the command, answer a reply envelope.
std::string Answer(const std::string& frame) {
    auto cmd = protocol::DecodeEnvelope(frame);
    protocol::Envelope r;
    r.kind = protocol::Kind::kReply;
    r.msg_id = cmd->msg_id;
    r.saga_id = cmd->saga_id;
    r.trace_id = cmd->trace_id;
    r.output = {{"charged", 4200}};
    return protocol::EncodeEnvelope(r);
}

}  // namespace

int main(int argc, char** argv) {
    const int n = argc > 1 ? std::atoi(argv[1]) : 20000;
    transport::Context ctx;
    transport::Socket router(ctx, transport::SocketKind::kRouter);
    const std::string endpoint = router.Bind("tcp://127.0.0.1:*");
    transport::SocketOptions o;
    o.routing_id = "bench-worker";
    transport::Socket dealer(ctx, transport::SocketKind::kDealer, o);
    dealer.Connect(endpoint);
    dealer.Send("hello");
    const std::string peer = Wait(router).peer;
    const std::string frame = protocol::EncodeEnvelope(Command());

    // 1. Ping-pong: one command out, one reply back, one at a time.
    std::vector<double> rtt_us;
    rtt_us.reserve(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        const auto t0 = Clock::now();
        router.Send(frame, peer);
        dealer.Send(Answer(Wait(dealer).frames[0]));
        (void)protocol::DecodeEnvelope(Wait(router).frames[0]);
        rtt_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(rtt_us.begin(), rtt_us.end());
    auto pct = [&](double p) { return rtt_us[static_cast<std::size_t>(p * (rtt_us.size() - 1))]; };

    // 2. Throughput: up to 1000 commands in flight.
    const int window = 1000;
    int sent = 0, answered = 0, received = 0;
    const auto t0 = Clock::now();
    while (received < n) {
        while (sent < n && sent - received < window && router.Send(frame, peer)) ++sent;
        while (auto m = dealer.TryReceive()) {
            dealer.Send(Answer(m->frames[0]));
            ++answered;
        }
        while (auto m = router.TryReceive()) {
            (void)protocol::DecodeEnvelope(m->frames[0]);
            ++received;
        }
        if (answered == received && sent == received) continue;
        transport::Poll({&router, &dealer}, std::chrono::milliseconds(10));
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("transport_bench: %d commands of %zu bytes over %s\n", n, frame.size(), endpoint.c_str());
    std::printf("  round trip (one in flight): p50 %.1f us, p99 %.1f us, max %.1f us\n", pct(0.5),
                pct(0.99), rtt_us.back());
    std::printf("  throughput (%d in flight): %.0f command+reply pairs/s (%.0f messages/s)\n", window,
                n / secs, 2 * n / secs);
    return 0;
}
