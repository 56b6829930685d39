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
    auto r = engine_->Start(workflows::kOrderFulfilment, "{}");
    ASSERT_TRUE(r.ok());
    engine_->Tick();
    const auto replies = worker_.RunQueued();
    ASSERT_EQ(replies.size(), 1u);
    const std::string before = Snapshot();
    // ApplyReply writes: the resolved pending item, the saga, the next pending item, and
    // three history events (sent, replied, queued) in one history row.
    for (int n = 1; n <= 6; ++n) {
        faulty_.FailWrite(n, ErrorCode::kInternal);
        EXPECT_THROW(engine_->ApplyReply(replies[0]), Error) << "write " << n;
        EXPECT_EQ(Snapshot(), before) << "after a failure at write " << n;
    }
    EXPECT_TRUE(engine_->ApplyReply(replies[0]).ok());
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

}  // namespace
}  // namespace sagaflow::testing
