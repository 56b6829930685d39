// The migrations compiled into the binary (generated from sql/migrations/).
#pragma once

#include <vector>

namespace sagaflow::pg {

struct Migration {
    int version;
    const char* name;
    const char* sql;
};

/// Every migration, ascending by version.
const std::vector<Migration>& EmbeddedMigrations();

}  // namespace sagaflow::pg
