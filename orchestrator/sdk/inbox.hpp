// T2 of DESIGN §4: one command, run in one transaction of the worker's database that
// also writes its inbox row and stored reply.
#pragma once

#include <atomic>
#include <cstdint>

#include "connection.hpp"
#include "sagaflow/protocol/envelope.hpp"
#include "sagaflow/worker/worker.hpp"

namespace sagaflow::worker {

struct AtomicStats {
    std::atomic<std::uint64_t> commands{0}, handler_runs{0}, inbox_hits{0},
        compensations_without_forward{0}, forwards_after_compensation{0}, retries{0},
        malformed_frames{0}, replies_resent{0}, transactions{0};
};

struct Outcome {
    ReplyOutcome outcome = ReplyOutcome::kOk;
    nlohmann::json output = nlohmann::json::object();
    std::string reason;
};

/// Runs `command` through the inbox and `handler` inside the caller's open transaction,
/// under a savepoint of its own: if the handler throws or the database fails, only this
/// command's writes are rolled back and its outcome is `retry` (never stored). The caller
/// commits; until then no outcome may be sent. Several commands may share one
/// transaction (worker batching: one commit serves them all).
Outcome Execute(pg::Connection& conn, const protocol::Envelope& command, const Handler& handler,
                const HandlerOptions& options, AtomicStats& stats);

}  // namespace sagaflow::worker
