// Declaring workflows. The linear builder is the shorthand for a sequence of steps:
//
//     sagaflow::Workflow wf =
//         sagaflow::WorkflowBuilder("order_fulfilment", 1)
//             .Step("reserve_inventory", "inventory").CompensateWith("release_inventory")
//             .Step("charge_payment", "payment").CompensateWith("refund_payment")
//             .Timeout(std::chrono::seconds(10))
//             .Build();
//
// Choices and parallel groups (graph.hpp) extend the same chain:
//
//     WorkflowBuilder("order_fulfilment", 2)
//         .Guard("large_order", [](const json& in, const json&) { return in.value("amount", 0) > 50000; })
//         .Step("reserve_inventory", "inventory").CompensateWith("release_inventory")
//         .Choice("amount").When("large_order", "fraud_check").Otherwise("charge_payment")
//         .Step("fraud_check", "risk")
//         .Step("charge_payment", "payment").CompensateWith("refund_payment")
//         .Parallel("ship_and_invoice")
//             .Branch().Step("create_shipment", "logistics").CompensateWith("cancel_shipment")
//             .Branch().Step("issue_invoice", "billing").CompensateWith("void_invoice")
//         .Join()
//         .Build();
//
// The builder's types check the shape as far as C++ can: a choice cannot continue
// without `Otherwise`, a branch cannot be empty, and an id written as a literal is checked
// at compile time. `Build()` checks the rest and lists every problem at once.
//
// A `Workflow` is immutable data; the engine's `Plan` walks its graph.
#pragma once

#include <cstddef>
#include <map>
#include <set>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sagaflow/workflow/graph.hpp"

namespace sagaflow {

/// A named, versioned, validated graph. Cheap to copy (shared immutable data).
///
/// Besides the graph as declared (`flow()`), it offers a flat index: every node has a
/// number (declaration order, depth first), and every sequence (the top level and each
/// parallel branch) lists its nodes by number.
class Workflow {
public:
    /// Where a node sits.
    struct Place {
        const NodeDef* def = nullptr;
        int sequence = 0;  ///< Index into `sequences()`.
        int position = 0;  ///< Within that sequence.
    };
    /// A sequence of nodes: the top level (`group` -1) or branch `branch` of the parallel
    /// node numbered `group`.
    struct Sequence {
        int group = -1;
        int branch = -1;
        std::vector<int> nodes;
    };

    [[nodiscard]] const std::string& name() const noexcept { return data_->name; }
    [[nodiscard]] int version() const noexcept { return data_->version; }
    /// The top-level sequence as declared.
    [[nodiscard]] const std::vector<NodeDef>& flow() const noexcept { return data_->flow; }
    [[nodiscard]] const std::vector<Place>& nodes() const noexcept { return data_->places; }
    [[nodiscard]] const NodeDef& node(int i) const { return *data_->places.at(static_cast<std::size_t>(i)).def; }
    /// The number of the node with this id, or -1.
    [[nodiscard]] int find(std::string_view id) const;
    [[nodiscard]] const std::vector<Sequence>& sequences() const noexcept { return data_->sequences; }
    /// For each parallel node's number, its branches' sequence indexes; empty for others.
    [[nodiscard]] const std::vector<int>& branches_of(int node) const {
        return data_->branch_sequences.at(static_cast<std::size_t>(node));
    }
    /// The guard registered under `name`, or nullptr.
    [[nodiscard]] const Guard* guard(std::string_view name) const;
    /// True when node `node` can run after a pivot step was done (it is reachable from one).
    [[nodiscard]] bool after_pivot(int node) const { return data_->after_pivot.at(static_cast<std::size_t>(node)); }
    /// What node `node` does when it fails for good: a step's own `on_failure`, else
    /// kRetryForward for a retriable step, kPark after a pivot, kCompensate otherwise.
    /// The one place the default is decided.
    [[nodiscard]] FailurePolicy failure_policy(int node) const;
    /// The nodes that read node `node`'s output from the context by name (a timer's
    /// `Until` field, a child's input field): an operator's skip of it must give one.
    [[nodiscard]] std::vector<std::string> readers_of(int node) const;
    /// The retry round of step `node`'s forward command after `attempt` attempts, and of
    /// its compensation's: which policy spaces the next attempt, and whether none is left.
    [[nodiscard]] RetryRound forward_round(int node, int attempt) const;
    [[nodiscard]] RetryRound compensation_round(int node, int attempt) const;
    /// True when the graph is one sequence of steps without jumps (the linear shorthand).
    [[nodiscard]] bool is_linear() const noexcept { return data_->linear; }

    /// Every step, in declaration order (depth first).
    [[nodiscard]] const std::vector<StepDef>& steps() const noexcept { return data_->steps; }
    [[nodiscard]] std::size_t step_count() const noexcept { return data_->steps.size(); }
    [[nodiscard]] const StepDef& step(std::size_t i) const { return data_->steps.at(i); }

private:
    friend class WorkflowBuilder;
    struct Data {
        std::string name;
        int version = 0;
        std::vector<NodeDef> flow;
        std::map<std::string, Guard, std::less<>> guards;
        std::vector<Place> places;
        std::vector<Sequence> sequences;
        std::vector<std::vector<int>> branch_sequences;
        std::map<std::string, int, std::less<>> by_id;
        std::vector<StepDef> steps;
        std::vector<bool> after_pivot;
        bool linear = true;
    };
    explicit Workflow(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

    std::shared_ptr<const Data> data_;
};

class WorkflowBuilder;
class ChoiceBuilder;
class ParallelBuilder;
class BranchBuilder;

/// The chain after a node: refines the step just declared, or declares the next node.
/// Returned by `WorkflowBuilder::Step` and friends. Valid only while its builder lives
/// (use it within one expression or while the builder is in scope).
class StepBuilder {
public:
    /// Names the compensation action; `queue` empty means the step's own queue.
    StepBuilder& CompensateWith(NodeName action, std::string queue = {});
    StepBuilder& Retry(const RetryPolicy& policy);
    StepBuilder& CompensationRetry(const RetryPolicy& policy);
    StepBuilder& Timeout(std::chrono::milliseconds per_attempt);
    /// This step is the point of no return (no compensation; at the top level, not inside
    /// a parallel group; one per path). Once it is done the saga never compensates: what
    /// comes after it is retriable (or has nothing to undo) and is retried forward or parks.
    StepBuilder& Pivot();
    /// This step must eventually succeed: it has no compensation, and when its attempts are
    /// spent it is retried forward (`RetryForward`'s round, by default 20 attempts from 1 s
    /// to 5 min apart), then it parks for an operator.
    StepBuilder& Retriable();
    /// What to do when this step fails for good (see `FailurePolicy`). The default:
    /// kCompensate before a pivot, kRetryForward for a retriable step, kPark after a pivot.
    StepBuilder& OnFailure(FailurePolicy policy);
    /// OnFailure(kRetryForward) with `second_round` as the second round's policy.
    StepBuilder& RetryForward(const RetryPolicy& second_round);
    /// What to do when this step's compensation has spent its attempts: kPark (the default:
    /// the saga stops in `failed`) or kRetryForward.
    StepBuilder& CompensationOnFailure(FailurePolicy policy);
    StepBuilder& CompensationRetryForward(const RetryPolicy& second_round);
    StepBuilder& CompensationTimeout(std::chrono::milliseconds per_attempt);
    /// After this step (parallel group, wait), go to `target`, further down this sequence;
    /// the nodes jumped over are skipped.
    StepBuilder& Next(NodeName target);
    /// This step, parallel group or wait must finish within `limit` of starting, or it
    /// fails for good (the saga compensates). A step's deadline spans all its attempts.
    StepBuilder& Deadline(std::chrono::milliseconds limit);
    /// A signal wait whose deadline passes goes to `target` (further down this sequence)
    /// instead of failing: a reminder, then another wait, for example.
    StepBuilder& OnDeadline(NodeName target);

    /// Declares the next node of the current sequence.
    StepBuilder Step(NodeName id, std::string queue);
    ChoiceBuilder Choice(NodeName id);
    ParallelBuilder Parallel(NodeName id);
    StepBuilder Complete(NodeName id);
    StepBuilder Fail(NodeName id, std::string reason);
    /// A timer that waits `duration` (> 0) from when the flow reaches it.
    StepBuilder Sleep(NodeName id, std::chrono::milliseconds duration);
    /// A timer that waits until the timestamp (RFC 3339 text, or milliseconds since the
    /// epoch) in field `field` of the saga's context, else of its input.
    StepBuilder Until(NodeName id, std::string field);
    /// Waits for the signal `signal`; the node's id is the signal's name.
    StepBuilder AwaitSignal(NodeName signal);
    StepBuilder AwaitSignal(NodeName id, NodeName signal);
    /// Runs a saga of `workflow` (registered before this one) as a child and waits for it
    /// to end; its input is the field `input_from` (context, else input) or, empty, this
    /// saga's input.
    StepBuilder Child(NodeName id, std::string workflow, std::string input_from = {});
    /// Inside a parallel group: ends this branch and starts the next one.
    BranchBuilder Branch();
    /// Inside a parallel group: ends its last branch; the chain continues after the group.
    StepBuilder Join();
    /// Same as `WorkflowBuilder::Build`.
    [[nodiscard]] Workflow Build() const;

private:
    friend class WorkflowBuilder;
    friend class ChoiceBuilder;
    friend class BranchBuilder;
    StepBuilder(WorkflowBuilder* owner, std::vector<std::size_t> address)
        : owner_(owner), address_(std::move(address)) {}
    StepDef* step(const char* what);

    WorkflowBuilder* owner_;
    std::vector<std::size_t> address_;  ///< Of the node this refines; see WorkflowBuilder::At.
};

/// A choice's branches, then its mandatory `Otherwise`: only `Otherwise` leads back to
/// the chain, so a choice without one does not compile.
class ChoiceBuilder {
public:
    /// When guard `guard` holds, go to `target` (further down this sequence).
    ChoiceBuilder& When(NodeName guard, NodeName target);
    /// Where to go when no guard holds.
    StepBuilder Otherwise(NodeName target);

private:
    friend class WorkflowBuilder;
    ChoiceBuilder(WorkflowBuilder* owner, std::vector<std::size_t> address)
        : owner_(owner), address_(std::move(address)) {}
    NodeDef& def();

    WorkflowBuilder* owner_;
    std::vector<std::size_t> address_;
};

/// A parallel group just declared: its first branch comes next.
class ParallelBuilder {
public:
    BranchBuilder Branch();

private:
    friend class WorkflowBuilder;
    explicit ParallelBuilder(WorkflowBuilder* owner) : owner_(owner) {}
    WorkflowBuilder* owner_;
};

/// The start of a branch: it offers only nodes, so a branch cannot be empty.
class BranchBuilder {
public:
    StepBuilder Step(NodeName id, std::string queue);
    ChoiceBuilder Choice(NodeName id);
    ParallelBuilder Parallel(NodeName id);
    StepBuilder Complete(NodeName id);
    StepBuilder Fail(NodeName id, std::string reason);
    /// A timer that waits `duration` (> 0) from when the flow reaches it.
    StepBuilder Sleep(NodeName id, std::chrono::milliseconds duration);
    /// A timer that waits until the timestamp (RFC 3339 text, or milliseconds since the
    /// epoch) in field `field` of the saga's context, else of its input.
    StepBuilder Until(NodeName id, std::string field);
    /// Waits for the signal `signal`; the node's id is the signal's name.
    StepBuilder AwaitSignal(NodeName signal);
    StepBuilder AwaitSignal(NodeName id, NodeName signal);
    /// Runs a saga of `workflow` (registered before this one) as a child and waits for it
    /// to end; its input is the field `input_from` (context, else input) or, empty, this
    /// saga's input.
    StepBuilder Child(NodeName id, std::string workflow, std::string input_from = {});

private:
    friend class WorkflowBuilder;
    friend class StepBuilder;
    friend class ParallelBuilder;
    explicit BranchBuilder(WorkflowBuilder* owner) : owner_(owner) {}
    WorkflowBuilder* owner_;
};

/// Collects nodes and guards, then validates them all at once in `Build()`.
class WorkflowBuilder {
public:
    WorkflowBuilder(std::string name, int version);

    /// Registers a guard that choices of this workflow can name.
    WorkflowBuilder& Guard(NodeName name, sagaflow::Guard predicate);

    StepBuilder Step(NodeName id, std::string queue);
    ChoiceBuilder Choice(NodeName id);
    ParallelBuilder Parallel(NodeName id);
    StepBuilder Complete(NodeName id);
    StepBuilder Fail(NodeName id, std::string reason);
    /// A timer that waits `duration` (> 0) from when the flow reaches it.
    StepBuilder Sleep(NodeName id, std::chrono::milliseconds duration);
    /// A timer that waits until the timestamp (RFC 3339 text, or milliseconds since the
    /// epoch) in field `field` of the saga's context, else of its input.
    StepBuilder Until(NodeName id, std::string field);
    /// Waits for the signal `signal`; the node's id is the signal's name.
    StepBuilder AwaitSignal(NodeName signal);
    StepBuilder AwaitSignal(NodeName id, NodeName signal);
    /// Runs a saga of `workflow` (registered before this one) as a child and waits for it
    /// to end; its input is the field `input_from` (context, else input) or, empty, this
    /// saga's input.
    StepBuilder Child(NodeName id, std::string workflow, std::string input_from = {});

    /// Validates and returns the workflow. Throws `Error(kInvalidArgument)` whose message
    /// lists every problem: bad name or version, no steps, duplicate or invalid node ids
    /// or action names, unknown guards or targets, jumps that go back (a cycle) or leave
    /// their sequence, unreachable nodes, a choice without `Otherwise`, a parallel group
    /// with fewer than two branches or an empty one, empty queues, impossible retry
    /// policies or timeouts, and misuse of the builder (`Join` outside a group, ...).
    [[nodiscard]] Workflow Build() const;

    /// Builds from nodes written as data (the builder's own chain ends here too).
    [[nodiscard]] static Workflow FromNodes(std::string name, int version, std::vector<NodeDef> flow,
                                            std::map<std::string, sagaflow::Guard, std::less<>> guards = {});

private:
    friend class StepBuilder;
    friend class ChoiceBuilder;
    friend class ParallelBuilder;
    friend class BranchBuilder;
    /// The node at `address`: [i0, b0, i1, b1, ..., ik] = node ik of branch b(k-1) of ...
    /// of the top-level node i0.
    NodeDef& At(const std::vector<std::size_t>& address);
    /// Appends a node to the current sequence and returns its address.
    std::vector<std::size_t> Append(NodeDef node);
    /// The sequence being declared.
    std::vector<NodeDef>& Current();
    void StartBranch();
    void CloseGroup();

    std::string name_;
    int version_;
    std::vector<NodeDef> flow_;
    std::map<std::string, sagaflow::Guard, std::less<>> guards_;
    /// The open parallel groups, outermost first: each the address of the group node.
    std::vector<std::vector<std::size_t>> open_groups_;
    std::vector<std::string> misuse_;
};

/// Workflows keyed by (name, version). Not thread-safe for writes; fill it before use.
class WorkflowRegistry {
public:
    /// Throws `Error(kAlreadyExists)` when (name, version) is taken, and
    /// `Error(kInvalidArgument)` when a child node names a workflow not registered yet.
    void Add(Workflow workflow);

    [[nodiscard]] const Workflow* Find(std::string_view name, int version) const;
    /// The highest version of `name`, or nullptr.
    [[nodiscard]] const Workflow* Latest(std::string_view name) const;
    /// All definitions, by name then version.
    [[nodiscard]] std::vector<const Workflow*> All() const;
    /// Every queue a step or compensation of any definition uses.
    [[nodiscard]] std::set<std::string> Queues() const;
    /// The actions each queue is sent, steps and compensations, over every definition.
    [[nodiscard]] std::map<std::string, std::set<std::string>> Actions() const;

private:
    std::map<std::pair<std::string, int>, Workflow, std::less<>> by_key_;
};

}  // namespace sagaflow
