// How every throw-away test cluster is set up: the per-binary one (pg_cluster.cpp) and the
// one ctest's `pg` fixture starts for a run (pg_server_main.cpp).
#pragma once

#include <string>

#include "embedded_cluster.hpp"

namespace sagaflow::testing {

inline pg::EmbeddedOptions TestClusterOptions(const std::string& dir) {
    // fsync off: the cluster is thrown away; crash tests kill processes, not the OS.
    return {dir, /*durable=*/false, /*max_connections=*/200};
}

}  // namespace sagaflow::testing
