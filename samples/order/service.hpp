// Shared scaffolding of the three sample services: flags, schema set-up, Run().
#pragma once

#include <string>

#include "sagaflow/worker/worker.hpp"

namespace sample {

/// Parses --endpoint, --dsn, --id, --capacity; runs `schema_sql` (idempotent DDL) on the
/// database; serves `queue` with `handler` until SIGTERM/SIGINT. Returns the exit code.
int RunService(int argc, char** argv, const std::string& name, const std::string& queue,
               const std::string& schema_sql, sagaflow::worker::Handler handler);

/// An integer field of a JSON object, or throws (the SDK turns a throw into a retry; a
/// malformed order is better refused: callers check first).
long long Int(const nlohmann::json& j, const char* key);

}  // namespace sample
