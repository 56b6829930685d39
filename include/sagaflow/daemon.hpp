// The sagad entry point, for teams that link their own workflows into the daemon:
//
//     int main(int argc, char** argv) {
//         sagaflow::WorkflowRegistry registry;
//         registry.Add(MyWorkflow());
//         return sagaflow::RunDaemon(argc, argv, registry);
//     }
//
// It parses settings (`sagad --help`), starts the embedded PostgreSQL when no DSN is
// given, migrates, recovers, serves workers and sagactl, and stops on SIGTERM/SIGINT.
#pragma once

#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow {

/// Runs sagad with `registry`'s workflows. Returns the process exit code: 0 after a
/// graceful stop, 2 for bad settings, 1 when it cannot start.
int RunDaemon(int argc, char** argv, const WorkflowRegistry& registry);

}  // namespace sagaflow
