#pragma once

#include "store_env.hpp"

namespace sagaflow::testing {

/// PostgreSQL: a fresh schema per test; every Open() is a new PgSagaStore (new connections).
StoreKind PgStoreKind();

}  // namespace sagaflow::testing
