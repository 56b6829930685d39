// The migrations compiled into the binary (generated from sql/migrations/).
#pragma once

#include <vector>

namespace sagaflow::pg {

struct Migration {
    int version;
    const char* name;
    const char* sql;
};

/// Every orchestrator migration (sql/migrations), ascending by version.
const std::vector<Migration>& EmbeddedMigrations();
/// Every worker SDK migration (sql/worker), ascending by version.
const std::vector<Migration>& EmbeddedWorkerMigrations();

}  // namespace sagaflow::pg
