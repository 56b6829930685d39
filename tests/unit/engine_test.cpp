// Engine behaviour that needs the manual clock's precision or store fault knobs.
#include "engine.hpp"

#include <gtest/gtest.h>

#include "fake_worker.hpp"
#include "memory_store.hpp"

namespace sagaflow::engine {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using testing::FakeWorker;

class EngineTest : public ::testing::Test {
protected:
    EngineTest() {
        registry_.Add(WorkflowBuilder("one", 1)
                          .Step("only", "q").Retry(RetryPolicy{5, milliseconds(1000), 2.0,
                                                               milliseconds(5000), 0.0})
                          .Timeout(seconds(30))
                          .Build());
        EngineOptions o;
        o.seed = 7;
        engine_ = std::make_unique<Engine>(registry_, store_, worker_, clock_, o);
        worker_.Attach(*engine_, registry_);
    }

    WorkflowRegistry registry_;
    MemorySagaStore store_;
    ManualClock clock_;
    FakeWorker worker_;
    std::unique_ptr<Engine> engine_;
};

TEST_F(EngineTest, RetryBackoffFollowsThePolicyUnderAManualClock) {
    worker_.RetryTimes("only", -1);
    auto r = engine_->Start("one", "{}");
    ASSERT_TRUE(r.ok());
    // Attempt n fails at time t; attempt n+1 must go out exactly backoff(n) later.
    const milliseconds expected[] = {milliseconds(1000), milliseconds(2000), milliseconds(4000),
                                     milliseconds(5000)};
    ASSERT_EQ(engine_->Tick(), 1);
    for (const milliseconds wait : expected) {
        worker_.Pump(*engine_);  // the attempt answers retry
        const std::size_t sent = worker_.received().size();
        clock_.Advance(wait - milliseconds(1));
        EXPECT_EQ(engine_->Tick(), 0) << "too early for " << wait.count() << " ms";
        EXPECT_EQ(worker_.received().size(), sent);
        clock_.Advance(milliseconds(1));
        EXPECT_EQ(engine_->Tick(), 1) << "due after " << wait.count() << " ms";
    }
    worker_.Pump(*engine_);  // the fifth attempt fails too: no attempts left
    EXPECT_EQ(engine_->Describe(r->saga_id)->saga.status, SagaStatus::kCompensated);
    EXPECT_EQ(worker_.received().size(), 5u);
    EXPECT_FALSE(engine_->NextWakeup());
}

TEST_F(EngineTest, ACommandNoConnectedWorkerServesIsNotedOnceInItsSagasHistory) {
    engine_->dispatcher().Join("other", {"q"}, 8, {{"q", {"something_else"}}});
    engine_->dispatcher().Leave("fake-worker");
    auto r = engine_->Start("one", "{}");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(engine_->Tick(), 0);
    EXPECT_EQ(engine_->Tick(), 0);
    const auto view = engine_->Describe(r->saga_id);
    int notes = 0;
    for (const auto& h : view->history) {
        if (h.kind != "unserved") continue;
        ++notes;
        EXPECT_EQ(h.node, "only");
        EXPECT_EQ(h.detail.at("action"), "only");
        EXPECT_NE(h.detail.at("why").get<std::string>().find("no connected worker serves action 'only' of queue 'q'"),
                  std::string::npos);
    }
    EXPECT_EQ(notes, 1);
    EXPECT_TRUE(worker_.received().empty());
    worker_.Attach(*engine_, registry_);  // a worker that serves the whole queue
    EXPECT_EQ(engine_->Tick(), 1);
    worker_.Pump(*engine_);
    EXPECT_EQ(engine_->Describe(r->saga_id)->saga.status, SagaStatus::kCompleted);
}

TEST_F(EngineTest, DeadlineIsThePerAttemptTimeout) {
    worker_.DropNext(1);
    auto r = engine_->Start("one", "{}");
    ASSERT_TRUE(r.ok());
    engine_->Tick();
    EXPECT_EQ(engine_->NextWakeup(), clock_.Now() + seconds(30));
    clock_.Advance(seconds(30));
    EXPECT_EQ(engine_->Tick(), 1);  // timed out; resend armed after 1 s backoff
    clock_.Advance(seconds(1));
    EXPECT_EQ(engine_->Tick(), 1);
    EXPECT_EQ(worker_.received().size(), 2u);
    EXPECT_EQ(worker_.received()[1].attempt, 2);
    EXPECT_EQ(worker_.received()[1].deadline, clock_.Now() + seconds(30));
}

TEST_F(EngineTest, TimersOfAnsweredCommandsDoNotPileUp) {
    EngineOptions o;
    o.spare_timers = 16;
    engine_ = std::make_unique<Engine>(registry_, store_, worker_, clock_, o);
    worker_.Attach(*engine_, registry_);
    // One command stays unanswered throughout; its deadline must survive every clean-up.
    worker_.DropNext(1);
    auto stuck = engine_->Start("one", "{}");
    ASSERT_TRUE(stuck.ok());
    ASSERT_EQ(engine_->Tick(), 1);
    std::size_t most = 0;
    // Many more answered commands than spare timers, each within its 30 s deadline:
    // without the clean-up their timers would all still be held.
    for (int i = 0; i < 200; ++i) {
        ASSERT_TRUE(engine_->Start("one", "{}").ok());
        ASSERT_EQ(engine_->Tick(), 1);
        worker_.Pump(*engine_);
        most = std::max(most, engine_->timers());
    }
    EXPECT_EQ(engine_->tracked(), 1u);
    EXPECT_LE(most, 2 * 2 + o.spare_timers);  // 2 tracked at most: the stuck one and the newest
    clock_.Advance(seconds(30));
    EXPECT_EQ(engine_->Tick(), 1);  // the stuck one times out
    clock_.Advance(seconds(1));
    EXPECT_EQ(engine_->Tick(), 1);  // and is sent again
    EXPECT_EQ(worker_.received().back().saga_id, stuck->saga_id);
    EXPECT_EQ(worker_.received().back().attempt, 2);
}

TEST_F(EngineTest, TransientCommitFailureIsRetriedAndStartsOneSaga) {
    store_.FailNextCommits(2, ErrorCode::kUnavailable);
    auto r = engine_->Start("one", "{}", BusinessKey("k"));
    ASSERT_TRUE(r.ok());
    auto tx = store_.Begin();
    EXPECT_EQ(tx->ListSagas({}).size(), 1u);
    EXPECT_EQ(tx->PendingWork(10).size(), 1u);
}

TEST_F(EngineTest, PermanentStoreFailureSurfacesAndWritesNothing) {
    store_.FailNextCommits(1, ErrorCode::kInternal);
    EXPECT_THROW((void)engine_->Start("one", "{}"), Error);
    auto tx = store_.Begin();
    EXPECT_TRUE(tx->ListSagas({}).empty());
    EXPECT_EQ(engine_->tracked(), 0u);
}

TEST_F(EngineTest, TooManyRetryableFailuresGiveUpWithTheCode) {
    store_.FailNextCommits(100, ErrorCode::kAborted);
    try {
        (void)engine_->Start("one", "{}");
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kAborted);
    }
}

TEST_F(EngineTest, BusinessKeyMustBeSensible) {
    EXPECT_EQ(engine_->Start("one", "{}", BusinessKey("")).code(), ErrorCode::kInvalidArgument);
    EXPECT_EQ(engine_->Start("one", "{}", BusinessKey(std::string(300, 'k'))).code(),
              ErrorCode::kInvalidArgument);
}

TEST_F(EngineTest, CommandCarriesEverythingAWorkerNeeds) {
    auto r = engine_->Start("one", R"({"order":1})", BusinessKey("biz-1"));
    ASSERT_TRUE(r.ok());
    engine_->Tick();
    ASSERT_EQ(worker_.received().size(), 1u);
    const Command& c = worker_.received()[0];
    EXPECT_EQ(c.saga_id, r->saga_id);
    EXPECT_EQ(c.workflow, "one");
    EXPECT_EQ(c.workflow_version, 1);
    EXPECT_EQ(c.step, "only");
    EXPECT_EQ(c.action, "only");
    EXPECT_EQ(c.queue, "q");
    EXPECT_EQ(c.phase, Phase::kForward);
    EXPECT_EQ(c.attempt, 1);
    EXPECT_EQ(c.business_key, BusinessKey("biz-1"));
    EXPECT_EQ(c.input, (nlohmann::json{{"order", 1}}));
    EXPECT_FALSE(c.trace_id.empty());
    EXPECT_EQ(c.trace_id, engine_->Describe(r->saga_id)->saga.trace_id);
}

}  // namespace
}  // namespace sagaflow::engine
