// Steps as reliable messages over real ZeroMQ sockets to real workers, with PostgreSQL on
// both sides. Faults come from the fault proxy on the socket path, never from sleeping.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "eventually.hpp"
#include "fault_proxy.hpp"
#include "messaging_fixture.hpp"
#include "socket.hpp"

namespace sagaflow::testing {
namespace {

using nlohmann::json;
const std::vector<std::string> kAllQueues{"inventory", "payment", "logistics"};

json Plain(int) { return json::object(); }

TEST_F(MessagingTest, ThreeStepSagasRunThroughRealWorkers) {
    const std::string endpoint = StartNode();
    ThreadWorker w(endpoint, "w1", worker_db_, kAllQueues);
    auto ids = StartSagas(2, [](int i) { return i == 0 ? json::object() : json{{"fail", "create_shipment"}}; });
    WaitTerminal(ids);
    EXPECT_EQ(StatusOf(ids[0]), SagaStatus::kCompleted);
    EXPECT_EQ(StatusOf(ids[1]), SagaStatus::kCompensated);
    EXPECT_EQ(Effects("saga_id = '" + ids[0].str() + "'"), 3);
    // Saga 2: reserve, charge, then their undos; the failed shipment wrote nothing.
    EXPECT_EQ(Effects("saga_id = '" + ids[1].str() + "'"), 4);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
}

TEST_F(MessagingTest, ACompensationNoConnectedWorkerServesIsNotedAndWaitsUntilOneJoins) {
    const std::string endpoint = StartNode();
    ThreadWorker others(endpoint, "others", worker_db_, {"payment", "logistics"});
    // An inventory build that handles reserve_inventory only (its hello says so).
    worker::WorkerOptions o;
    o.endpoint = endpoint;
    o.worker_id = "reserve-only";
    o.dsn = worker_db_.dsn();
    o.schema = worker_db_.name();
    o.heartbeat_interval = std::chrono::milliseconds(100);
    worker::Worker reserve_only(o);
    reserve_only.Handle("inventory", "reserve_inventory", [](worker::StepContext&) { return worker::StepResult::Ok(); });
    std::thread run([&] { reserve_only.Run(); });
    auto ids = StartSagas(1, [](int) { return json{{"fail", "charge_payment"}}; });
    const SagaId id = ids[0];
    auto notes = [&] {
        return node_->Submit<int>([&](engine::Engine& e, runtime::WorkerLink&) {
            const Result<engine::SagaView> view = e.Describe(id);
            if (!view.ok()) return -1;
            const std::vector<engine::HistoryEvent>& history = view.value().history;
            return static_cast<int>(std::count_if(history.begin(), history.end(), [](const engine::HistoryEvent& h) {
                return h.kind == "unserved" && h.node == "reserve_inventory";
            }));
        });
    };
    ASSERT_TRUE(Eventually([&] { return notes() == 1; })) << "release_inventory waits, and the saga's history says why";
    const auto unserved = node_->Submit<std::vector<engine::UnservedAction>>(
        [](engine::Engine& e, runtime::WorkerLink&) { return e.dispatcher().Gauges().unserved; });
    ASSERT_EQ(unserved.size(), 1u);
    EXPECT_EQ(unserved[0].queue, "inventory");
    EXPECT_EQ(unserved[0].action, "release_inventory");
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompensating);

    ThreadWorker inventory(endpoint, "inventory", worker_db_, {"inventory"});  // serves the whole queue
    WaitTerminal(ids);
    EXPECT_EQ(StatusOf(id), SagaStatus::kCompensated);
    EXPECT_EQ(notes(), 1) << "one note for the one attempt";
    reserve_only.Stop();
    run.join();
}

TEST_F(MessagingTest, DroppedCommandIsResentAndRunsOnce) {
    tools::FaultProxy proxy(StartNode(), {});
    proxy.DropNextCommands(1);
    ThreadWorker w(proxy.Start(), "w1", worker_db_, kAllQueues);
    auto ids = StartSagas(1, Plain);
    WaitTerminal(ids);
    EXPECT_EQ(StatusOf(ids[0]), SagaStatus::kCompleted);
    EXPECT_EQ(proxy.counters().dropped, 1u);
    EXPECT_EQ(Effects(), 3);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
}

TEST_F(MessagingTest, DuplicatedCommandRunsOnce) {
    tools::FaultProxy proxy(StartNode(), {});
    proxy.DuplicateNextCommands(3);
    ThreadWorker w(proxy.Start(), "w1", worker_db_, kAllQueues);
    auto ids = StartSagas(1, Plain);
    WaitTerminal(ids);
    EXPECT_EQ(proxy.counters().duplicated, 3u);
    EXPECT_EQ(Effects(), 3);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
    const auto s = w.worker().stats();
    EXPECT_GE(s.inbox_hits + s.retries, 1u)
        << "each copy was answered from the inbox, or refused while the first ran";
}

TEST_F(MessagingTest, DroppedReplyIsAnsweredFromTheInboxOnResend) {
    tools::FaultProxy proxy(StartNode(), {});
    proxy.DropNextReplies(1);
    ThreadWorker w(proxy.Start(), "w1", worker_db_, kAllQueues);
    auto ids = StartSagas(1, Plain);
    WaitTerminal(ids);
    EXPECT_EQ(StatusOf(ids[0]), SagaStatus::kCompleted);
    EXPECT_EQ(Effects(), 3);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
    const auto s = w.worker().stats();
    EXPECT_GE(s.inbox_hits + s.replies_resent, 1u) << "either the worker resent its reply or "
                                                      "sagad resent the command";
}

TEST_F(MessagingTest, SecondWorkerTakesOverFromOneThatDies) {
    tools::FaultProxy proxy(StartNode(), {});
    const std::string front = proxy.Start();
    ThreadWorker a(front, "a", worker_db_, kAllQueues);
    proxy.CutOff("a");  // a is unreachable from now on: to sagad it has died
    ThreadWorker b(front, "b", worker_db_, kAllQueues);
    auto ids = StartSagas(5, Plain);
    WaitTerminal(ids);
    for (const auto& id : ids) EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);
    EXPECT_EQ(Effects(), 15);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
}

// Two workers behind a faulty proxy; `sagas` sagas, one in five failing at its last step
// so compensations cross the faulty path too. Checks every saga ended as it should with
// exactly one business effect per (saga, step, phase) that should have one.
class FaultyPathTest : public MessagingTest {
protected:
    void RunOneInFiveFailing(const std::string& front, int sagas, std::chrono::seconds limit) {
        ThreadWorker w1(front, "w1", worker_db_, kAllQueues, 8);
        ThreadWorker w2(front, "w2", worker_db_, kAllQueues, 8);
        auto ids = StartSagas(sagas, [](int i) {
            return i % 5 == 0 ? json{{"fail", "create_shipment"}} : json::object();
        });
        WaitTerminal(ids, limit);
        const int failing = (sagas + 4) / 5, ok = sagas - failing;
        auto c = orchestrator_db_.Connect();
        EXPECT_EQ(c->Exec("SELECT count(*) FROM sagas WHERE state_code = 3").Int(0, 0), ok);
        EXPECT_EQ(c->Exec("SELECT count(*) FROM sagas WHERE state_code = 4").Int(0, 0), failing);
        // ok x 3 forward + failing x (2 forward + 2 compensations).
        EXPECT_EQ(Effects(), ok * 3 + failing * 4);
        EXPECT_EQ(MaxEffectsPerKey(), 1);
    }
};

TEST_F(FaultyPathTest, LossyNetworkBothWaysKeepsEveryEffectExactlyOnce) {
    tools::FaultOptions faults;
    faults.drop_to_worker = 0.10;
    faults.dup_to_worker = 0.10;
    faults.drop_to_sagad = 0.10;
    faults.dup_to_sagad = 0.10;
    faults.seed = 20261122;
    tools::FaultProxy proxy(StartNode(), faults);
    constexpr int kSagas = 500;
    RunOneInFiveFailing(proxy.Start(), kSagas, std::chrono::seconds(240));
    // Business rows against inbox rows that ran a handler successfully.
    auto inbox = worker_db_.Connect()->Exec(
        "SELECT count(*) FROM sagaflow_inbox WHERE outcome = 'ok'"
        " AND NOT (reply->'output' ? 'compensated')");
    EXPECT_EQ(inbox.Int(0, 0), Effects());
    EXPECT_GT(proxy.counters().dropped, 50u);
    EXPECT_GT(proxy.counters().duplicated, 50u);
    std::cout << "[ figure ] lossy run: " << kSagas << " sagas, " << proxy.counters().dropped
              << " messages dropped, " << proxy.counters().duplicated << " duplicated, "
              << MaxEffectsPerKey() << " max effects per (saga, step, phase)\n";
}

TEST_F(FaultyPathTest, DelayedAndReorderedMessagesKeepEveryEffectExactlyOnce) {
    tools::FaultOptions faults;
    faults.delay = 0.2;
    faults.max_delay = std::chrono::milliseconds(40);
    faults.reorder = 0.2;
    faults.dup_to_worker = 0.05;
    faults.dup_to_sagad = 0.05;
    faults.seed = 5;
    tools::FaultProxy proxy(StartNode(), faults);
    RunOneInFiveFailing(proxy.Start(), 150, std::chrono::seconds(120));
    EXPECT_GT(proxy.counters().delayed, 50u);
    EXPECT_GT(proxy.counters().reordered, 50u);
}

TEST_F(MessagingTest, WorkerHungPastItsDeadlineIsOvertakenAndItsLateReplyIgnored) {
    const std::string endpoint = StartNode();
    std::atomic<bool> hanging{false}, release{false};
    // "slow" holds create_shipment, effect written and uncommitted, until the test lets go.
    ThreadWorker slow(endpoint, "slow", worker_db_, kAllQueues, 4, 32, [&](worker::StepContext& ctx) {
        if (ctx.action() != "create_shipment") return;
        hanging = true;
        const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while (!release && std::chrono::steady_clock::now() < limit) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // the hang itself
        }
    });
    auto ids = StartSagas(1, Plain);
    auto wait_until = [](const std::function<bool()>& done, std::chrono::seconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!done() && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
        }
        return done();
    };
    ASSERT_TRUE(wait_until([&] { return hanging.load(); }, std::chrono::seconds(30)));
    ThreadWorker fast(endpoint, "fast", worker_db_, kAllQueues);
    // Past the deadline the command is resent; the copies find the step busy until its
    // attempts run out, and the saga moves on to compensate it.
    ASSERT_TRUE(wait_until([&] { return StatusOf(ids[0]) == SagaStatus::kCompensating; }, std::chrono::seconds(60)));
    EXPECT_GE(fast.worker().stats().commands, 1u) << "the resend went to the other worker";
    release = true;  // the hung transaction commits now, and its reply arrives late
    WaitTerminal(ids);
    EXPECT_EQ(StatusOf(ids[0]), SagaStatus::kCompensated);
    EXPECT_EQ(Effects("action = 'create_shipment'"), 1) << "the hung copy's effect, committed late";
    EXPECT_EQ(Effects("action = 'cancel_shipment'"), 1) << "and undone, because its outcome was unknown";
    EXPECT_EQ(MaxEffectsPerKey(), 1);
    auto c = orchestrator_db_.Connect();
    EXPECT_GE(c->Exec("SELECT count(*) FROM saga_events, jsonb_array_elements(events) e"
                      " WHERE e->>'kind' = 'reply_ignored' AND saga_id = '" +
                      ids[0].str() + "'")
                  .Int(0, 0),
              1)
        << "the late reply was recorded and ignored";
}

TEST_F(MessagingTest, GarbageOnTheRouterIsCountedAndServiceGoesOn) {
    const std::string endpoint = StartNode();
    transport::Context ctx;
    transport::SocketOptions o;
    o.routing_id = "vandal";
    transport::Socket vandal(ctx, transport::SocketKind::kDealer, o);
    vandal.Connect(endpoint);
    std::mt19937 rng(7);
    std::string random_bytes(4096, '\0');
    for (char& ch : random_bytes) ch = static_cast<char>(rng());
    const std::vector<std::string> garbage{
        random_bytes,
        "",
        R"({"v":2,"kind":"hello","worker_id":"x","queues":[],"capacity":1})",
        R"({"v":1,"kind":"reply"})",
        R"({"v":1,"kind":"reply","msg_id":"not-a-uuid","saga_id":"","trace_id":"","outcome":"ok"})",
        R"({"v":1,"kind":"teleport"})",
        R"({"v":1,"kind":"hello","worker_id":"v","queues":["no_such_queue"],"capacity":1})",
        R"({"v":1,"kind":"reply","msg_id":"00000000-0000-4000-8000-000000000000","saga_id":"",)"
        R"("trace_id":"","outcome":"ok"})",
        "[1,2,3]",
    };
    for (const auto& g : garbage) ASSERT_TRUE(vandal.Send(g));
    // 10 MiB: over ZMQ_MAXMSGSIZE, so libzmq drops that peer before allocating the frame.
    o.routing_id = "vandal-big";
    transport::Socket big(ctx, transport::SocketKind::kDealer, o);
    big.Connect(endpoint);
    ASSERT_TRUE(big.Send(std::string(10 << 20, 'x')));
    ThreadWorker w(endpoint, "honest", worker_db_, kAllQueues);
    auto ids = StartSagas(3, Plain);
    WaitTerminal(ids);
    for (const auto& id : ids) EXPECT_EQ(StatusOf(id), SagaStatus::kCompleted);
    const runtime::LinkCounters c = Counters();
    EXPECT_EQ(c.bad_version, 1u);
    EXPECT_EQ(c.malformed_frames, 6u);  // random, empty, 2 bad replies, bad kind, array
    EXPECT_EQ(c.unknown_queue_claims, 1u);
    EXPECT_EQ(c.unknown_msg_replies, 1u);  // the "v" hello registered it: a worker's reply for no command
}

// A stand-in sagad: the test owns the ROUTER and speaks to one worker directly.
class DirectWorkerTest : public MessagingTest {
protected:
    DirectWorkerTest() : router_(ctx_, transport::SocketKind::kRouter) {
        endpoint_ = router_.Bind("tcp://127.0.0.1:*");
    }

    protocol::Envelope Command(const std::string& msg_id, Phase phase, int step_index = 0) {
        protocol::Envelope e;
        e.kind = protocol::Kind::kCommand;
        e.msg_id = msg_id;
        e.saga_id = saga_;
        e.trace_id = "t";
        e.workflow = "fast_order";
        e.workflow_version = 1;
        e.step = "reserve_inventory";
        e.step_index = step_index;
        e.action = phase == Phase::kForward ? "reserve_inventory" : "release_inventory";
        e.queue = "inventory";
        e.phase = phase;
        e.attempt = 1;
        e.payload = {{"input", json::object()}, {"context", json::object()}};
        return e;
    }

    // Sends `cmd` to the worker and waits (bounded) for its reply.
    protocol::Envelope RoundTrip(const protocol::Envelope& cmd) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < deadline) {
            if (peer_.empty() || !router_.Send(protocol::EncodeEnvelope(cmd), peer_)) {
                if (auto m = Receive()) peer_ = m->peer;
                continue;
            }
            while (std::chrono::steady_clock::now() < deadline) {
                auto m = Receive();
                if (!m) continue;
                auto e = protocol::DecodeEnvelope(m->frames.at(0));
                if (e.ok() && e->kind == protocol::Kind::kReply && e->msg_id == cmd.msg_id) {
                    protocol::Envelope ack;
                    ack.kind = protocol::Kind::kAck;
                    ack.msg_id = cmd.msg_id;
                    (void)router_.Send(protocol::EncodeEnvelope(ack), peer_);
                    return *e;
                }
            }
        }
        ADD_FAILURE() << "no reply to " << cmd.msg_id;
        return {};
    }

    // Options for a worker of this test's own, connected to the stand-in sagad.
    worker::WorkerOptions WorkerNamed(const std::string& id) {
        worker::WorkerOptions o;
        o.endpoint = endpoint_;
        o.worker_id = id;
        o.dsn = worker_db_.dsn();
        o.schema = worker_db_.name();
        o.heartbeat_interval = std::chrono::milliseconds(100);
        return o;
    }

    std::optional<transport::Received> Receive() {
        if (!transport::Poll({&router_}, std::chrono::milliseconds(100))[0]) return std::nullopt;
        return router_.TryReceive();
    }

    transport::Context ctx_;
    transport::Socket router_;
    std::string endpoint_;
    std::string peer_;
    std::string saga_ = NewUuid();
};

TEST_F(DirectWorkerTest, CompensationBeforeItsForwardActionIsDoneNothingAndTheForwardIsRefused) {
    ThreadWorker w(endpoint_, "inv", worker_db_, {"inventory"});
    const auto undo = RoundTrip(Command(NewUuid(), Phase::kCompensate));
    EXPECT_EQ(undo.outcome, ReplyOutcome::kOk);
    EXPECT_EQ(undo.output, (json{{"compensated", false}}));
    const auto late_forward = RoundTrip(Command(NewUuid(), Phase::kForward));
    EXPECT_EQ(late_forward.outcome, ReplyOutcome::kFail);
    EXPECT_NE(late_forward.reason.find("compensated before it ran"), std::string::npos);
    EXPECT_EQ(Effects(), 0) << "neither ran its handler";
    EXPECT_EQ(w.worker().stats().compensations_without_forward, 1u);
    EXPECT_EQ(w.worker().stats().forwards_after_compensation, 1u);
}

TEST_F(DirectWorkerTest, TheSameCommandTwiceRunsTheHandlerOnceAndRepliesTheSame) {
    ThreadWorker w(endpoint_, "inv", worker_db_, {"inventory"});
    const auto cmd = Command(NewUuid(), Phase::kForward);
    const auto first = RoundTrip(cmd);
    const auto second = RoundTrip(cmd);
    EXPECT_EQ(first.outcome, ReplyOutcome::kOk);
    EXPECT_EQ(second.output, first.output);
    EXPECT_EQ(Effects(), 1);
    EXPECT_EQ(w.worker().stats().handler_runs, 1u);
}

TEST_F(DirectWorkerTest, AHandlerThatOptsOutOfTheInboxRunsEveryTime) {
    worker::Worker w(WorkerNamed("idem"));
    std::atomic<int> runs{0};
    w.Register("inventory", [&](worker::StepContext&) {
        ++runs;
        return worker::StepResult::Ok();
    }, worker::HandlerOptions{.use_inbox = false});
    std::thread t([&] { w.Run(); });
    const auto cmd = Command(NewUuid(), Phase::kForward);
    RoundTrip(cmd);
    RoundTrip(cmd);
    w.Stop();
    t.join();
    EXPECT_EQ(runs, 2);
    EXPECT_EQ(worker_db_.Connect()->Exec("SELECT count(*) FROM sagaflow_inbox").Int(0, 0), 0);
}

TEST_F(DirectWorkerTest, AThrowingHandlerAnswersRetryAndLeavesNoTrace) {
    worker::Worker w(WorkerNamed("flaky"));
    std::atomic<int> runs{0};
    w.Register("inventory", [&](worker::StepContext& ctx) {
        ctx.tx().Exec("INSERT INTO effects (action) VALUES ('half done')");
        if (++runs == 1) throw std::runtime_error("database hiccup");
        return worker::StepResult::Ok();
    });
    std::thread t([&] { w.Run(); });
    const auto cmd = Command(NewUuid(), Phase::kForward);
    const auto first = RoundTrip(cmd);
    EXPECT_EQ(first.outcome, ReplyOutcome::kRetry);
    EXPECT_NE(first.reason.find("database hiccup"), std::string::npos);
    EXPECT_EQ(Effects(), 0) << "the throw rolled the write back";
    EXPECT_EQ(RoundTrip(cmd).outcome, ReplyOutcome::kOk) << "a retry is not stored";
    w.Stop();
    t.join();
    EXPECT_EQ(Effects(), 1);
}

TEST_F(DirectWorkerTest, HandlersSeeTheCommandsTraceparent) {
    worker::Worker w(WorkerNamed("traced"));
    std::mutex mu;
    std::string seen;
    w.Register("inventory", [&](worker::StepContext& ctx) {
        std::lock_guard lock(mu);
        seen = ctx.traceparent();
        return worker::StepResult::Ok();
    });
    std::thread t([&] { w.Run(); });
    auto cmd = Command(NewUuid(), Phase::kForward);
    cmd.traceparent = protocol::MakeTraceParent(NewUuid(), cmd.msg_id);
    EXPECT_EQ(RoundTrip(cmd).outcome, ReplyOutcome::kOk);
    w.Stop();
    t.join();
    std::lock_guard lock(mu);
    EXPECT_EQ(seen, cmd.traceparent);
    EXPECT_TRUE(protocol::IsTraceParent(seen));
}

// A user's input type, decoded by ctx.input<Reservation>() through ADL from_json.
struct Reservation {
    std::string sku;
    int qty = 0;
};
void from_json(const json& j, Reservation& r) {
    j.at("sku").get_to(r.sku);
    j.at("qty").get_to(r.qty);
}

TEST_F(DirectWorkerTest, EachActionHasItsOwnHandlerAndTheIdsArriveTyped) {
    worker::Worker w(WorkerNamed("typed"));
    std::mutex mu;
    std::vector<std::string> ran;
    SagaId saga;
    MsgId msg;
    w.Handle("inventory", "reserve_inventory", [&](worker::StepContext& ctx) {
        const auto r = ctx.input<Reservation>();
        ctx.tx().Exec("INSERT INTO effects (action) VALUES ($1)", {ctx.action()});
        std::lock_guard lock(mu);
        ran.push_back("reserve " + r.sku + " x" + std::to_string(r.qty));
        saga = ctx.saga_id();
        msg = ctx.msg_id();
        return worker::StepResult::Ok({{"reserved", r.qty}});
    });
    w.Handle("inventory", "release_inventory", [&](worker::StepContext&) {
        std::lock_guard lock(mu);
        ran.push_back("release");
        return worker::StepResult::Ok();
    });
    std::thread t([&] { w.Run(); });
    auto forward = Command(NewUuid(), Phase::kForward);
    forward.payload["input"] = {{"sku", "pen"}, {"qty", 2}};
    EXPECT_EQ(RoundTrip(forward).output, (json{{"reserved", 2}}));
    EXPECT_EQ(RoundTrip(Command(NewUuid(), Phase::kCompensate)).outcome, ReplyOutcome::kOk);
    w.Stop();
    t.join();
    std::lock_guard lock(mu);
    EXPECT_EQ(ran, (std::vector<std::string>{"reserve pen x2", "release"}));
    EXPECT_EQ(saga, SagaId(saga_));
    EXPECT_EQ(msg, MsgId(forward.msg_id));
}

TEST_F(DirectWorkerTest, AnInputThatDoesNotDecodeFailsForGoodNamingTheField) {
    worker::Worker w(WorkerNamed("strict"));
    std::atomic<int> runs{0};
    w.Handle("inventory", "reserve_inventory", [&](worker::StepContext& ctx) {
        ++runs;
        ctx.tx().Exec("INSERT INTO effects (action) VALUES ('before decoding')");
        const auto r = ctx.input<Reservation>();
        return worker::StepResult::Ok({{"qty", r.qty}});
    });
    std::thread t([&] { w.Run(); });
    auto cmd = Command(NewUuid(), Phase::kForward);
    cmd.payload["input"] = {{"sku", "pen"}};  // no qty
    const auto first = RoundTrip(cmd);
    const auto again = RoundTrip(cmd);
    w.Stop();
    t.join();
    EXPECT_EQ(first.outcome, ReplyOutcome::kFail);
    EXPECT_NE(first.reason.find("key 'qty' not found"), std::string::npos) << first.reason;
    EXPECT_NE(first.reason.find("reserve_inventory"), std::string::npos) << first.reason;
    EXPECT_EQ(again.outcome, ReplyOutcome::kFail) << "stored: a resend does not run it again";
    EXPECT_EQ(runs, 1);
    EXPECT_EQ(Effects(), 0) << "the failure rolled the handler's write back";
}

TEST_F(DirectWorkerTest, PermanentAndListedExceptionsFailForGoodOthersAreRetried) {
    worker::Worker w(WorkerNamed("policy"));
    w.Handle("inventory", "reserve_inventory", [](worker::StepContext& ctx) -> worker::StepResult {
        const std::string kind = ctx.input().at("throw").get<std::string>();
        if (kind == "permanent") throw worker::Permanent("card declined");
        if (kind == "listed") throw std::out_of_range("no such sku");  // a std::logic_error
        throw std::runtime_error("timeout talking to the warehouse");
    }, worker::HandlerOptions{}.PermanentOn<std::logic_error>());
    std::thread t([&] { w.Run(); });
    const auto run = [&](const std::string& kind) {
        auto cmd = Command(NewUuid(), Phase::kForward, static_cast<int>(kind.size()));  // a step each
        cmd.payload["input"] = {{"throw", kind}};
        return RoundTrip(cmd);
    };
    const auto permanent = run("permanent"), listed = run("listed"), other = run("other");
    w.Stop();
    t.join();
    EXPECT_EQ(permanent.outcome, ReplyOutcome::kFail);
    EXPECT_EQ(permanent.reason, "card declined");
    EXPECT_EQ(listed.outcome, ReplyOutcome::kFail) << "std::out_of_range is a listed std::logic_error";
    EXPECT_EQ(listed.reason, "no such sku");
    EXPECT_EQ(other.outcome, ReplyOutcome::kRetry) << "anything else stays transient";
    EXPECT_EQ(w.stats().retries, 1u);
}

TEST_F(DirectWorkerTest, AnActionNobodyHandlesIsRetriedAndRegisteringTwiceIsRefused) {
    worker::Worker w(WorkerNamed("partial"));
    w.Handle("inventory", "reserve_inventory", [](worker::StepContext&) { return worker::StepResult::Ok(); });
    const auto refused = [&](auto&& call) {
        try {
            call();
        } catch (const Error& e) {
            return e.code() == ErrorCode::kInvalidArgument;
        }
        return false;
    };
    const worker::Handler ok = [](worker::StepContext&) { return worker::StepResult::Ok(); };
    EXPECT_TRUE(refused([&] { w.Handle("inventory", "reserve_inventory", ok); })) << "the same action twice";
    EXPECT_TRUE(refused([&] { w.Register("inventory", ok); })) << "a queue served per action, then whole";
    w.Register("payment", ok);
    EXPECT_TRUE(refused([&] { w.Register("payment", ok); })) << "the same queue twice";
    EXPECT_TRUE(refused([&] { w.Handle("payment", "charge", ok); })) << "a whole queue, then per action";
    EXPECT_TRUE(refused([&] { w.Handle("inventory", "release_inventory", ok, {.use_inbox = false}); }))
        << "the actions of one queue disagree on the inbox";
    std::thread t([&] { w.Run(); });
    auto cmd = Command(NewUuid(), Phase::kForward);
    cmd.action = "reserve_more";  // a newer workflow's action, say
    const auto reply = RoundTrip(cmd);
    w.Stop();
    t.join();
    EXPECT_EQ(reply.outcome, ReplyOutcome::kRetry);
    EXPECT_NE(reply.reason.find("no handler for action 'reserve_more'"), std::string::npos) << reply.reason;
    EXPECT_NE(reply.reason.find("it serves reserve_inventory"), std::string::npos) << reply.reason;
}

pid_t Spawn(const std::vector<std::string>& args) {
    // Built before fork: the child of a threaded process may only exec.
    std::vector<char*> argv;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    const pid_t pid = fork();
    if (pid == 0) {
        execv(argv[0], argv.data());
        _exit(127);
    }
    return pid;
}

TEST_F(MessagingTest, WorkerKilledInsideItsHandlerRunsTheStepOnceAfterRestart) {
    const std::string endpoint = StartNode();
    const std::string marker = std::filesystem::temp_directory_path() / ("sagaflow-crash-" + NewUuid());
    const std::vector<std::string> args{SAGAFLOW_TEST_WORKER, "--endpoint", endpoint, "--id", "proc",
                                        "--dsn", worker_db_.dsn(), "--schema", worker_db_.name(),
                                        "--crash-marker", marker};
    pid_t pid = Spawn(args);
    auto ids = StartSagas(1, Plain);
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);  // it dies by its own SIGKILL inside the handler
    ASSERT_TRUE(WIFSIGNALED(status));
    EXPECT_EQ(WTERMSIG(status), SIGKILL);
    ASSERT_TRUE(std::filesystem::exists(marker));
    EXPECT_EQ(Effects(), 0) << "the killed transaction left nothing";
    pid = Spawn(args);  // restarted; the marker stays, so it does not crash again
    WaitTerminal(ids);
    kill(pid, SIGTERM);
    waitpid(pid, &status, 0);
    std::filesystem::remove(marker);
    EXPECT_EQ(StatusOf(ids[0]), SagaStatus::kCompleted);
    EXPECT_EQ(Effects(), 3);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
}

// Figures for the notes, not a timed assertion: commits per step on each side, with the
// worker committing one command per transaction and then many.
TEST_F(MessagingTest, WorkerBatchingSharesOneCommitAmongCommands) {
    const std::string endpoint = StartNode();
    constexpr int kSagas = 200;
    struct Figures {
        double worker_commits_per_step;
        double orchestrator_commits_per_step;
    };
    auto run = [&](int max_batch, const std::string& id) {
        const std::int64_t orch_before = OrchestratorCommits();
        ThreadWorker w(endpoint, id, worker_db_, kAllQueues, 64, max_batch);  // 2 threads
        auto ids = StartSagas(kSagas, Plain);
        WaitTerminal(ids);
        const double steps = 3.0 * kSagas;
        w.Stop();
        const auto s = w.worker().stats();
        EXPECT_EQ(s.handler_runs, static_cast<std::uint64_t>(steps));
        return Figures{static_cast<double>(s.transactions) / steps,
                       static_cast<double>(OrchestratorCommits() - orch_before) / steps};
    };
    const Figures single = run(1, "single");
    const Figures batched = run(64, "batched");  // a fresh set of sagas
    EXPECT_DOUBLE_EQ(single.worker_commits_per_step, 1.0);
    EXPECT_LE(batched.worker_commits_per_step, 1.0);
    EXPECT_EQ(MaxEffectsPerKey(), 1);
    std::cout << "[ figure ] commits per step, " << kSagas
              << " sagas x 3 steps, worker capacity 64 on 2 threads:\n"
              << "[ figure ]   without worker batching: worker " << single.worker_commits_per_step
              << ", orchestrator " << single.orchestrator_commits_per_step << "\n"
              << "[ figure ]   with worker batching (max 64): worker "
              << batched.worker_commits_per_step << ", orchestrator "
              << batched.orchestrator_commits_per_step << "\n";
}

// PostgreSQL dies mid-run (as `pg_ctl stop -m immediate` does) and comes back: sagad's
// store and the workers reconnect on their own, and every effect still happens once.
TEST_F(MessagingTest, DatabaseRestartMidRunLosesAndDuplicatesNothing) {
    const std::string endpoint = StartNode();
    ThreadWorker w(endpoint, "w1", worker_db_, kAllQueues, 16);
    auto first = StartSagas(100, [](int i) { return i % 4 == 0 ? json{{"fail", "charge_payment"}} : json::object(); });
    // Wait until the run is well under way, then crash the database.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (Effects() < 30 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));  // poll interval
    }
    PgEnvironment::cluster().Stop();
    PgEnvironment::cluster().Start();
    WaitTerminal(first, std::chrono::seconds(120));
    auto c = orchestrator_db_.Connect();
    EXPECT_EQ(c->Exec("SELECT count(*) FROM sagas WHERE state_code = 3").Int(0, 0), 75);
    EXPECT_EQ(c->Exec("SELECT count(*) FROM sagas WHERE state_code = 4").Int(0, 0), 25);
    EXPECT_EQ(Effects(), 75 * 3 + 25 * 2);  // reserve + release for the declined ones
    EXPECT_EQ(MaxEffectsPerKey(), 1);
    // A connection the restart killed is replaced before the batch is answered: no
    // command spends an attempt on finding out.
    const std::string attempts =
        "FROM saga_events, jsonb_array_elements(events) e WHERE e->>'kind' = 'replied' AND e->'detail'->>'outcome' <> 'ok'";
    EXPECT_EQ(c->Exec("SELECT count(*) " + attempts + " AND e->'detail'->>'reason' LIKE '%server closed the connection%'")
                  .Int(0, 0),
              0) << c->Exec("SELECT string_agg(DISTINCT (e->'detail')::text, ' | ') " + attempts).Text(0, 0);
}

}  // namespace
}  // namespace sagaflow::testing
