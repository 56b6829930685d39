// The Dispatcher (the in-flight ledger) and the Scheduler, alone: pure, on a manual clock.
#include "dispatcher.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "scheduler.hpp"

namespace sagaflow::engine {
namespace {

using std::chrono::seconds;

// Records what it is handed; a worker named in `unreachable` cannot be reached.
class RecordingChannel final : public WorkerChannel {
public:
    bool Deliver(const std::string& worker, const Command& command) override {
        if (unreachable.contains(worker)) return false;
        handed.emplace_back(worker, command.msg_id.str());
        return true;
    }
    std::set<std::string> unreachable;
    std::vector<std::pair<std::string, std::string>> handed;  // (worker, msg id)
};

class DispatcherTest : public ::testing::Test {
protected:
    // A command for `queue` (of `action`), armed and due now.
    MsgId Ready(const std::string& queue, const std::string& id, const std::string& action = "act") {
        PendingRecord r;
        r.msg_id = MsgId(id);
        r.queue = queue;
        r.action = action;
        Command c;
        c.msg_id = r.msg_id;
        c.queue = queue;
        c.action = action;
        ledger_.Hold(r, c, seconds(30));
        ledger_.MakeReady(r.msg_id);
        return r.msg_id;
    }
    std::vector<std::string> HandedTo(const std::string& worker) const {
        std::vector<std::string> out;
        for (const auto& [w, id] : channel_.handed) {
            if (w == worker) out.push_back(id);
        }
        return out;
    }

    ManualClock clock_;
    RecordingChannel channel_;
    Dispatcher ledger_{channel_, clock_};
};

TEST_F(DispatcherTest, ALineWaitsForAFreeSlotAndKeepsItsOrder) {
    for (int i = 1; i <= 3; ++i) Ready("q", "m" + std::to_string(i));
    EXPECT_TRUE(ledger_.Pump().empty()) << "no worker yet";
    EXPECT_FALSE(ledger_.Deliverable());
    ledger_.Join("w", {"q"}, 1);
    EXPECT_TRUE(ledger_.Deliverable());
    const auto first = ledger_.Pump();
    ASSERT_EQ(first.size(), 1u);
    EXPECT_EQ(first[0].deadline, clock_.Now() + seconds(30));
    EXPECT_TRUE(ledger_.Pump().empty()) << "its one slot is taken";
    EXPECT_FALSE(ledger_.Deliverable()) << "nothing to do until a slot frees: no polling";
    EXPECT_TRUE(ledger_.Answered(MsgId("m1"), "w"));
    ledger_.Forget(MsgId("m1"));
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    EXPECT_TRUE(ledger_.Answered(MsgId("m2"), "w"));
    ledger_.Forget(MsgId("m2"));
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    EXPECT_EQ(HandedTo("w"), (std::vector<std::string>{"m1", "m2", "m3"}));
}

TEST_F(DispatcherTest, CommandsGoToTheLeastLoadedWorkerOfTheirQueue) {
    ledger_.Join("a", {"q"}, 4);
    ledger_.Join("b", {"q", "r"}, 4);
    for (int i = 0; i < 4; ++i) Ready("q", "q" + std::to_string(i));
    Ready("r", "r0");
    EXPECT_EQ(ledger_.Pump().size(), 5u);
    EXPECT_EQ(HandedTo("a").size(), 2u);
    EXPECT_EQ(HandedTo("b").size(), 3u) << "two of q, and r, which only b serves";
}

TEST_F(DispatcherTest, OnlyTheWorkerACommandWasHandedToMayAnswerIt) {
    ledger_.Join("a", {"q"}, 1);
    ledger_.Join("b", {"q"}, 1);
    const MsgId id = Ready("q", "m");
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    const std::string holder = channel_.handed[0].first;
    const std::string other = holder == "a" ? "b" : "a";
    EXPECT_FALSE(ledger_.Answered(id, other)) << "late: not from its worker";
    EXPECT_TRUE(ledger_.Answered(id, holder));
    EXPECT_FALSE(ledger_.Answered(id, holder)) << "a second copy is late";
}

TEST_F(DispatcherTest, AResendFreesTheSlotOfItsEarlierDelivery) {
    ledger_.Join("w", {"q"}, 1);
    const MsgId id = Ready("q", "m");
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    ledger_.MakeReady(id);  // its deadline passed: sent again
    ASSERT_EQ(ledger_.Pump().size(), 1u) << "the lost delivery does not hold the only slot";
    EXPECT_EQ(ledger_.Workers()[0].in_flight, 1);
}

TEST_F(DispatcherTest, AnUnreachableWorkerIsTakenOutAndTheCommandGoesToAnother) {
    ledger_.Join("a", {"q"}, 1);
    ledger_.Join("b", {"q"}, 1);
    channel_.unreachable = {"a"};
    Ready("q", "m");
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    EXPECT_EQ(HandedTo("b"), (std::vector<std::string>{"m"}));
    EXPECT_FALSE(ledger_.Knows("a"));
}

TEST_F(DispatcherTest, SilentWorkersExpireAndTheirRepliesBecomeLate) {
    ledger_.Join("w", {"q"}, 1);
    const MsgId id = Ready("q", "m");
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    clock_.Advance(seconds(10));
    EXPECT_EQ(ledger_.ExpireSilent(clock_.Now() - seconds(5)), (std::vector<std::string>{"w"}));
    EXPECT_FALSE(ledger_.Answered(id, "w"));
    EXPECT_EQ(ledger_.Find(id)->stage, Dispatcher::Stage::kInFlight) << "until its deadline resends it";
}

TEST_F(DispatcherTest, OnlyACommandNeverHandedOverIsSurelyUnsent) {
    const MsgId id = Ready("q", "m");
    EXPECT_TRUE(ledger_.SurelyUnsent(id));
    EXPECT_FALSE(ledger_.SentAt(id));
    ledger_.Join("w", {"q"}, 1);
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    EXPECT_FALSE(ledger_.SurelyUnsent(id));
    EXPECT_EQ(ledger_.SentAt(id), clock_.Now());
    PendingRecord r;
    r.msg_id = MsgId("recovered");
    r.queue = "q";
    ledger_.Hold(r, Command{}, seconds(30), /*recovered=*/true);
    EXPECT_FALSE(ledger_.SurelyUnsent(r.msg_id)) << "an earlier process may have sent it";
}

TEST_F(DispatcherTest, AForgottenCommandLeavesItsLineAndItsSlot) {
    ledger_.Join("w", {"q"}, 1);
    const MsgId a = Ready("q", "a");
    Ready("q", "b");
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    ledger_.Forget(a);  // answered
    Ready("q", "c");
    ledger_.Forget(MsgId("b"));  // withdrawn before it went out
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    EXPECT_EQ(HandedTo("w"), (std::vector<std::string>{"a", "c"}));
    EXPECT_EQ(ledger_.tracked(), 1u);
    EXPECT_EQ(ledger_.ready(), 0u);
}

TEST_F(DispatcherTest, ACommandNoWorkerServesWaitsAsideAndHoldsUpNothingBehindIt) {
    ledger_.Join("reserver", {"inventory"}, 4, {{"inventory", {"reserve"}}});
    Ready("inventory", "m1", "release");  // no worker serves release: a typo, or an old build
    Ready("inventory", "m2", "reserve");
    ASSERT_EQ(ledger_.Pump().size(), 1u);
    EXPECT_EQ(HandedTo("reserver"), (std::vector<std::string>{"m2"})) << "m1 at the head does not block m2";
    auto unserved = ledger_.TakeUnserved();
    ASSERT_EQ(unserved.size(), 1u);
    EXPECT_EQ(unserved[0].msg_id.str(), "m1");
    EXPECT_EQ(unserved[0].action, "release");
    Ready("inventory", "m3", "release");
    EXPECT_TRUE(ledger_.Pump().empty());
    EXPECT_FALSE(ledger_.Deliverable());
    EXPECT_EQ(ledger_.TakeUnserved().size(), 1u) << "m3 once; m1 is not reported again";
    EXPECT_TRUE(ledger_.TakeUnserved().empty());
    const auto g = ledger_.Gauges();
    ASSERT_EQ(g.unserved.size(), 1u);
    EXPECT_EQ(g.unserved[0].queue, "inventory");
    EXPECT_EQ(g.unserved[0].action, "release");
    EXPECT_EQ(g.unserved[0].commands, 2u);

    // A worker that serves the action joins: the commands set aside go to it, in order.
    ledger_.Join("releaser", {"inventory"}, 4, {{"inventory", {"release"}}});
    EXPECT_TRUE(ledger_.Deliverable());
    ASSERT_EQ(ledger_.Pump().size(), 2u);
    EXPECT_EQ(HandedTo("releaser"), (std::vector<std::string>{"m1", "m3"}));
    EXPECT_TRUE(ledger_.Gauges().unserved.empty());
}

TEST_F(DispatcherTest, AQueueWithoutWorkersWaitsInLineUnreportedAndAWholeQueueWorkerServesEveryAction) {
    Ready("q", "m1", "a");
    Ready("q", "m2", "b");
    EXPECT_TRUE(ledger_.Pump().empty());
    EXPECT_TRUE(ledger_.TakeUnserved().empty()) << "no worker at all is what start-up looks like";
    EXPECT_EQ(ledger_.Gauges().unserved.size(), 2u) << "but the gauges show both";
    ledger_.Join("any", {"q"}, 4);  // no actions named: the whole queue
    EXPECT_EQ(ledger_.Pump().size(), 2u);
    EXPECT_TRUE(ledger_.TakeUnserved().empty());
}

TEST_F(DispatcherTest, ACommandSetAsideThenWithdrawnLeavesNothingBehind) {
    ledger_.Join("w", {"q"}, 4, {{"q", {"a"}}});
    Ready("q", "m1", "b");
    EXPECT_TRUE(ledger_.Pump().empty());
    ledger_.Forget(MsgId("m1"));
    EXPECT_EQ(ledger_.tracked(), 0u);
    EXPECT_EQ(ledger_.ready(), 0u);
    ledger_.Join("w2", {"q"}, 4, {{"q", {"b"}}});
    EXPECT_TRUE(ledger_.Pump().empty()) << "the withdrawn command is not sent";
}

TEST(SchedulerTest, EachKeyHasOneLiveDueTime) {
    ManualClock clock;
    Scheduler s(clock, /*spare=*/4);
    s.ArmIn(MsgId("a"), seconds(10));
    s.ArmIn(MsgId("b"), seconds(5));
    s.ArmIn(MsgId("a"), seconds(1));  // replaces a's 10 s
    EXPECT_EQ(s.Next(), clock.Now() + seconds(1));
    clock.Advance(seconds(1));
    EXPECT_EQ(s.TakeDue(), (std::vector<MsgId>{MsgId("a")}));
    s.Cancel(MsgId("b"));
    clock.Advance(seconds(20));
    EXPECT_TRUE(s.TakeDue().empty()) << "a's old 10 s entry and cancelled b are not due";
    EXPECT_FALSE(s.Next());
}

TEST(SchedulerTest, EntriesLeftBehindAreBounded) {
    ManualClock clock;
    Scheduler s(clock, /*spare=*/8);
    s.ArmIn(MsgId("live"), seconds(60));
    for (int i = 0; i < 1000; ++i) {
        const MsgId id("answered-" + std::to_string(i));
        s.ArmIn(id, seconds(30));
        EXPECT_LE(s.held(), 2 * s.live() + 8);
        s.Cancel(id);  // answered: its entry stays behind until dropped
    }
    EXPECT_EQ(s.live(), 1u);
    EXPECT_EQ(s.Next(), clock.Now() + seconds(60));
}

TEST(SchedulerTest, ADueTimeInThePastIsDueNow) {
    ManualClock clock;
    Scheduler s(clock);
    s.ArmAt(MsgId("late"), clock.Now() - seconds(5));
    EXPECT_EQ(s.TakeDue(), (std::vector<MsgId>{MsgId("late")}));
}

}  // namespace
}  // namespace sagaflow::engine
