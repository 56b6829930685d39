// The worker SDK: a service that runs step handlers for sagad.
//
//     sagaflow::worker::WorkerOptions o;
//     o.endpoint = "tcp://127.0.0.1:5555";
//     o.worker_id = "inventory-1";
//     o.dsn = "host=/run/postgresql dbname=shop";
//     sagaflow::worker::Worker w(o);
//     w.Handle("inventory", "reserve_inventory", [](sagaflow::worker::StepContext& ctx) {
//         const auto order = ctx.input<Order>();  // your struct, through from_json
//         ctx.tx().Exec("UPDATE stock SET n = n - $2::int WHERE sku = $1", {order.sku, std::to_string(order.qty)});
//         return sagaflow::worker::StepResult::Ok({{"reserved", order.qty}});
//     });
//     w.Handle("inventory", "release_inventory", Release);
//     w.Run();  // until Stop()
//
// (worker/main.hpp wraps this in a whole process: flags, signals, the service's tables.)
//
// Each command runs in one transaction of the worker's database that also writes the
// inbox row keyed by the command's msg id, with the reply. A command seen before gets
// the stored reply and the handler does not run again (DESIGN §4, T2). A handler's
// `Fail`, or a thrown `Permanent`, is a business failure: its writes are rolled back, the
// failure is stored, sagad compensates. Any other exception is transient: everything is
// rolled back and sagad retries, unless HandlerOptions::permanent lists its type.
// Handlers run concurrently on `threads` threads, each with its own connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/ids.hpp"
#include "sagaflow/core/saga_types.hpp"

namespace sagaflow::worker {

/// One $n parameter of a statement, as text: a string, an id, or NULL (std::nullopt).
class SqlParam {
public:
    SqlParam(std::nullopt_t) {}  // NOLINT: implicit, as in {a, std::nullopt, b}
    SqlParam(std::string v) : v_(std::move(v)) {}
    SqlParam(const char* v) : v_(std::string(v)) {}
    SqlParam(std::optional<std::string> v) : v_(std::move(v)) {}
    template <class Tag>
    SqlParam(const StrongId<Tag>& id) : v_(id.str()) {}
    [[nodiscard]] const std::optional<std::string>& value() const noexcept { return v_; }

private:
    std::optional<std::string> v_;
};
using SqlRow = std::vector<std::optional<std::string>>;

/// Thrown by a handler, fails the step for good, like `StepResult::Fail`: its writes are
/// rolled back, the reason is stored, and sagad compensates without retrying. Any other
/// exception is transient (retried) unless its type is in `HandlerOptions::permanent`.
class Permanent : public std::runtime_error {
public:
    explicit Permanent(const std::string& reason) : std::runtime_error(reason) {}
};

/// The handler's view of its transaction. Not thread-safe; valid during the handler.
class StepTransaction {
public:
    virtual ~StepTransaction() = default;
    /// Runs one statement with $n parameters and returns its rows as text.
    /// Throws `sagaflow::Error` on failure (the SDK turns that into a retry).
    virtual std::vector<SqlRow> Exec(const std::string& sql, const std::vector<SqlParam>& params = {}) = 0;
    /// Rows changed by the last Exec.
    [[nodiscard]] virtual std::int64_t affected() const = 0;
};

/// Everything a handler knows about the command it runs.
class StepContext {
public:
    virtual ~StepContext() = default;
    [[nodiscard]] virtual const SagaId& saga_id() const = 0;
    [[nodiscard]] virtual const std::string& workflow() const = 0;
    [[nodiscard]] virtual const std::string& step() const = 0;
    [[nodiscard]] virtual int step_index() const = 0;
    [[nodiscard]] virtual const std::string& action() const = 0;  ///< step or compensation name
    [[nodiscard]] virtual Phase phase() const = 0;
    [[nodiscard]] virtual int attempt() const = 0;
    [[nodiscard]] virtual const std::optional<std::string>& business_key() const = 0;
    [[nodiscard]] virtual const std::string& trace_id() const = 0;
    /// The command's W3C trace context ("00-<trace id>-<span id>-01"), for the handler's
    /// own logs and spans: its trace is the saga's, its span this command. Empty when
    /// sagad sent none.
    [[nodiscard]] virtual const std::string& traceparent() const = 0;
    /// The same on every resend of this command: the inbox's key.
    [[nodiscard]] virtual const MsgId& msg_id() const = 0;
    [[nodiscard]] virtual Timestamp deadline() const = 0;
    [[nodiscard]] virtual const nlohmann::json& input() const = 0;
    /// The input decoded into the handler's own type, through nlohmann's ADL `from_json`.
    /// An input that does not decode fails the step for good (`Permanent`), with
    /// nlohmann's message: a missing key is named ("key 'qty' not found").
    template <class T>
    [[nodiscard]] T input() const {
        try {
            return input().get<T>();
        } catch (const nlohmann::json::exception& e) {
            throw Permanent("the input of " + action() + " does not decode: " + e.what());
        }
    }
    /// Outputs of the steps that completed before, by step name.
    [[nodiscard]] virtual const nlohmann::json& context() const = 0;
    /// The transaction the inbox row is written in: put the business writes here.
    virtual StepTransaction& tx() = 0;
};

/// What a handler returns.
struct StepResult {
    bool ok = true;
    nlohmann::json output = nlohmann::json::object();
    std::string reason;

    static StepResult Ok(nlohmann::json output = nlohmann::json::object()) {
        return {true, std::move(output), {}};
    }
    /// A business failure: final, never retried; the handler's writes are rolled back.
    static StepResult Fail(std::string reason) { return {false, nlohmann::json::object(), std::move(reason)}; }
};

using Handler = std::function<StepResult(StepContext&)>;

struct HandlerOptions {
    /// False: the handler is naturally idempotent and runs without the inbox (no dedup,
    /// no guards, no stored reply). Say so explicitly; the default is the inbox.
    bool use_inbox = true;
    /// Exception types that fail the step for good instead of being retried, as Temporal's
    /// NonRetryableErrorTypes: `HandlerOptions{}.PermanentOn<std::invalid_argument>()`.
    /// A type matches its subclasses too. A database error that may pass (a lost
    /// connection, a deadlock, a serialization failure) is retried whatever is listed.
    std::vector<std::function<bool(const std::exception&)>> permanent{};

    template <class E>
    HandlerOptions& PermanentOn() {
        permanent.push_back([](const std::exception& e) { return dynamic_cast<const E*>(&e) != nullptr; });
        return *this;
    }
};

struct WorkerOptions {
    std::string endpoint = "tcp://127.0.0.1:5555";  ///< sagad's worker socket
    std::string worker_id;                          ///< unique among workers
    std::string dsn;                                ///< the worker's business database
    std::string schema;                             ///< optional search_path
    int capacity = 4;  ///< commands sagad may have in flight here (what hello announces)
    int threads = 0;   ///< handler threads, each with a connection; 0: min(capacity, 4)
    std::chrono::milliseconds heartbeat_interval{1000};
    std::chrono::milliseconds reply_resend_interval{1000};  ///< until sagad acknowledges
    std::size_t max_frame_bytes = 1 << 20;
    /// Commands one transaction may carry (worker batching): a handler thread takes every
    /// command already waiting, up to this many, runs each under its own savepoint and
    /// commits once. It never waits for a batch to fill. 1 turns batching off.
    int max_batch = 32;
    /// CURVE (both or neither): this worker's secret key file (BASE.secret from
    /// `sagactl keygen BASE`, mode 0600) and sagad's public key file (its .pub). sagad
    /// takes the worker only if the key is on its allow-list, for the queues it lists.
    std::string key_file;
    std::string server_key_file;
    /// Inbox rows older than this are deleted, in batches, every `inbox_retention_interval`
    /// (workers sharing an inbox may all do it). What the window means: the inbox row is
    /// what makes a resent command run once and what tells a compensation that its forward
    /// action ran here. A command resent after its row is gone would run again, and a
    /// compensation arriving after it would find nothing to undo. So the window must be far
    /// longer than the resend horizon (sagad resends a command until its retry policy is
    /// spent: about 2.5 minutes with the defaults, plus however long sagad is down) and than
    /// the time a saga may still send compensations (a completed one until sagad's
    /// retention_completed removes it, 7 days by default; a failed one until it is
    /// resolved). Keep it at least retention_completed.
    std::chrono::milliseconds inbox_retention{std::chrono::hours(24 * 7)};
    std::chrono::milliseconds inbox_retention_interval{std::chrono::minutes(10)};
};

/// Counters, for tests and metrics.
struct WorkerStats {
    std::uint64_t commands = 0;          ///< received
    std::uint64_t handler_runs = 0;
    std::uint64_t inbox_hits = 0;        ///< answered from the inbox without running
    std::uint64_t compensations_without_forward = 0;
    std::uint64_t forwards_after_compensation = 0;
    std::uint64_t retries = 0;           ///< handler threw / database error
    std::uint64_t malformed_frames = 0;
    std::uint64_t replies_resent = 0;
    std::uint64_t transactions = 0;      ///< committed; with batching, fewer than commands
    std::uint64_t refusals = 0;          ///< sagad refused our hello (see the log for why)
    std::uint64_t inbox_expired = 0;     ///< inbox rows deleted by retention
};

/// Where handlers are registered: a `Worker`, or the test kit's `FlowTest`
/// (sagaflow/testing/flow_test.hpp). Write a service's registrations once against it,
///     void ServeCars(sagaflow::worker::Handlers& h) { h.Handle("cars", "rent_car", RentCar); ... }
/// and call it from the worker's setup and from its tests.
class Handlers {
public:
    /// Serves `action` on `queue` (a step's action or its compensation, as the workflow
    /// names them). Throws `Error(kInvalidArgument)` for an action registered twice.
    void Handle(const std::string& queue, const std::string& action, Handler handler, HandlerOptions options = {}) {
        Add(queue, action, std::move(handler), std::move(options));
    }

protected:
    ~Handlers() = default;
    virtual void Add(const std::string& queue, const std::string& action, Handler handler, HandlerOptions options) = 0;
};

class Worker final : public Handlers {
public:
    explicit Worker(WorkerOptions options);
    ~Worker();
    Worker(const Worker&) = delete;
    Worker& operator=(const Worker&) = delete;

    // Handle(queue, action, handler, options), from Handlers: call before Run. A command
    // for an action of `queue` that no Handle serves is retried, and logged. Also throws
    // for a queue given to Register.
    /// Serves every action of `queue` with one `handler` (which branches on
    /// `ctx.action()`). Call before Run. Throws `Error(kInvalidArgument)` for a queue
    /// registered twice.
    void Register(const std::string& queue, Handler handler, HandlerOptions options = {});
    /// Connects (retrying with backoff), serves until Stop(), then finishes the commands
    /// in flight and returns. Throws `Error` only for bad options.
    void Run();
    /// Graceful stop: take no more commands, finish those in flight. Thread-safe.
    void Stop();
    [[nodiscard]] WorkerStats stats() const;

private:
    void Add(const std::string& queue, const std::string& action, Handler handler, HandlerOptions options) override;

    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace sagaflow::worker
