#include <gtest/gtest.h>

#include "migrate.hpp"
#include "sagaflow/core/ids.hpp"
#include "pg_cluster.hpp"

namespace sagaflow::testing {
namespace {

// A schema with nothing in it (FreshSchema would already have migrated it).
class MigrateTest : public ::testing::Test {
protected:
    MigrateTest() {
        name_ = "m_" + NewUuid();
        std::erase(name_, '-');
        pg::Connection admin(PgEnvironment::cluster().dsn());
        admin.Exec("CREATE SCHEMA " + name_);
        conn_ = std::make_unique<pg::Connection>(PgEnvironment::cluster().dsn(), name_);
    }
    ~MigrateTest() override {
        pg::Connection admin(PgEnvironment::cluster().dsn());
        admin.Exec("DROP SCHEMA " + name_ + " CASCADE");
    }
    std::int64_t Count(const std::string& sql) { return conn_->Exec(sql).Int(0, 0); }

    std::string name_;
    std::unique_ptr<pg::Connection> conn_;
};

TEST_F(MigrateTest, EmptyDatabaseGetsEveryMigrationRecorded) {
    const pg::MigrateResult r = pg::Migrate(*conn_);
    EXPECT_EQ(r.from_version, 0);
    EXPECT_EQ(r.to_version, pg::LatestMigrationVersion());
    EXPECT_EQ(r.applied, pg::LatestMigrationVersion());
    EXPECT_EQ(Count("SELECT max(version) FROM schema_migrations"), pg::LatestMigrationVersion());
    for (const char* table : {"sagas", "saga_pending", "saga_events"}) {
        EXPECT_EQ(Count(std::string("SELECT count(*) FROM ") + table), 0) << table;
    }
}

TEST_F(MigrateTest, RunningTwiceIsANoOp) {
    pg::Migrate(*conn_);
    const pg::MigrateResult again = pg::Migrate(*conn_);
    EXPECT_EQ(again.applied, 0);
    EXPECT_EQ(again.from_version, pg::LatestMigrationVersion());
    EXPECT_EQ(Count("SELECT count(*) FROM schema_migrations"), pg::LatestMigrationVersion());
}

TEST_F(MigrateTest, DatabaseNewerThanTheBinaryIsRefused) {
    pg::Migrate(*conn_);
    conn_->Exec("INSERT INTO schema_migrations (version, name) VALUES (9999, 'from_the_future')");
    try {
        pg::Migrate(*conn_);
        FAIL() << "a newer database was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kFailedPrecondition);
        EXPECT_NE(std::string(e.what()).find("9999"), std::string::npos) << e.what();
    }
}

TEST_F(MigrateTest, StoredStateCodesAreCheckedByTheSchema) {
    pg::Migrate(*conn_);
    try {
        conn_->Exec(
            "INSERT INTO sagas (id, workflow, workflow_version, state_code, input, context, trace_id, version,"
            " created_at, updated_at, nodes) VALUES (gen_random_uuid(), 'wf', 1, 9, '{}', '{}', 't', 1, now(), now(),"
            " '{}')");
        FAIL() << "state code 9 accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);  // 23514 check_violation
    }
}

}  // namespace
}  // namespace sagaflow::testing
