// The Plan: the one place that walks a workflow graph (DESIGN §5, §10).
//
// Pure: given the workflow, a saga's per-node states and one event, `Apply` updates the
// states and returns effects (send a command, send it again, withdraw one never sent) and
// at most one signal for the saga's lifecycle (completed, must compensate, all undone, a
// compensation stuck). The Boost.MSM lifecycle decides the saga's status from that
// signal; the Plan is told the result (`undoing`) and never decides a status itself.
//
// The walk:
//   - forward, a node runs when the flow reaches it: a step sends its command, a choice
//     picks its target by its guards, a parallel group starts every branch and joins
//     when all of them finish; nodes jumped over are skipped;
//   - a step that fails for good (a `fail` reply, or its attempts spent on `retry` or on
//     timeouts) or a `fail` node stops the forward walk: no new step starts anywhere,
//     and the steps still in flight are awaited;
//   - then (undoing) every step that completed, or whose outcome is unknown, and has a
//     compensation is undone in reverse order of completion; steps in different branches
//     of a parallel group are not ordered against each other, so they are undone
//     concurrently. Nothing that never started is undone;
//   - a wait (timer, signal) runs until it fires, its signal comes, or its deadline
//     passes; when the forward walk stops it is withdrawn (it has nothing to undo);
//   - a node with a deadline that is still running when it passes fails for good (a step:
//     with an unknown outcome, so it is undone too), or a signal wait with `OnDeadline`
//     goes there instead;
//   - a node that fails for good does what its failure policy says
//     (`Workflow::failure_policy`): compensate (the above), retry forward (a second round
//     of attempts), or park: it waits for an operator while the rest of the flow runs on
//     as far as it can; once nothing else runs, the saga parks. Past a pivot nothing is
//     ever compensated (validation makes sure no node there could ask to be).
// The Plan says what to arm and disarm (timers, signal waits, deadlines) as effects; it
// reads the time only from `FlowFacts::now`, so it stays pure.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sagaflow/core/clock.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/core/saga_types.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::engine {

/// A node's state. The numeric values are stored; they never change meaning.
enum class NodeState : std::int16_t {
    kPending = 1,       ///< Not reached (yet).
    kRunning = 2,       ///< A step's command is out; a group's branches run.
    kDone = 3,          ///< Finished forward (a choice: evaluated; an end node: reached).
    kFailed = 4,        ///< Failed for good (with `uncertain`: its outcome is unknown).
    kCompensating = 5,  ///< Its compensation is out (with `stuck`: it failed for good).
    kCompensated = 6,
    kSkipped = 7,       ///< Off the saga's path, or withdrawn before it was ever sent.
    kParked = 8,        ///< Failed for good under policy park (or retry_forward spent): waits
                        ///< for an operator (with `uncertain` as kFailed has it).
};

[[nodiscard]] std::string_view ToString(NodeState s) noexcept;
[[nodiscard]] std::optional<NodeState> NodeStateFromCode(int code) noexcept;
[[nodiscard]] std::optional<NodeState> ParseNodeState(std::string_view word) noexcept;

/// One node of one saga.
struct NodeStatus {
    NodeState state = NodeState::kPending;
    /// 1-based rank among the saga's forward completions (done, or failed with an unknown
    /// outcome); 0 when it has none. Compensation runs in reverse of it.
    int order = 0;
    bool uncertain = false;  ///< kFailed without knowing whether it had an effect.
    bool stuck = false;      ///< kCompensating whose compensation failed for good.
    bool expired = false;    ///< Its deadline passed (kFailed, or kDone with `OnDeadline`).
    /// kDone, left as it is by an operator's compensation from an earlier node: never undone.
    bool kept = false;

    friend bool operator==(const NodeStatus&, const NodeStatus&) = default;
};

/// A saga's per-node states: what the Plan reads and writes. A node that is absent is
/// pending. Stored on the saga row as JSON (one codec: `to_json`/`from_json`).
struct FlowState {
    std::map<std::string, NodeStatus, std::less<>> nodes;
    int completions = 0;  ///< The last `order` handed out.

    [[nodiscard]] NodeStatus at(std::string_view id) const;
    NodeStatus& operator[](std::string_view id);
    friend bool operator==(const FlowState&, const FlowState&) = default;
};

void to_json(nlohmann::json& j, const FlowState& s);
/// Throws `Error(kInternal)` on a malformed document (a corrupt row).
void from_json(const nlohmann::json& j, FlowState& s);

/// One thing that happened to a saga.
struct PlanEvent {
    enum class Kind {
        kBegin,       ///< A new saga: walk to its first steps.
        kOk,          ///< `node`'s command in `phase` succeeded.
        kFail,        ///< ... failed for good (a business failure: no effect).
        kRetry,       ///< ... failed transiently, or timed out: `attempt` attempts so far.
        kResume,      ///< The lifecycle moved to undoing: start compensating.
        kCompensate,  ///< An operator asks to undo; `withdrawn` running steps never sent.
                      ///< With `node`: undo only it and what completed before it (nothing
                      ///< awaited may be running); what completed after it is kept.
        kRetryUndo,   ///< An operator retries the stuck compensations.
        kFired,       ///< Timer `node` is due.
        kSignal,      ///< Signal wait `node` got its signal (the service merged its payload).
        kExpired,     ///< `node`'s deadline passed.
        kRetryNode,   ///< An operator re-runs parked `node` (empty: every parked node) afresh.
        kSkipNode,    ///< An operator marks parked or running `node` done, as if it succeeded
                      ///< (the service merged the output they gave).
        kClose,       ///< An operator closed the saga (cancel, resolve): nothing of it runs
                      ///< any more, so what ran or was parked is skipped.
    };
    Kind kind = Kind::kBegin;
    std::string node;
    Phase phase = Phase::kForward;
    int attempt = 1;
    std::vector<std::string> withdrawn;
};

struct PlanEffect {
    enum class Kind {
        kSend,      ///< A new command (new msg id) for `node` in `phase`.
        kResend,    ///< The awaited command of `node` again (same msg id), after backoff.
        kWithdraw,  ///< Drop `node`'s command: it was never sent, so it cannot have run.
        kArmTimer,     ///< Timer `node` is due at `due`.
        kAwaitSignal,  ///< Signal wait `node` waits (a signal that came before it is taken now).
        kArmDeadline,  ///< `node` must finish by `due`.
        kDisarm,       ///< `node` stopped running: drop what it waited for (its timer, signal
                       ///< wait, deadline; after its deadline, a step's command too).
    };
    Kind kind = Kind::kSend;
    std::string node;
    Phase phase = Phase::kForward;
    Timestamp due{};  ///< kArmTimer, kArmDeadline.
    /// kSend of a parked step re-run whose last command may have committed (its outcome is
    /// unknown): send it under that command's msg id, so the inbox answers if it ran.
    bool same_msg_id = false;
    friend bool operator==(const PlanEffect&, const PlanEffect&) = default;
};

/// What the lifecycle is told.
enum class FlowSignal {
    kNone,
    kCompleted,  ///< The flow reached its end.
    kFailed,     ///< The forward walk stopped for good: compensate.
    kUndone,     ///< Everything that needed undoing is undone.
    kStuck,      ///< Nothing more can be undone: a compensation failed for good.
    kParked,     ///< A node parked and nothing else runs: only an operator moves the saga.
};

struct PlanResult {
    /// False when the event does not fit the states (a reply for a node that is not
    /// running, a second begin): nothing changed, no effects.
    bool accepted = true;
    std::vector<PlanEffect> effects;
    FlowSignal signal = FlowSignal::kNone;
    std::string reason;  ///< With kFailed from a `fail` node or a guard that threw.
};

/// What the Plan reads besides the states: the saga's data for guards, and whether the
/// lifecycle is undoing (compensating, or failed and waiting for an operator).
struct FlowFacts {
    const nlohmann::json& input;
    const nlohmann::json& context;
    bool undoing = false;
    Timestamp now{};  ///< When the event is applied: timers and deadlines count from it.
};

/// The input a child node gives its child saga: the JSON object in field `child_input` of
/// the context, else of the input; or the parent's input when the node names no field.
/// nullopt when the field holds no JSON object (the node then fails).
[[nodiscard]] std::optional<nlohmann::json> ChildInputOf(const NodeDef& node, const nlohmann::json& input,
                                                        const nlohmann::json& context);

/// The walker of one workflow. Cheap to build; immutable; thread-safe to share.
class Plan {
public:
    explicit Plan(const Workflow& workflow);

    /// Applies one event to `state`. On `accepted == false`, `state` is unchanged.
    [[nodiscard]] PlanResult Apply(FlowState& state, const PlanEvent& event, const FlowFacts& facts) const;

    /// True when nodes `a` and `b` (numbers) are in different branches of one parallel
    /// group: neither is ordered before the other.
    [[nodiscard]] bool Concurrent(int a, int b) const;

    /// What a compensation would run, in waves (each wave runs at once), were it asked for
    /// now and were every compensation to succeed: the Plan's own walk on a copy of `state`,
    /// with `withdrawn` and `from` as `kCompensate` takes them. Steps still in flight are
    /// taken to end ok (they would be undone then); those are named in `in_flight`. nullopt
    /// when `kCompensate` would be refused.
    struct Preview {
        std::vector<std::vector<std::string>> waves;
        std::set<std::string, std::less<>> in_flight;
        std::vector<std::string> kept;  ///< Done after `from`: left as they are.
    };
    [[nodiscard]] std::optional<Preview> PreviewCompensation(FlowState state, const std::vector<std::string>& withdrawn,
                                                             const std::string& from, const FlowFacts& facts) const;

    /// Whether a compensation may start from node `from` (`kCompensate` with a node): ok,
    /// or why not: kInvalidArgument for an unknown node or one without a compensation,
    /// kFailedPrecondition for a node with nothing to undo, or while a step or child is in
    /// flight (its completion would have to be placed). The one rule, for the walk and for
    /// the service's answer.
    [[nodiscard]] Status CompensateFrom(const FlowState& state, std::string_view from) const;

    /// The id of the pivot step the saga has passed (it is done), or nullopt.
    [[nodiscard]] std::optional<std::string> PassedPivot(const FlowState& state) const;

    /// For drawing: the steps with a compensation whose undo may come right after `node`'s
    /// (its nearest compensable predecessors on any path); empty: the saga is compensated
    /// after it. `node` need not have a compensation (a failed step undoes these first).
    [[nodiscard]] std::vector<int> UndoNext(int node) const;

    /// For drawing: where the flow can go after `node`. -1 is the end of the workflow; a
    /// branch's end is its group's number with `join` set.
    struct Exit {
        int to = -1;
        std::string label;  ///< A choice's guard, "otherwise", or "deadline" (`OnDeadline`).
        bool join = false;
    };
    [[nodiscard]] std::vector<Exit> Exits(int node) const;

    [[nodiscard]] const Workflow& workflow() const noexcept { return wf_; }

private:
    class Walk;
    /// The event's own walk, filling `r` (which `w` writes too); a copy of `r`, or a refusal.
    PlanResult ApplyEvent(FlowState& state, const PlanEvent& event, const FlowFacts& facts, Walk& w,
                          PlanResult& r) const;
    Workflow wf_;
    /// For each node: the (group, branch) pairs that enclose it, outermost first.
    std::vector<std::vector<std::pair<int, int>>> chains_;
    /// For each node: the nodes the flow reaches it from; for each group: the nodes that
    /// end its branches (both from `Exits`, for `UndoNext`).
    std::vector<std::vector<int>> preds_, enders_;
};

}  // namespace sagaflow::engine
