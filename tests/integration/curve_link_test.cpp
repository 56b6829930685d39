// CurveZMQ on the worker port, in one process with real sockets and real PostgreSQL: a
// listed worker runs sagas through the gatekeeper while strangers try every way in, each
// refused and counted by its reason (handshakes and refused hellos), and serving goes on.
// The threads here (node loop, gatekeeper, workers) make it one of the TSan preset's.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "allow_list.hpp"
#include "curve.hpp"
#include "eventually.hpp"
#include "keys.hpp"
#include "messaging_fixture.hpp"
#include "raw_tcp.hpp"
#include "socket.hpp"

namespace sagaflow::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using transport::Context;
using transport::Socket;
using transport::SocketKind;

class CurveLinkTest : public MessagingTest {
protected:
    CurveLinkTest() : dir_(fs::temp_directory_path() / ("sagaflow-curve-" + std::to_string(::getpid()))) {
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        sagad_ = Pair("sagad");
        worker_ = Pair("w1");
        inventory_ = Pair("inventory-1");
        stranger_ = Pair("stranger");
        const std::string list = "w1 " + worker_.public_key + " *\n" + "inventory-1 " + inventory_.public_key +
                                 " inventory\n";
        ring_ = std::make_unique<security::KeyRing>(security::AllowList::Parse(list, "test").value());
        endpoint_ = StartNode(runtime::WorkerCurve{sagad_.secret_key, ring_.get()});
    }
    ~CurveLinkTest() override {
        std::error_code ignored;
        fs::remove_all(dir_, ignored);
    }

    transport::CurveKeyPair Pair(const std::string& name) {
        return security::WriteKeyPair((dir_ / name).string(), name).value();
    }
    ThreadWorker::Keys FilesOf(const std::string& name) const {
        return {(dir_ / (name + ".secret")).string(), (dir_ / "sagad.pub").string()};
    }
    // A DEALER that says hello for `queue`, with `keys` (none: plain).
    std::unique_ptr<Socket> Dealer(std::optional<transport::CurveClientKeys> keys, const std::string& id,
                                   const std::string& queue) {
        transport::SocketOptions o;
        o.routing_id = id;
        o.linger_ms = 0;
        o.curve_client = std::move(keys);
        auto s = std::make_unique<Socket>(ctx_, SocketKind::kDealer, o);
        s->Connect(endpoint_);
        const json hello{{"v", 1}, {"kind", "hello"}, {"worker_id", id}, {"queues", {queue}}, {"capacity", 1}};
        (void)s->Send(hello.dump());
        return s;
    }
    int Port() const { return std::stoi(endpoint_.substr(endpoint_.rfind(':') + 1)); }

    fs::path dir_;
    transport::CurveKeyPair sagad_, worker_, inventory_, stranger_;
    std::unique_ptr<security::KeyRing> ring_;
    std::string endpoint_;
    Context ctx_;
};

TEST_F(CurveLinkTest, AListedWorkerRunsSagasThroughTheGatekeeper) {
    ThreadWorker w(endpoint_, "w1", worker_db_, {"inventory", "payment", "logistics"}, 4, 32, {}, FilesOf("w1"));
    auto ids = StartSagas(4, [](int i) { return i % 2 == 0 ? json::object() : json{{"fail", "create_shipment"}}; });
    WaitTerminal(ids);
    for (int i = 0; i < 4; ++i) {
        EXPECT_EQ(StatusOf(ids[static_cast<std::size_t>(i)]), i % 2 == 0 ? SagaStatus::kCompleted : SagaStatus::kCompensated);
    }
    EXPECT_EQ(Effects(), 2 * 3 + 2 * 4);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
    const auto h = node_->handshakes();
    EXPECT_GE(h.completed, 1u);
    EXPECT_EQ(h.unknown_key + h.bad_crypto + h.other, 0u);
    EXPECT_EQ(Counters().refused_hellos, 0u);
}

TEST_F(CurveLinkTest, StrangersAreRefusedByReasonAndTheListedWorkerIsStillServed) {
    // sagad's key wrong in the worker's hands (stale, or someone else's server).
    auto wrong_server = Dealer(transport::CurveClientKeys{stranger_.public_key, worker_.public_key, worker_.secret_key},
                               "wrong-server", "payment");
    EXPECT_TRUE(Eventually([&] { return node_->handshakes().bad_crypto >= 1; })) << "a wrong server key";
    wrong_server.reset();
    // A valid key that is on no list.
    auto unknown = Dealer(transport::CurveClientKeys{sagad_.public_key, stranger_.public_key, stranger_.secret_key},
                          "stranger", "payment");
    EXPECT_TRUE(Eventually([&] { return node_->handshakes().unknown_key >= 1; })) << "a key not on the list";
    unknown.reset();
    // A handshake cut short: half a ZMTP greeting, then the connection closes.
    {
        RawTcp raw(Port());
        ASSERT_TRUE(raw.connected());
        raw.Send(std::string("\xff\0\0\0\0", 5));
    }
    EXPECT_TRUE(Eventually([&] { return node_->handshakes().other >= 1; })) << "a truncated handshake";
    // No key at all: a mechanism mismatch, which each side may notice first: sagad counts
    // bad_crypto when it reads the greeting, other_failures when the worker hung up first.
    const auto refused = [&] { return node_->handshakes().bad_crypto + node_->handshakes().other; };
    const auto refused_before = refused();
    auto plain = Dealer(std::nullopt, "plain", "payment");
    EXPECT_TRUE(Eventually([&] { return refused() > refused_before; })) << "no key";
    plain.reset();
    // A listed key claiming a queue it may not serve: refused, and told why.
    Context ctx;
    transport::SocketOptions o;
    o.routing_id = "inventory-evil";
    o.linger_ms = 0;
    o.curve_client = transport::CurveClientKeys{sagad_.public_key, inventory_.public_key, inventory_.secret_key};
    Socket evil(ctx, SocketKind::kDealer, o);
    evil.Connect(endpoint_);
    (void)evil.Send(json{{"v", 1}, {"kind", "hello"}, {"worker_id", "inventory-evil"}, {"queues", {"payment"}},
                         {"capacity", 1}}.dump());
    std::optional<transport::Received> refusal;
    ASSERT_TRUE(Eventually([&] {
        if (transport::Poll({&evil}, std::chrono::milliseconds(50))[0]) refusal = evil.TryReceive();
        return refusal.has_value();
    })) << "no answer to the refused hello";
    ASSERT_EQ(refusal->frames.size(), 1u);
    const json body = json::parse(refusal->frames[0], nullptr, false);
    EXPECT_EQ(body.value("kind", ""), "refused") << refusal->frames[0];
    EXPECT_NE(body.value("reason", "").find("payment"), std::string::npos) << refusal->frames[0];
    EXPECT_EQ(Counters().refused_hellos, 1u);

    // None of them is a worker; the listed one is served as before.
    ThreadWorker w(endpoint_, "w1", worker_db_, {"inventory", "payment", "logistics"}, 4, 32, {}, FilesOf("w1"));
    auto ids = StartSagas(2, [](int) { return json::object(); });
    WaitTerminal(ids);
    EXPECT_EQ(StatusOf(ids[0]), SagaStatus::kCompleted);
    EXPECT_EQ(StatusOf(ids[1]), SagaStatus::kCompleted);
    EXPECT_EQ(Effects(), 6);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
}

}  // namespace
}  // namespace sagaflow::testing
