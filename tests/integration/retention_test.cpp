// Retention on real PostgreSQL with the clock pushed forward: the job removes ended sagas
// past their window (and everything keyed by them), never one that has not ended, nor a
// failed one; the worker SDK's inbox loses only rows older than its window.
#include <gtest/gtest.h>

#include <chrono>

#include "inbox.hpp"
#include "migrate.hpp"
#include "pg_cluster.hpp"
#include "pg_saga_store.hpp"
#include "retention.hpp"

namespace sagaflow::testing {
namespace {

using std::chrono::hours;

engine::SagaRecord Saga(SagaStatus status, Timestamp at) {
    engine::SagaRecord s;
    s.id = SagaId(NewUuid());
    s.workflow = "wf";
    s.workflow_version = 1;
    s.status = status;
    s.trace_id = TraceId(NewUuid());
    s.version = 1;
    s.created_at = at;
    s.updated_at = at;
    return s;
}

TEST(Retention, TheJobRemovesEndedSagasPastTheirWindowAndKeepsEverythingElse) {
    FreshSchema db;
    store::PgSagaStore store({db.dsn(), db.name(), 2, {}});
    ManualClock clock(SystemClock().Now());
    std::vector<engine::SagaRecord> completed, compensated, cancelled, kept;
    {
        auto tx = store.Begin();
        for (int i = 0; i < 7; ++i) completed.push_back(Saga(SagaStatus::kCompleted, clock.Now()));
        for (int i = 0; i < 3; ++i) compensated.push_back(Saga(SagaStatus::kCompensated, clock.Now()));
        for (int i = 0; i < 2; ++i) cancelled.push_back(Saga(SagaStatus::kCancelled, clock.Now()));
        for (SagaStatus s : {SagaStatus::kRunning, SagaStatus::kCompensating, SagaStatus::kFailed, SagaStatus::kParked}) {
            kept.push_back(Saga(s, clock.Now()));
        }
        for (const auto* group : {&completed, &compensated, &cancelled, &kept}) {
            for (const auto& s : *group) {
                ASSERT_TRUE(tx->InsertSaga(s));
                tx->AppendHistory({s.id, 0, s.created_at, "started", "", std::nullopt, 0, std::nullopt, {}});
            }
        }
        tx->Commit();
    }
    sagad::RetentionOptions o;
    o.completed = hours(24 * 7);
    o.compensated = hours(24 * 30);
    o.batch = 3;  // several batches per pass
    sagad::RetentionJob job(store, clock, o);

    job.Pass();  // nothing is old yet
    EXPECT_EQ(job.counts().sagas, 0u);
    clock.Advance(hours(24 * 7) + std::chrono::minutes(1));
    job.Pass();
    auto c = job.counts();
    EXPECT_EQ(c.sagas, 7u);
    EXPECT_EQ(c.history_rows, 7u);
    // The first pass: one empty batch per status (completed, compensated, cancelled); the
    // second: 3 + 3 + 1 completed, and one empty batch each of compensated and cancelled.
    EXPECT_EQ(c.batches, 3u + 5u);
    EXPECT_EQ(c.passes, 2u);
    clock.Advance(hours(24 * 23));
    job.Pass();  // cancelled sagas go with the compensated window
    EXPECT_EQ(job.counts().sagas, 12u);

    auto tx = store.Begin();
    for (const auto* gone : {&completed, &compensated, &cancelled}) {
        for (const auto& s : *gone) {
            EXPECT_FALSE(tx->GetSaga(s.id).has_value());
            EXPECT_TRUE(tx->History(s.id).empty());
        }
    }
    for (const auto& s : kept) {  // a year on, still there: not ended, or failed or parked (kept until resolved)
        EXPECT_TRUE(tx->GetSaga(s.id).has_value()) << ToString(s.status);
        EXPECT_EQ(tx->History(s.id).size(), 1u);
    }
    clock.Advance(hours(24 * 365));
    tx.reset();
    job.Pass();
    EXPECT_EQ(job.counts().sagas, 12u);
    EXPECT_EQ(job.counts().locked_out, 0u);
}

TEST(Retention, TheInboxLosesOnlyRowsOlderThanItsWindow) {
    FreshSchema db;
    auto conn = db.Connect();
    pg::MigrateWorker(*conn);
    const Timestamp now = SystemClock().Now();
    // Rows written now, and three days ago (created_at is the database's clock).
    for (int i = 0; i < 5; ++i) {
        conn->Exec("INSERT INTO sagaflow_inbox (msg_id, saga_id, step_index, phase, action, outcome, reply)"
                   " VALUES ($1::uuid, $2::uuid, 0, 1, 'reserve', 'ok', '{}')",
                   {NewUuid(), NewUuid()});
    }
    for (int i = 0; i < 4; ++i) {
        conn->Exec("INSERT INTO sagaflow_inbox (msg_id, saga_id, step_index, phase, action, outcome, reply, created_at)"
                   " VALUES ($1::uuid, $2::uuid, 0, 1, 'reserve', 'ok', '{}', now() - interval '3 days')",
                   {NewUuid(), NewUuid()});
    }
    const auto window = std::chrono::duration_cast<Duration>(hours(24 * 7));
    EXPECT_EQ(worker::ExpireInbox(*conn, now - window, 100), 0);  // today: nothing is a week old
    const Timestamp later = now + std::chrono::duration_cast<Duration>(hours(24 * 5));  // the clock pushed on
    EXPECT_EQ(worker::ExpireInbox(*conn, later - window, 3), 3);  // a batch at a time
    EXPECT_EQ(worker::ExpireInbox(*conn, later - window, 100), 1);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM sagaflow_inbox").Int(0, 0), 5);
    EXPECT_EQ(conn->Exec("SELECT count(*) FROM sagaflow_inbox WHERE created_at < now() - interval '1 day'").Int(0, 0), 0);
}

}  // namespace
}  // namespace sagaflow::testing
