// Declaring workflows: ordered steps, each sent to a worker queue, with an optional
// compensation, a retry policy and a per-attempt timeout.
//
//     sagaflow::Workflow wf =
//         sagaflow::WorkflowBuilder("order_fulfilment", 1)
//             .Step("reserve_inventory", "inventory").CompensateWith("release_inventory")
//             .Step("charge_payment", "payment").CompensateWith("refund_payment")
//             .Timeout(std::chrono::seconds(10))
//             .Build();
//
// A `Workflow` is immutable data; the engine walks its step list.
#pragma once

#include <chrono>
#include <cstddef>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sagaflow {

/// How a failed attempt is retried. Attempt n (n >= 1 failed attempts so far) waits
/// min(max_backoff, initial_backoff * multiplier^(n-1)), scaled by a random factor in
/// [1 - jitter, 1 + jitter] and capped again at max_backoff.
struct RetryPolicy {
    int max_attempts = 5;  ///< Total attempts including the first; >= 1.
    std::chrono::milliseconds initial_backoff{200};
    double multiplier = 2.0;  ///< >= 1.
    std::chrono::milliseconds max_backoff{30'000};
    double jitter = 0.2;  ///< Fraction in [0, 1].

    friend bool operator==(const RetryPolicy&, const RetryPolicy&) = default;
};

/// The default policy for compensations: they must eventually succeed, so more attempts.
[[nodiscard]] RetryPolicy DefaultCompensationPolicy();

/// The undo action of a step, sent to `queue` (by default the step's queue).
struct CompensationDef {
    std::string action;
    std::string queue;
    RetryPolicy retry = DefaultCompensationPolicy();
    std::chrono::milliseconds timeout{30'000};
};

/// One step: a forward action named like the step, sent to `queue`.
struct StepDef {
    std::string name;
    std::string queue;
    RetryPolicy retry;
    std::chrono::milliseconds timeout{30'000};  ///< Per attempt.
    std::optional<CompensationDef> compensation;
};

/// A named, versioned, validated definition. Cheap to copy (shared immutable data).
class Workflow {
public:
    [[nodiscard]] const std::string& name() const noexcept { return data_->name; }
    [[nodiscard]] int version() const noexcept { return data_->version; }
    [[nodiscard]] const std::vector<StepDef>& steps() const noexcept { return data_->steps; }
    [[nodiscard]] std::size_t step_count() const noexcept { return data_->steps.size(); }
    [[nodiscard]] const StepDef& step(std::size_t i) const { return data_->steps.at(i); }

private:
    friend class WorkflowBuilder;
    struct Data {
        std::string name;
        int version = 0;
        std::vector<StepDef> steps;
    };
    explicit Workflow(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

    std::shared_ptr<const Data> data_;
};

class WorkflowBuilder;

/// Refines the step just declared; returned by `WorkflowBuilder::Step`. Valid only while
/// its builder lives (use it within one expression or while the builder is in scope).
class StepBuilder {
public:
    /// Names the compensation action; `queue` empty means the step's own queue.
    StepBuilder& CompensateWith(std::string action, std::string queue = {});
    StepBuilder& Retry(const RetryPolicy& policy);
    StepBuilder& CompensationRetry(const RetryPolicy& policy);
    StepBuilder& Timeout(std::chrono::milliseconds per_attempt);
    StepBuilder& CompensationTimeout(std::chrono::milliseconds per_attempt);

    /// Declares the next step.
    StepBuilder Step(std::string name, std::string queue);
    /// Same as `WorkflowBuilder::Build`.
    [[nodiscard]] Workflow Build() const;

private:
    friend class WorkflowBuilder;
    StepBuilder(WorkflowBuilder* owner, std::size_t index) : owner_(owner), index_(index) {}
    StepDef& def();

    WorkflowBuilder* owner_;
    std::size_t index_;
};

/// Collects steps, then validates them all at once in `Build()`.
class WorkflowBuilder {
public:
    WorkflowBuilder(std::string name, int version);

    StepBuilder Step(std::string name, std::string queue);

    /// Validates and returns the workflow. Throws `Error(kInvalidArgument)` whose message
    /// lists every problem: bad name or version, no steps, duplicate or empty step names,
    /// empty queue, duplicate compensation names, impossible retry policy or timeout.
    [[nodiscard]] Workflow Build() const;

private:
    friend class StepBuilder;
    std::string name_;
    int version_;
    std::vector<StepDef> steps_;
};

/// Workflows keyed by (name, version). Not thread-safe for writes; fill it before use.
class WorkflowRegistry {
public:
    /// Throws `Error(kAlreadyExists)` when (name, version) is taken.
    void Add(Workflow workflow);

    [[nodiscard]] const Workflow* Find(std::string_view name, int version) const;
    /// The highest version of `name`, or nullptr.
    [[nodiscard]] const Workflow* Latest(std::string_view name) const;
    /// All definitions, by name then version.
    [[nodiscard]] std::vector<const Workflow*> All() const;

private:
    std::map<std::pair<std::string, int>, Workflow, std::less<>> by_key_;
};

}  // namespace sagaflow
