// T2 of DESIGN §4: one command, run in one transaction of the worker's database that
// also writes its inbox row and stored reply.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "connection.hpp"
#include "step_rules.hpp"
#include "sagaflow/core/clock.hpp"
#include "sagaflow/protocol/envelope.hpp"
#include "sagaflow/worker/worker.hpp"

namespace sagaflow::worker {

/// The handler registered for a queue.
using HandlerLookup = std::function<const std::pair<Handler, HandlerOptions>&(const std::string& queue)>;

/// Runs a batch of commands in one transaction of the worker's database and commits it,
/// returning the outcomes in the batch's order. Each command goes through the inbox and
/// its handler under a savepoint of its own: if the handler throws or the database fails,
/// only that command's writes are rolled back and its outcome is `retry` (never stored).
/// The common case costs two round trips per batch (BEGIN with every claim and guard
/// read; the stored outcomes with COMMIT) plus the handlers' own statements.
/// Throws when the transaction as a whole fails: then none of it committed, or the
/// outcome is in doubt, and every command is to be retried.
std::vector<Outcome> ExecuteBatch(pg::Connection& conn, const std::vector<protocol::Envelope>& batch,
                                  const HandlerLookup& lookup, AtomicStats& stats);

/// Inbox retention: deletes up to `limit` inbox rows written before `cutoff`, oldest
/// first, in its own statement (autocommit); returns how many. A resend of a command whose
/// row is gone would run its handler again, so the window must be far longer than any
/// resend (see WorkerOptions::inbox_retention).
std::int64_t ExpireInbox(pg::Connection& conn, Timestamp cutoff, int limit);

}  // namespace sagaflow::worker
