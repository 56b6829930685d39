// Applies the numbered migrations in sql/migrations/, recording each in
// `schema_migrations`. Forward-only and idempotent.
#pragma once

#include "connection.hpp"

namespace sagaflow::pg {

struct MigrateResult {
    int from_version = 0;  ///< Before; 0 for an empty database.
    int to_version = 0;
    int applied = 0;
};

/// Brings the schema on `conn` (its search_path) up to the newest embedded migration,
/// in one transaction under an advisory lock, so concurrent callers are safe. Running it
/// again is a no-op. Throws `Error(kFailedPrecondition)` when the database is newer
/// than this binary, touching nothing.
MigrateResult Migrate(Connection& conn);

/// The same for the worker SDK's own tables (the inbox), recorded in
/// `sagaflow_worker_migrations` of the worker's database.
MigrateResult MigrateWorker(Connection& conn);

/// The newest migration this binary knows.
[[nodiscard]] int LatestMigrationVersion();

}  // namespace sagaflow::pg
