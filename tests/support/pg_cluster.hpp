// A private PostgreSQL cluster for tests: initdb into a temp dir, started on a Unix
// socket (as the `postgres` user when run as root, since initdb refuses root), torn
// down at the end even when tests fail. `SAGAFLOW_TEST_PG_DSN` points the tests at an
// existing server instead, and `SAGAFLOW_TEST_PG_DSN_FILE` at the one ctest's `pg`
// fixture started for the run (a file holding its DSN).
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "connection.hpp"
#include "embedded_cluster.hpp"

namespace sagaflow::testing {

class PgCluster {
public:
    /// Starts a cluster, or adopts `SAGAFLOW_TEST_PG_DSN` / `SAGAFLOW_TEST_PG_DSN_FILE`.
    /// Throws on failure.
    PgCluster();
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;

    [[nodiscard]] const std::string& dsn() const { return dsn_; }
    /// Stops the server with `pg_ctl stop -m immediate`, as a crash would (owned only).
    void Stop();
    void Start();

private:
    std::string dsn_;
    std::string dir_;  ///< Empty when adopted from the environment.
    std::unique_ptr<pg::EmbeddedCluster> cluster_;
};

/// The GoogleTest environment owning the one cluster of a test binary.
class PgEnvironment : public ::testing::Environment {
public:
    void SetUp() override;
    void TearDown() override;
    static PgCluster& cluster();
};

/// A schema of its own for one test, migrated to the newest version; dropped at the end.
class FreshSchema {
public:
    FreshSchema();
    ~FreshSchema();
    FreshSchema(const FreshSchema&) = delete;
    FreshSchema& operator=(const FreshSchema&) = delete;

    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] const std::string& dsn() const { return PgEnvironment::cluster().dsn(); }
    /// A new connection with the search_path set to this schema.
    [[nodiscard]] std::unique_ptr<pg::Connection> Connect() const;

private:
    std::string name_;
};

}  // namespace sagaflow::testing
