#include "migrate.hpp"

#include "migrations_data.hpp"

namespace sagaflow::pg {
namespace {

// Any constant works; it only has to be the same in every sagaflow process.
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(7316154982735021)";

int Latest(const std::vector<Migration>& all) { return all.empty() ? 0 : all.back().version; }

MigrateResult Apply(Connection& conn, const std::string& table, const std::vector<Migration>& all) {
    Transaction tx(conn);
    conn.Exec(kLock);
    conn.Exec("CREATE TABLE IF NOT EXISTS " + table +
              " (version integer PRIMARY KEY, name text NOT NULL,"
              " applied_at timestamptz NOT NULL DEFAULT now())");
    MigrateResult result;
    result.from_version =
        static_cast<int>(conn.Exec("SELECT coalesce(max(version), 0) FROM " + table).Int(0, 0));
    const int latest = Latest(all);
    if (result.from_version > latest) {
        throw Error(ErrorCode::kFailedPrecondition,
                    "database schema is at version " + std::to_string(result.from_version) +
                        ", newer than this build of sagaflow knows (" + std::to_string(latest) +
                        "); run a newer sagaflow against it");
    }
    for (const Migration& m : all) {
        if (m.version <= result.from_version) continue;
        conn.Exec(m.sql);
        conn.Exec("INSERT INTO " + table + " (version, name) VALUES ($1, $2)",
                  {std::to_string(m.version), std::string(m.name)});
        ++result.applied;
    }
    tx.Commit();
    result.to_version = std::max(result.from_version, latest);
    return result;
}

}  // namespace

int LatestMigrationVersion() { return Latest(EmbeddedMigrations()); }

MigrateResult Migrate(Connection& conn) {
    return Apply(conn, "schema_migrations", EmbeddedMigrations());
}

MigrateResult MigrateWorker(Connection& conn) {
    return Apply(conn, "sagaflow_worker_migrations", EmbeddedWorkerMigrations());
}

}  // namespace sagaflow::pg
