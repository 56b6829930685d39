#include "migrate.hpp"

#include "migrations_data.hpp"

namespace sagaflow::pg {
namespace {

// Any constant works; it only has to be the same in every sagaflow process.
constexpr const char* kLock = "SELECT pg_advisory_xact_lock(7316154982735021)";
constexpr const char* kCreateVersionTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";
constexpr const char* kCurrentVersion = "SELECT coalesce(max(version), 0) FROM schema_migrations";
constexpr const char* kRecord = "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)";

}  // namespace

int LatestMigrationVersion() {
    const auto& all = EmbeddedMigrations();
    return all.empty() ? 0 : all.back().version;
}

MigrateResult Migrate(Connection& conn) {
    Transaction tx(conn);
    conn.Exec(kLock);
    conn.Exec(kCreateVersionTable);
    MigrateResult result;
    result.from_version = static_cast<int>(conn.Exec(kCurrentVersion).Int(0, 0));
    const int latest = LatestMigrationVersion();
    if (result.from_version > latest) {
        throw Error(ErrorCode::kFailedPrecondition,
                    "database schema is at version " + std::to_string(result.from_version) +
                        ", newer than this build of sagaflow knows (" + std::to_string(latest) +
                        "); run a newer sagaflow against it");
    }
    for (const Migration& m : EmbeddedMigrations()) {
        if (m.version <= result.from_version) continue;
        conn.Exec(m.sql);
        conn.Exec(kRecord, {std::to_string(m.version), std::string(m.name)});
        ++result.applied;
    }
    tx.Commit();
    result.to_version = std::max(result.from_version, latest);
    return result;
}

}  // namespace sagaflow::pg
