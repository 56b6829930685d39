// The flow of a workflow as data: a graph of nodes with stable string ids (DESIGN §2, §5).
//
// A workflow is a sequence of nodes. After a node, the flow goes to the next node of its
// sequence, or to a node named by id further down the same sequence. The node kinds:
//   - step:     an action sent to a worker queue, with an optional compensation;
//   - choice:   ordered branches, each a named guard and a target; the first guard that
//               holds picks the target, else the mandatory `Otherwise` target;
//   - parallel: two or more branches, each a sequence of nodes, run at the same time and
//               joined when all of them finish;
//   - complete / fail: ends the sequence; `fail` compensates everything done;
//   - timer:    waits a fixed time (`Sleep`) or until a timestamp held in a field of the
//               saga's context or input (`Until`), durably: it survives restarts;
//   - signal:   waits for a named signal from outside (`AwaitSignal`); its JSON payload
//               joins the context under the node's id;
//   - child:    starts a saga of another workflow and waits for it to end (`Child`): its
//               context joins the parent's under the node's id; a child that is
//               compensated or fails fails the node; when the parent compensates, a
//               completed child is compensated as one unit, in its place.
// A step, a parallel group or a wait may have a deadline: when it passes, the node fails
// for good (the saga compensates), or, for a signal wait with `OnDeadline`, the flow goes
// to another node further down its sequence instead.
//
// Jumps go forward within one sequence, so a graph has no cycles: a step's retry policy
// is what bounds repetition. Everything here is plain data, so a graph can be validated,
// walked (the engine's `Plan`) and drawn (`sagactl graph`) from the same definition.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sagaflow {

/// True for 1-128 characters of [A-Za-z0-9_.-]: what workflow names, node ids and
/// action names may be. Usable at compile time.
[[nodiscard]] constexpr bool IsValidName(std::string_view name) noexcept {
    if (name.empty() || name.size() > 128) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
        if (!ok) return false;
    }
    return true;
}

namespace detail {
// Not constexpr on purpose: reaching it in a constant evaluation is the compile error.
void node_id_must_be_1_to_128_of_letters_digits_underscore_dot_dash();
}  // namespace detail

/// A node id or action name, as an argument (it views the caller's string; it owns
/// nothing). From a string literal it is checked at compile time: `Step("bad id!", "q")`
/// does not compile. From a runtime string it is checked when the workflow is built.
class NodeName {
public:
    template <std::size_t N>
    consteval NodeName(const char (&literal)[N]) : value_(literal, N - 1) {  // NOLINT: implicit on purpose
        if (!IsValidName(value_)) detail::node_id_must_be_1_to_128_of_letters_digits_underscore_dot_dash();
    }
    NodeName(const std::string& value) : value_(value) {}  // NOLINT: implicit on purpose

    [[nodiscard]] std::string str() const { return std::string(value_); }

private:
    std::string_view value_;
};

/// How a failed attempt is retried. Attempt n (n >= 1 failed attempts so far) waits
/// min(max_backoff, initial_backoff * multiplier^(n-1)), scaled by a random factor in
/// [1 - jitter, 1 + jitter] and capped again at max_backoff.
struct RetryPolicy {
    int max_attempts = 5;  ///< Total attempts including the first; >= 1.
    std::chrono::milliseconds initial_backoff{200};
    double multiplier = 2.0;  ///< >= 1.
    std::chrono::milliseconds max_backoff{30'000};
    double jitter = 0.2;  ///< Fraction in [0, 1].

    /// The first thing impossible about this policy, or empty when it is possible. The one
    /// rule both for registration and for a compile-time check:
    ///     constexpr RetryPolicy kPolicy{3, 100ms, 2.0, 5s, 0.1};
    ///     static_assert(kPolicy.Problem().empty());
    [[nodiscard]] constexpr std::string_view Problem() const noexcept {
        if (max_attempts < 1) return "max_attempts must be >= 1";
        if (initial_backoff.count() < 0) return "initial_backoff must be >= 0";
        if (!(multiplier >= 1.0)) return "multiplier must be >= 1";
        if (max_backoff < initial_backoff) return "max_backoff must be >= initial_backoff";
        if (!(jitter >= 0.0 && jitter <= 1.0)) return "jitter must be in [0, 1]";
        return {};
    }

    friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

/// The default policy for compensations: they must eventually succeed, so more attempts.
[[nodiscard]] RetryPolicy DefaultCompensationPolicy();

/// The default second round of a step or compensation whose policy is `kRetryForward`:
/// more attempts, further apart, before it parks.
[[nodiscard]] RetryPolicy DefaultForwardRetryPolicy();

/// What a step is for the saga's point of no return (Garcia-Molina's saga kinds).
enum class StepKind : std::uint8_t {
    kCompensable,  ///< The default: undone by its compensation, if it has one (none: nothing to undo).
    kPivot,        ///< The point of no return: it has no compensation, and once it is done the
                   ///< saga never compensates; what comes after it is retried forward or parks.
    kRetriable,    ///< After a pivot: it must eventually succeed, so it is retried forward.
};

/// What happens when a step (or a compensation) has failed for good: a `fail` reply, or
/// its attempts spent on retries and timeouts.
enum class FailurePolicy : std::uint8_t {
    kCompensate,    ///< The saga compensates (the default for a step before a pivot).
    kRetryForward,  ///< Spent attempts start a second round (`forward_retry`); then it parks.
                    ///< A `fail` reply is final by contract, so it parks at once.
    kPark,          ///< The node stops and the saga waits for an operator (`parked`).
};

[[nodiscard]] std::string_view ToString(StepKind kind) noexcept;
[[nodiscard]] std::string_view ToString(FailurePolicy policy) noexcept;

/// The undo action of a step, sent to `queue` (by default the step's queue).
struct CompensationDef {
    std::string action;
    std::string queue;
    RetryPolicy retry = DefaultCompensationPolicy();
    std::chrono::milliseconds timeout{30'000};
    /// When its attempts are spent: kPark (the default: the saga stops in `failed` for an
    /// operator) or kRetryForward (a second round, `forward_retry`, then it parks).
    FailurePolicy on_failure = FailurePolicy::kPark;
    RetryPolicy forward_retry = DefaultForwardRetryPolicy();
};

/// One step: a forward action named like the step, sent to `queue`.
struct StepDef {
    std::string name;
    std::string queue;
    RetryPolicy retry;
    std::chrono::milliseconds timeout{30'000};  ///< Per attempt.
    std::optional<CompensationDef> compensation;
    StepKind kind = StepKind::kCompensable;
    /// When it fails for good; nullopt: the default for where it sits (`Workflow::failure_policy`).
    std::optional<FailurePolicy> on_failure;
    RetryPolicy forward_retry = DefaultForwardRetryPolicy();  ///< kRetryForward's second round.
};

/// The policy that spaces attempts after attempt `attempt` of a command whose first round
/// is `first`, and the attempt's number within its round: the first round, then (with
/// kRetryForward) the second. The one rule for the engine's backoff and the Plan's budget.
struct RetryRound {
    const RetryPolicy* policy = nullptr;
    int attempt = 1;  ///< Within the round, 1-based.
    bool last = false;  ///< No attempt is left after this one.
};
[[nodiscard]] RetryRound RoundOf(const RetryPolicy& first, FailurePolicy on_failure, const RetryPolicy& second,
                                 int attempt) noexcept;

enum class NodeKind : std::uint8_t {
    kStep,
    kChoice,
    kParallel,
    kComplete,  ///< Ends its sequence: the workflow, or one parallel branch.
    kFail,      ///< Ends the saga's forward walk: everything done is compensated.
    kTimer,     ///< Waits until a due time.
    kSignal,    ///< Waits for a named signal.
    kChild,     ///< Runs a saga of another workflow and waits for it to end.
};

/// True for the nodes that wait for something other than a worker (timer, signal): they
/// have no effect of their own, so nothing about them is ever compensated.
[[nodiscard]] constexpr bool IsWait(NodeKind kind) noexcept { return kind == NodeKind::kTimer || kind == NodeKind::kSignal; }

[[nodiscard]] std::string_view ToString(NodeKind kind) noexcept;

/// A choice's predicate: pure, over the saga's input and context (step outputs by step
/// name). It must not throw for inputs the workflow accepts; when it does, the choice
/// fails and the saga compensates.
using Guard = std::function<bool(const nlohmann::json& input, const nlohmann::json& context)>;

/// One branch of a choice: when `guard` holds, go to `target`.
struct ChoiceBranch {
    std::string guard;
    std::string target;
};

/// One node. Which fields matter depends on `kind`.
struct NodeDef {
    std::string id;
    NodeKind kind = NodeKind::kStep;
    StepDef step;                          ///< kStep; `step.name` is the id.
    std::string next;                      ///< kStep, kParallel: where to go after; empty: the next node.
    std::vector<ChoiceBranch> when;        ///< kChoice, tried in order.
    std::optional<std::string> otherwise;  ///< kChoice; mandatory.
    std::vector<std::vector<NodeDef>> branches;  ///< kParallel.
    std::string reason;                    ///< kFail.
    std::chrono::milliseconds sleep{0};    ///< kTimer: how long, when `until` is empty.
    std::string until;                     ///< kTimer: the field (context, else input) holding the due time.
    std::string signal;                    ///< kSignal: the signal's name.
    /// kStep, kParallel, kTimer, kSignal: from when the node starts, how long it may take
    /// before it fails for good (or goes to `on_deadline`).
    std::optional<std::chrono::milliseconds> deadline;
    std::string on_deadline;               ///< kSignal: where to go when the deadline passes.
    std::string child_workflow;            ///< kChild: the child saga's workflow (its latest version).
    /// kChild: the field (context, else input) holding the child's input, a JSON object;
    /// empty: the parent's input.
    std::string child_input;
};

/// True for the nodes whose forward work may have an effect to undo: a step with a
/// compensation, and a child saga (compensated as one unit).
[[nodiscard]] inline bool IsCompensable(const NodeDef& n) noexcept {
    return (n.kind == NodeKind::kStep && n.step.compensation.has_value()) || n.kind == NodeKind::kChild;
}
/// True for the nodes that send work out and await its outcome: a step's command, a child saga.
[[nodiscard]] constexpr bool IsAwaited(NodeKind kind) noexcept { return kind == NodeKind::kStep || kind == NodeKind::kChild; }

}  // namespace sagaflow
