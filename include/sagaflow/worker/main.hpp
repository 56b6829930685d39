// A complete worker process in one call: the standard flags, the logger, the database
// waited for at start, the service's own tables, a graceful stop on SIGTERM or SIGINT.
//
//     int main(int argc, char** argv) {
//         sagaflow::worker::Service s;
//         s.name = "hotel";
//         s.schema_sql = "CREATE SCHEMA IF NOT EXISTS hotel; CREATE TABLE IF NOT EXISTS ...";
//         s.setup = [](sagaflow::worker::Worker& w, const sagaflow::worker::WorkerOptions&) {
//             w.Register("hotel", HandleHotel);
//         };
//         return sagaflow::worker::Main(argc, argv, s);
//     }
//
// Flags (each also read from the environment variable in brackets; a flag wins):
//   --dsn [SAGAFLOW_DSN]            the worker's own database (required)
//   --endpoint [SAGAFLOW_ENDPOINT]  sagad's worker socket, tcp://127.0.0.1:5555
//   --id [SAGAFLOW_WORKER_ID]       unique among workers; default <name>-1
//   --capacity, --threads           commands in flight here; handler threads (0: min(capacity, 4))
//   --key-file, --server-key-file   CURVE: this worker's secret key, sagad's public key
//   --inbox-retention, --inbox-retention-interval   durations such as 7d or 10m
//   --log-level [SAGAFLOW_LOG_LEVEL], --log-format [SAGAFLOW_LOG_FORMAT]
// Exit codes: 0 after a stop, 2 for a bad flag or option, 1 when the database did not
// come up within about 80 s or the service's DDL failed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "sagaflow/worker/worker.hpp"

namespace sagaflow::worker {

/// A flag of the service's own, parsed with the standard ones (shown in --help).
struct ServiceFlag {
    std::string name;  ///< with its dashes: "--hang-ms"
    std::string help;
    /// Takes the value; a non-empty return is the error that refuses it (exit 2).
    std::function<std::string(const std::string&)> set;
};

struct Service {
    std::string name;         ///< e.g. "inventory": the default worker id is "<name>-1"
    std::string description;  ///< the first line of --help
    /// The service's own tables, run at every start in one transaction under an advisory
    /// lock shared by every worker of the database, so write it to run twice
    /// (IF NOT EXISTS). The inbox tables are the SDK's own (in WorkerOptions::schema).
    std::string schema_sql;
    int default_capacity = 4;
    std::vector<ServiceFlag> flags;
    /// Registers the handlers once the flags are parsed (the options hold the final values).
    std::function<void(Worker&, const WorkerOptions&)> setup;
};

/// Runs the service until SIGTERM or SIGINT, then finishes the commands in flight.
/// Returns the process's exit code.
int Main(int argc, char** argv, const Service& service);

}  // namespace sagaflow::worker
