// The types of sagad's HTTP JSON API (`/api/v1`, described by docs/openapi.yaml), with one
// nlohmann ADL codec each, shared by the server, `sagaflow::client::Client` and the tests:
// what the server writes is what the client reads, by construction.
//
//     sagaflow::api::StartSaga s{"order_fulfilment", {{"order_id", "o-1"}}};
//     nlohmann::json body = s;                       // {"workflow":..., "input":{...}}
//     auto back = body.get<sagaflow::api::StartSaga>();
//
// Decoding throws `sagaflow::Error(kInvalidArgument)` naming the field that is wrong, never
// a `json::exception`: a request body is untrusted input.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/core/ids.hpp"
#include "sagaflow/core/saga_types.hpp"

namespace sagaflow::api {

/// Every API route starts with this.
inline constexpr std::string_view kPrefix = "/api/v1";
/// Starts in one batch request, at most.
inline constexpr std::size_t kMaxStartBatch = 1000;
/// Sagas in one list page, at most; a larger `limit` is clamped to it.
inline constexpr int kMaxListPage = 1000;

/// The body of every error answer: `{"code": "not_found", "message": "..."}`.
struct ApiError {
    ErrorCode code = ErrorCode::kInternal;
    std::string message;
};

/// The HTTP status that goes with a code (400, 404, 409, 429, 500, 503, 504).
[[nodiscard]] int HttpStatusOf(ErrorCode code) noexcept;

/// POST /api/v1/sagas. The same business key (per workflow) gives the same saga.
struct StartSaga {
    std::string workflow;
    nlohmann::json input = nlohmann::json::object();
    std::optional<std::string> business_key;
    std::optional<int> version;  ///< nullopt: the latest registered version
};

/// The answer to a start: the saga, and whether this request created it.
struct Started {
    SagaId saga_id;
    bool created = false;
};

/// POST /api/v1/sagas/batch: many starts in one commit.
struct StartBatch {
    std::vector<StartSaga> sagas;
};

/// One start of a batch: `started`, or `error` when that start was refused.
struct BatchItem {
    std::optional<Started> started;
    std::optional<ApiError> error;
};

struct BatchStarted {
    std::vector<BatchItem> results;  ///< In the order of the request's sagas.
};

/// GET /api/v1/sagas: every field is a query parameter; all given ones must match.
struct ListQuery {
    std::optional<SagaStatus> status;
    std::optional<std::string> workflow;
    std::optional<int> version;
    std::optional<std::string> business_key;
    std::optional<Timestamp> created_after;   ///< Inclusive.
    std::optional<Timestamp> created_before;  ///< Exclusive.
    std::optional<std::string> cursor;        ///< A page's `next_cursor`: the page after it.
    std::optional<int> limit;                 ///< Default 100, at most kMaxListPage.
};

/// Percent-encodes everything but RFC 3986's unreserved characters: a path segment or a
/// query value.
[[nodiscard]] std::string PercentEncode(std::string_view s);

/// The query string for `q`, starting with '?' (empty when no field is set).
[[nodiscard]] std::string ToQueryString(const ListQuery& q);
/// Reads decoded query parameters; kInvalidArgument names an unknown or bad one.
[[nodiscard]] Result<ListQuery> ListQueryFrom(const std::map<std::string, std::string>& params);

/// One saga as `list` shows it.
struct SagaSummary {
    SagaId id;
    std::string workflow;
    int version = 0;
    SagaStatus status = SagaStatus::kRunning;
    std::optional<std::string> step;  ///< Steps whose commands are out, comma-separated.
    std::optional<std::string> business_key;
    std::string reason;  ///< Why it left the happy path; empty when it did not.
    std::string trace_id;
    Timestamp created_at{};
    Timestamp updated_at{};
    std::optional<std::string> problem;  ///< Set when its workflow version is not registered.
    std::optional<std::string> parent;       ///< A child saga's parent's id.
    std::optional<std::string> parent_node;  ///< The parent's node that started it.
};

/// A page of sagas, newest first (created_at, then id, both descending: a stable order).
struct SagaPage {
    std::vector<SagaSummary> sagas;
    std::optional<std::string> next_cursor;  ///< nullopt on the last page.
    int limit = 0;                           ///< The page size served.
    bool clamped = false;                    ///< The asked limit was over kMaxListPage.
};

/// One node of a saga's workflow, in declaration order, with its state.
struct NodeInfo {
    std::string id;
    std::string kind;   ///< step, choice, parallel, end (unknown: workflow not registered)
    std::string state;  ///< pending, running, done, failed, compensating, compensated, skipped
    int order = 0;      ///< Rank among forward completions; 0 for none.
    bool uncertain = false;
    bool stuck = false;
    bool expired = false;  ///< Its deadline passed.
};

/// A thing the saga waits on: a command, a timer, a signal or a deadline.
struct PendingInfo {
    std::string kind = "command";  ///< command, timer, signal, deadline
    std::string step;              ///< The node that waits.
    /// A command's `action`; a signal wait's signal name. `not_before` is when a command
    /// is (re)sent, or when a timer or a deadline is due.
    Phase phase = Phase::kForward;
    std::string action;
    std::string queue;
    int attempt = 0;
    MsgId msg_id;
    Timestamp not_before{};
};

/// One attempt's outcome.
struct AttemptInfo {
    std::string step;
    Phase phase = Phase::kForward;
    int attempt = 0;
    std::string outcome;  ///< ok, fail, retry, timeout
    std::string detail;
    MsgId msg_id;
    Timestamp at{};
    std::string worker;  ///< who answered; empty for a timeout
    std::string key;     ///< the fingerprint of its CURVE key; empty without CURVE
};

/// One history event.
struct HistoryEntry {
    std::int64_t seq = 0;
    Timestamp at{};
    std::string kind;
    std::optional<std::string> step;
    std::optional<Phase> phase;
    int attempt = 0;
    std::optional<MsgId> msg_id;
    nlohmann::json detail = nlohmann::json::object();
};

/// A signal a saga received.
struct SignalInfo {
    std::string id;
    std::string name;
    Timestamp received_at{};
    std::string taken_by;  ///< The wait that took it; empty while it is kept for one.
};

/// A child saga a node of this saga started.
struct ChildInfo {
    std::string node;
    SagaId saga_id;
    std::string workflow;
};

/// GET /api/v1/sagas/{id}. On the wire `input` and `context` sit inside `saga`.
struct SagaDetail {
    SagaSummary saga;
    nlohmann::json input = nlohmann::json::object();
    nlohmann::json context = nlohmann::json::object();
    std::vector<NodeInfo> nodes;
    std::vector<PendingInfo> pending;
    std::vector<AttemptInfo> attempts;
    std::vector<HistoryEntry> history;
    std::vector<SignalInfo> signals;
    std::vector<ChildInfo> children;
};

/// GET /api/v1/sagas/{id}/history.
struct History {
    std::vector<HistoryEntry> history;
};

/// POST /api/v1/sagas/{id}/signals: a named signal into a running saga.
struct SendSignal {
    std::string name;
    /// The sender's id for it: the same id twice is applied once. Unset: sagad makes a
    /// new one, so a resend is a second signal.
    std::optional<std::string> id;
    nlohmann::json data = nlohmann::json::object();  ///< Joins the context under the wait's id.
};

/// What a signal did.
struct SignalResult {
    SagaId saga_id;
    std::string name;
    std::string id;
    std::string outcome;  ///< delivered (a wait took it), kept (for a wait to come), already_applied
};

/// GET /api/v1/sagas/{id}/await?timeout_ms=N: the saga once it ended, or as it is when the
/// time is up.
struct AwaitResult {
    SagaId saga_id;
    SagaStatus status = SagaStatus::kRunning;
    bool done = false;     ///< Ended: completed, compensated or failed. False: timed out.
    std::string reason;    ///< Why it left the happy path.
    nlohmann::json context = nlohmann::json::object();
    std::int64_t timeout_ms = 0;  ///< The timeout applied.
    bool clamped = false;         ///< The asked timeout was over the server's maximum.
};

/// The body of every operator action, POST /api/v1/sagas/{id}/ACTION: compensate, retry,
/// resume, skip, cancel, resolve. Each records who and why in the saga's history.
struct OperatorRequest {
    std::string reason;  ///< Why. cancel, resolve and a forced compensate need one.
    /// retry and resume: the parked node to re-run (unset: every parked node); skip: the
    /// node to mark done; compensate: undo only from this node back (see `from_node`).
    std::optional<std::string> node = std::nullopt;
    /// compensate: undo this node and what completed before it, in reverse order; what
    /// completed after it is left as it is.
    std::optional<std::string> from_node = std::nullopt;
    /// skip: the node's output, a JSON object that joins the context as if it had
    /// succeeded. Unset: `{}`, refused when a later node reads the node's output.
    std::optional<nlohmann::json> output = std::nullopt;
    /// compensate past a pivot; resolve of a saga still running or compensating.
    bool force = false;
    /// resolve: completed or compensated.
    std::optional<SagaStatus> status = std::nullopt;
};

/// The operator actions the API takes, by their route's last word.
inline constexpr std::string_view kOperatorActions[] = {"compensate", "retry", "resume", "skip", "cancel", "resolve"};

/// GET /api/v1/sagas/{id}/compensation?from_node=N: what a compensation would run now, in
/// order, and with what, writing nothing (the engine's own walk, on a copy of the saga).
struct CompensationStep {
    int wave = 0;        ///< 1-based: the steps of one wave run at once, waves one after another.
    std::string node;    ///< The step (or child saga) undone.
    std::string action;  ///< Its compensation's action; for a child, "compensate child saga".
    std::string queue;   ///< Empty for a child.
    /// The output of the forward step it undoes (what the handler is given to undo, with
    /// the saga's input and context); null when the step's outcome is unknown.
    nlohmann::json output;
    bool uncertain = false;  ///< Its forward outcome is unknown: the inbox answers if it never ran.
    bool in_flight = false;  ///< Its forward command is out: undone once it ends, if it took effect.
};

struct CompensationPlan {
    SagaId saga_id;
    SagaStatus status = SagaStatus::kRunning;  ///< The saga's status now.
    std::optional<std::string> from_node;
    std::vector<CompensationStep> steps;  ///< Empty: nothing to undo.
    std::vector<std::string> kept;        ///< Done after `from_node`: left as they are.
    std::optional<std::string> refused;   ///< Set when a compensation would be refused now, and why.
};

struct Accepted {
    SagaId saga_id;
};

/// The bulk actions, by their word: each saga's action as `compensate`, `retry`, `cancel`.
inline constexpr std::string_view kBulkActions[] = {"compensate", "retry", "cancel"};

/// POST /api/v1/bulk: one action on every saga the filter matches (the same filters as
/// `list`; sagas created after the job are never taken), in throttled pages, resumable.
struct BulkRequest {
    std::string action;  ///< compensate, retry or cancel
    std::optional<SagaStatus> status = std::nullopt;
    std::optional<std::string> workflow = std::nullopt;
    std::optional<int> version = std::nullopt;
    std::optional<Timestamp> created_after = std::nullopt;   ///< Inclusive.
    std::optional<Timestamp> created_before = std::nullopt;  ///< Exclusive.
    std::string reason;  ///< Required: it goes into every saga's history.
    bool dry_run = false;  ///< Count and sample the matches; write nothing.
    /// Required when the filter matches more than sagad's `--bulk-confirm-over`: the number
    /// it matches, as a dry run says.
    std::optional<std::int64_t> confirm_count = std::nullopt;
    std::optional<int> rate = std::nullopt;  ///< Sagas a second at most (sagad's default, and its cap).
};

/// A bulk job and its progress (GET /api/v1/bulk/{id}); a dry run's answer has no id.
struct BulkJobInfo {
    std::string id;  ///< Empty for a dry run.
    BulkRequest request;  ///< `dry_run` and `confirm_count` are not kept.
    std::string requested_by;
    std::string state;  ///< running, finished, or dry_run
    std::int64_t matched = 0;  ///< Sagas the filter matched when the job was made.
    std::int64_t done = 0;     ///< Actions applied so far.
    std::int64_t refused = 0;  ///< Sagas whose state no longer allowed the action (or removed).
    int rate = 0;
    Timestamp created_at{};
    Timestamp updated_at{};
    std::vector<SagaId> sample;  ///< A dry run: the first matches (newest first), at most 10.
};

struct BulkJobList {
    std::vector<BulkJobInfo> jobs;  ///< Newest first.
};

/// GET /api/v1/workflows.
struct StepInfo {
    std::string name;
    std::string queue;
    std::optional<std::string> compensation;
    int max_attempts = 0;
    std::int64_t timeout_ms = 0;
};

struct WorkflowInfo {
    std::string name;
    int version = 0;
    std::vector<StepInfo> steps;
};

struct Workflows {
    std::vector<WorkflowInfo> workflows;
};

/// GET /api/v1/workflows/{name}/graph?version=&saga=: Graphviz DOT, the saga's path marked.
struct Graph {
    std::string dot;
};

/// GET /api/v1/workers.
struct WorkerInfo {
    std::string id;
    std::vector<std::string> queues;
    int capacity = 0;
    int in_flight = 0;
    Timestamp last_heartbeat{};
    std::string key_name;  ///< CURVE: the allow-list's name for its key; empty without CURVE
    std::string key;       ///< CURVE: the key's fingerprint
};

/// Ready commands whose action no connected worker serves: they wait for one.
struct UnservedInfo {
    std::string queue;
    std::string action;
    std::int64_t commands = 0;
    std::optional<Timestamp> oldest;  ///< when the oldest of them was armed
};

struct Workers {
    std::vector<WorkerInfo> workers;
    std::vector<UnservedInfo> unserved;  ///< empty from a sagad before 0.1 that had none
};

/// GET /api/v1/stats: counters by group (`node`, `api`, `workers`).
struct Stats {
    std::map<std::string, std::map<std::string, nlohmann::json>> groups;
};

// One codec per type. from_json throws Error(kInvalidArgument) naming the bad field.
void to_json(nlohmann::json& j, const ApiError& v);
void from_json(const nlohmann::json& j, ApiError& v);
void to_json(nlohmann::json& j, const StartSaga& v);
void from_json(const nlohmann::json& j, StartSaga& v);
void to_json(nlohmann::json& j, const Started& v);
void from_json(const nlohmann::json& j, Started& v);
void to_json(nlohmann::json& j, const StartBatch& v);
void from_json(const nlohmann::json& j, StartBatch& v);
void to_json(nlohmann::json& j, const BatchItem& v);
void from_json(const nlohmann::json& j, BatchItem& v);
void to_json(nlohmann::json& j, const BatchStarted& v);
void from_json(const nlohmann::json& j, BatchStarted& v);
void to_json(nlohmann::json& j, const SagaSummary& v);
void from_json(const nlohmann::json& j, SagaSummary& v);
void to_json(nlohmann::json& j, const SagaPage& v);
void from_json(const nlohmann::json& j, SagaPage& v);
void to_json(nlohmann::json& j, const NodeInfo& v);
void from_json(const nlohmann::json& j, NodeInfo& v);
void to_json(nlohmann::json& j, const PendingInfo& v);
void from_json(const nlohmann::json& j, PendingInfo& v);
void to_json(nlohmann::json& j, const AttemptInfo& v);
void from_json(const nlohmann::json& j, AttemptInfo& v);
void to_json(nlohmann::json& j, const HistoryEntry& v);
void from_json(const nlohmann::json& j, HistoryEntry& v);
void to_json(nlohmann::json& j, const SagaDetail& v);
void from_json(const nlohmann::json& j, SagaDetail& v);
void to_json(nlohmann::json& j, const History& v);
void from_json(const nlohmann::json& j, History& v);
void to_json(nlohmann::json& j, const ChildInfo& v);
void from_json(const nlohmann::json& j, ChildInfo& v);
void to_json(nlohmann::json& j, const SignalInfo& v);
void from_json(const nlohmann::json& j, SignalInfo& v);
void to_json(nlohmann::json& j, const SendSignal& v);
void from_json(const nlohmann::json& j, SendSignal& v);
void to_json(nlohmann::json& j, const SignalResult& v);
void from_json(const nlohmann::json& j, SignalResult& v);
void to_json(nlohmann::json& j, const AwaitResult& v);
void from_json(const nlohmann::json& j, AwaitResult& v);
void to_json(nlohmann::json& j, const OperatorRequest& v);
void from_json(const nlohmann::json& j, OperatorRequest& v);
void to_json(nlohmann::json& j, const CompensationStep& v);
void from_json(const nlohmann::json& j, CompensationStep& v);
void to_json(nlohmann::json& j, const CompensationPlan& v);
void from_json(const nlohmann::json& j, CompensationPlan& v);
void to_json(nlohmann::json& j, const BulkRequest& v);
void from_json(const nlohmann::json& j, BulkRequest& v);
void to_json(nlohmann::json& j, const BulkJobInfo& v);
void from_json(const nlohmann::json& j, BulkJobInfo& v);
void to_json(nlohmann::json& j, const BulkJobList& v);
void from_json(const nlohmann::json& j, BulkJobList& v);
void to_json(nlohmann::json& j, const Accepted& v);
void from_json(const nlohmann::json& j, Accepted& v);
void to_json(nlohmann::json& j, const StepInfo& v);
void from_json(const nlohmann::json& j, StepInfo& v);
void to_json(nlohmann::json& j, const WorkflowInfo& v);
void from_json(const nlohmann::json& j, WorkflowInfo& v);
void to_json(nlohmann::json& j, const Workflows& v);
void from_json(const nlohmann::json& j, Workflows& v);
void to_json(nlohmann::json& j, const Graph& v);
void from_json(const nlohmann::json& j, Graph& v);
void to_json(nlohmann::json& j, const WorkerInfo& v);
void from_json(const nlohmann::json& j, WorkerInfo& v);
void to_json(nlohmann::json& j, const UnservedInfo& v);
void from_json(const nlohmann::json& j, UnservedInfo& v);
void to_json(nlohmann::json& j, const Workers& v);
void from_json(const nlohmann::json& j, Workers& v);
void to_json(nlohmann::json& j, const Stats& v);
void from_json(const nlohmann::json& j, Stats& v);

/// Parses a request body into T: kInvalidArgument for malformed JSON or a bad field.
template <class T>
[[nodiscard]] Result<T> Decode(std::string_view body) {
    const nlohmann::json j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded()) return Status{ErrorCode::kInvalidArgument, "the body is not valid JSON"};
    try {
        return j.get<T>();
    } catch (const Error& e) {
        return e.status();
    }
}

}  // namespace sagaflow::api
