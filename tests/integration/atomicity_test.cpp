// Every transition, its outbox rows and its history events commit together or not at
// all: a failure at any write of a unit leaves PostgreSQL exactly as it was.
#include <gtest/gtest.h>

#include "engine.hpp"
#include "fake_worker.hpp"
#include "faulty_store.hpp"
#include "order_fulfilment.hpp"
#include "pg_cluster.hpp"
#include "pg_saga_store.hpp"

namespace sagaflow::testing {
namespace {

class Atomicity : public ::testing::Test {
protected:
    Atomicity() : pg_({schema_.dsn(), schema_.name(), 2, {}}), faulty_(pg_) {
        workflows::RegisterAll(registry_);
        engine_ = std::make_unique<engine::Engine>(registry_, faulty_, worker_, clock_);
        worker_.Attach(*engine_, registry_);
    }

    // Starts a saga and runs its first step, whose reply is not applied yet.
    void StartAndRunFirstStep(SagaId& id, engine::Reply& reply) {
        engine::StartRequest req;
        req.workflow = workflows::kOrderFulfilment;
        req.version = 2;  // v3 waits for a payment confirmation
        auto r = engine_->Start(req);
        ASSERT_TRUE(r.ok());
        id = r->saga_id;
        engine_->Tick();
        const auto replies = worker_.RunQueued();
        ASSERT_EQ(replies.size(), 1u);
        reply = replies[0];
    }

    // Row counts of every saga table, as one comparable string.
    std::string Snapshot() {
        auto c = schema_.Connect();
        std::string out;
        for (const char* t : {"sagas", "saga_pending", "saga_events"}) {
            out += std::string(t) + "=" +
                   c->Exec(std::string("SELECT count(*) FROM ") + t).Text(0, 0) + " ";
        }
        out += "versions=" +
               c->Exec("SELECT coalesce(string_agg(version::text || state_code::text, ','), '')"
                       " FROM sagas")
                   .Text(0, 0);
        return out;
    }

    FreshSchema schema_;
    store::PgSagaStore pg_;
    FaultyStore faulty_;
    WorkflowRegistry registry_;
    ManualClock clock_;
    FakeWorker worker_;
    std::unique_ptr<engine::Engine> engine_;
};

TEST_F(Atomicity, StartFailingAtAnyWriteLeavesNothing) {
    const std::string empty = Snapshot();
    // Start writes: saga, command, history x2 (started, queued).
    for (int n = 1; n <= 4; ++n) {
        faulty_.FailWrite(n, ErrorCode::kInternal);
        try {
            (void)engine_->Start(workflows::kOrderFulfilment, "{}");
            ADD_FAILURE() << "write " << n << " did not fail";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kInternal);
        }
        EXPECT_EQ(Snapshot(), empty) << "after a failure at write " << n;
        EXPECT_EQ(engine_->tracked(), 0u);
    }
}

TEST_F(Atomicity, ReplyFailingAtAnyWriteLeavesTheSagaAsItWas) {
    SagaId id;
    engine::Reply reply;
    ASSERT_NO_FATAL_FAILURE(StartAndRunFirstStep(id, reply));
    const std::string before = Snapshot();
    // ApplyReply writes: the resolved pending item, the saga, the next pending item, and
    // three history events (sent, replied, queued) in one history row.
    for (int n = 1; n <= 6; ++n) {
        faulty_.FailWrite(n, ErrorCode::kInternal);
        EXPECT_THROW(engine_->ApplyReply(reply), Error) << "write " << n;
        EXPECT_EQ(Snapshot(), before) << "after a failure at write " << n;
    }
    EXPECT_TRUE(engine_->ApplyReply(reply).ok());
    EXPECT_NE(Snapshot(), before);
}

TEST_F(Atomicity, RetryableFailureIsRetriedAndCommitsOnce) {
    faulty_.FailWrite(3, ErrorCode::kUnavailable);
    auto r = engine_->Start(workflows::kOrderFulfilment, "{}", BusinessKey("once"));
    ASSERT_TRUE(r.ok());
    auto c = schema_.Connect();
    EXPECT_EQ(c->Exec("SELECT count(*) FROM sagas").Int(0, 0), 1);
    EXPECT_EQ(c->Exec("SELECT count(*) FROM saga_pending").Int(0, 0), 1);
}

// DESIGN §10: a commit in doubt is its own error, resolved by re-reading, never by
// running the unit again.
TEST_F(Atomicity, StartWhoseCommitIsInDoubtIsReadBackAndNeverRunAgain) {
    faulty_.DoubtNextCommit(/*lands=*/true);
    auto r = engine_->Start(workflows::kOrderFulfilment, "{}", BusinessKey("doubt-landed"));
    ASSERT_TRUE(r.ok()) << r.status().message;
    EXPECT_TRUE(r->created);
    EXPECT_EQ(faulty_.commits_seen(), 1) << "the unit ran once";
    auto c = schema_.Connect();
    EXPECT_EQ(c->Exec("SELECT count(*) FROM sagas").Int(0, 0), 1);
    EXPECT_EQ(c->Exec("SELECT count(*) FROM saga_events").Int(0, 0), 1);
    // What it armed is reloaded from the store, then sent once.
    EXPECT_EQ(engine_->Tick(), 1);
    EXPECT_EQ(worker_.received().size(), 1u);
    EXPECT_EQ(worker_.received()[0].saga_id, r->saga_id);
}

TEST_F(Atomicity, StartWhoseCommitInDoubtDidNotLandRunsAsTheFirstTime) {
    faulty_.DoubtNextCommit(/*lands=*/false);
    auto r = engine_->Start(workflows::kOrderFulfilment, "{}", BusinessKey("doubt-lost"));
    ASSERT_TRUE(r.ok()) << r.status().message;
    EXPECT_EQ(faulty_.commits_seen(), 2) << "read back, found nothing, committed then";
    auto c = schema_.Connect();
    EXPECT_EQ(c->Exec("SELECT count(*) FROM sagas").Int(0, 0), 1);
    EXPECT_EQ(c->Exec("SELECT count(*) FROM saga_pending").Int(0, 0), 1);
}

TEST_F(Atomicity, ReplyWhoseCommitIsInDoubtIsResolvedByReReading) {
    SagaId id;
    engine::Reply reply;
    ASSERT_NO_FATAL_FAILURE(StartAndRunFirstStep(id, reply));
    const std::string before = Snapshot();
    const int commits = faulty_.commits_seen();
    faulty_.DoubtNextCommit(/*lands=*/true);
    // Unknown outcome: not acknowledged, so the worker sends the reply again.
    EXPECT_EQ(engine_->ApplyReply(reply).code, ErrorCode::kUnavailable);
    EXPECT_EQ(faulty_.commits_seen(), commits + 1) << "never run again";
    const std::string after = Snapshot();
    EXPECT_NE(after, before) << "it landed";
    engine_->Tick();  // re-reads the pending items: the next step goes out
    EXPECT_EQ(worker_.received().size(), 2u);
    // The worker's second copy finds it applied: recorded as a duplicate, nothing moved.
    EXPECT_EQ(engine_->ApplyReply(reply).code, ErrorCode::kFailedPrecondition);
    for (int round = 0; round < 20 && engine_->Tick() + worker_.Pump(*engine_) > 0; ++round) {
    }
    EXPECT_EQ(engine_->Describe(id)->saga.status, SagaStatus::kCompleted);
    for (const auto& [key, n] : worker_.all_effects()) EXPECT_EQ(n, 1);
}

}  // namespace
}  // namespace sagaflow::testing
