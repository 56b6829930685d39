// Shared by the order sample's services: sagaflow::worker::Main, with the fault knobs of
// scripts/faults and the effects ledger it audits.
#pragma once

#include <string>

#include "sagaflow/worker/worker.hpp"

namespace sample {

/// sagaflow::worker::Main for one queue: the standard flags plus the fault knobs, the
/// service's DDL plus its effects ledger, `handler` wrapped with the faults and the ledger.
int RunService(int argc, char** argv, const std::string& name, const std::string& queue,
               const std::string& schema_sql, sagaflow::worker::Handler handler);

/// An integer field of a JSON object, or throws (the SDK turns a throw into a retry; a
/// malformed order is better refused: callers check first).
long long Int(const nlohmann::json& j, const char* key);

}  // namespace sample
