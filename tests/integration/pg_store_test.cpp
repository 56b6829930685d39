// The shared suites on PostgreSQL, plus what only a real server can show.
#include "engine_scenarios.hpp"
#include "migrate.hpp"
#include "order_fulfilment.hpp"
#include "pg_cluster.hpp"
#include "pg_saga_store.hpp"
#include "pg_store_env.hpp"
#include "store_conformance.hpp"

namespace sagaflow::testing {

INSTANTIATE_TEST_SUITE_P(Postgres, StoreConformance, ::testing::Values(PgStoreKind()),
                         StoreKindName);
INSTANTIATE_TEST_SUITE_P(Postgres, EngineScenario, ::testing::Values(PgStoreKind()),
                         StoreKindName);

namespace {

// Waits until no session is connected to `db` (a backend flushes its statistics as it
// exits), then reads the database's committed-transaction count.
std::int64_t QuietXactCommits(pg::Connection& probe, const std::string& db) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (probe.Exec("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", {db}).Int(0, 0) >
           0) {
        if (std::chrono::steady_clock::now() > deadline) {
            throw std::runtime_error("sessions on " + db + " did not end");
        }
    }
    return probe.Exec("SELECT xact_commit FROM pg_stat_database WHERE datname = $1", {db}).Int(0, 0);
}

// The figures for the issues' notes: PostgreSQL commits and rows that one 3-step
// happy-path saga costs, from pg_stat_database.xact_commit and pg_stat_user_tables. The engine runs in a database of its own,
// so the probe's own statements (in another database) do not count.
TEST(PgCommits, ThreeStepHappyPathSagaCommitsFourTimesAndWrites14Rows) {
    const std::string& cluster = PgEnvironment::cluster().dsn();
    pg::Connection probe(cluster);
    std::string db = "commits_" + NewUuid();
    std::erase(db, '-');
    probe.Exec("CREATE DATABASE " + db);
    const std::string dsn = cluster + " dbname=" + db;
    {
        pg::Connection migrator(dsn);
        pg::Migrate(migrator);
    }
    WorkflowRegistry registry;
    workflows::RegisterAll(registry);
    ManualClock clock;
    FakeWorker worker;
    std::vector<SagaId> ids;
    // Commits of one store session running `n` sagas, session start-up included.
    auto session_commits = [&](int n) {
        const std::int64_t before = QuietXactCommits(probe, db);
        {
            store::PgSagaStore pg_store({dsn, "", 1, {}});
            (void)pg_store.Begin();  // connects even when n == 0; rolled back
            engine::Engine engine(registry, pg_store, worker, clock);
            worker.Attach(engine, registry);
            for (int i = 0; i < n; ++i) {
                engine::StartRequest req;  // v1: three steps in a row
                req.workflow = workflows::kOrderFulfilment;
                req.version = 1;
                req.input = {{"n", 1}};
                auto r = engine.Start(req);
                EXPECT_TRUE(r.ok());
                ids.push_back(r->saga_id);
                for (int step = 0; step < 3; ++step) {
                    engine.Tick();
                    EXPECT_EQ(worker.Pump(engine), 1);
                }
            }
        }
        return QuietXactCommits(probe, db) - before;
    };
    constexpr int kSagas = 20;
    const std::int64_t baseline = session_commits(0);
    const std::int64_t commits = session_commits(kSagas) - baseline;
    {
        store::PgSagaStore check({dsn, "", 1, {}});
        auto tx = check.Begin();
        for (const SagaId& id : ids) EXPECT_EQ(tx->GetSaga(id)->status, SagaStatus::kCompleted);
    }
    const double per_saga = static_cast<double>(commits) / kSagas;
    std::cout << "[ figure ] PostgreSQL commits per 3-step happy-path saga: " << per_saga
              << " (pg_stat_database.xact_commit delta " << commits << " for " << kSagas
              << " sagas, less a session's own start-up commit of " << baseline << ")\n";
    EXPECT_EQ(per_saga, 4.0) << "Start + one reply per step";

    // Rows written (inserted, updated, deleted) in sagad's tables, from the statistics the
    // exited sessions flushed: the row budget of the flow-graph issue is 16 per saga.
    pg::Connection stats(dsn);
    const std::int64_t rows =
        stats.Exec("SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables"
                   " WHERE relname IN ('sagas', 'saga_pending', 'saga_events')")
            .Int(0, 0);
    const double rows_per_saga = static_cast<double>(rows) / kSagas;
    std::cout << "[ figure ] rows written per 3-step happy-path saga: " << rows_per_saga << " (" << rows
              << " for " << kSagas << " sagas, from pg_stat_user_tables)\n";
    EXPECT_LE(rows_per_saga, 16.0);
    EXPECT_EQ(rows_per_saga, 14.0) << "1 saga insert + 3 updates, 3 pending inserts + 3 deletes, 4 history rows";
}

// Two sagads on one database: while one node's retention batch is open, the other's
// removes nothing and says so; once it commits, the next batch may run anywhere.
TEST(PgRetention, OneBatchAtATimeOnADatabase) {
    FreshSchema db;
    store::PgSagaStore a({db.dsn(), db.name(), 1, {}});
    store::PgSagaStore b({db.dsn(), db.name(), 1, {}});
    const Timestamp now = SystemClock().Now();
    auto first = a.Begin();
    EXPECT_FALSE(first->ExpireEnded(SagaStatus::kCompleted, now, 10).locked_out);
    {
        auto second = b.Begin();
        EXPECT_TRUE(second->ExpireEnded(SagaStatus::kCompleted, now, 10).locked_out);
    }
    first->Commit();
    auto third = b.Begin();
    EXPECT_FALSE(third->ExpireEnded(SagaStatus::kCompensated, now, 10).locked_out);
    third->Commit();
}

}  // namespace
}  // namespace sagaflow::testing
