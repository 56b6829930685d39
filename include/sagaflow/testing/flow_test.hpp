// The test kit: a workflow run in-process, on the engine's memory store, against your
// handlers (or fakes that answer ok), with every failure point tried in turn.
//
//     sagaflow::testing::FlowTest t(trip::Workflow());
//     t.Input({{"trip_id", "T-1"}, {"car", "compact"}});
//     t.Handle("cars", "rent_car", RentCar);  // the handler your worker serves
//     for (const auto& run : sagaflow::testing::ForEachFailurePoint(t)) EXPECT_TRUE(run.ok()) << run;
//
// With GoogleTest, `SAGAFLOW_FAILURE_POINTS` (sagaflow/testing/gtest.hpp) gives one test
// case per failure point instead.
//
// A failure point is one step node and one kind of failure (FailureKind). Each run starts
// one saga with the input, the real engine (lifecycle, Plan, scheduler, ledger) on a
// manual clock that jumps to the next due time, and an in-process worker that applies the
// inbox's rules (the same code as the worker SDK: a command seen before is answered from
// its stored reply; a compensation whose forward action never ran is answered "nothing
// to undo") and the same error policy (`Permanent`, `HandlerOptions::PermanentOn`).
// A handler's `ctx.tx()` records the statements it runs; what commits is one *effect*.
//
// Each run is checked, and `RunReport::problems` says what did not hold:
//   - the saga ended: completed or compensated (a compensation that fails for good, so
//     the saga waits in failed, is a problem, as is a saga left running);
//   - the status the failure calls for: compensated after a business failure or spent
//     timeouts, otherwise what the run without faults ended in (a crash or a lost reply
//     that spends a step's only attempt compensates too);
//   - no effect ran twice (per node and phase; handlers with `use_inbox = false` are
//     naturally idempotent by their own declaration and are not counted);
//   - when compensated: exactly the steps whose forward effect committed and that have a
//     compensation were compensated, each once, in reverse order of completion (steps on
//     different branches of a parallel group may be undone in either order);
//   - when completed: no compensation ran, and the same steps ran as without faults.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <iosfwd>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sagaflow/core/saga_types.hpp"
#include "sagaflow/worker/worker.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::testing {

/// How a step's forward action fails at its failure point.
enum class FailureKind : std::uint8_t {
    kBusinessFailure,    ///< the action fails for good (as StepResult::Fail)
    kTimeouts,           ///< no attempt is ever answered, until the retry policy is spent
    kCrashBeforeCommit,  ///< the worker dies inside the handler: nothing commits, no reply
    kCrashAfterCommit,   ///< the worker dies after its commit, before the reply is sent
    kDuplicateReply,     ///< the reply arrives twice
    kLostReply,          ///< the reply is lost on the way (the worker lives on)
};
inline constexpr std::array kFailureKinds{FailureKind::kBusinessFailure,   FailureKind::kTimeouts,
                                          FailureKind::kCrashBeforeCommit, FailureKind::kCrashAfterCommit,
                                          FailureKind::kDuplicateReply,    FailureKind::kLostReply};
/// "business_failure", "timeouts", "crash_before_commit", ...
[[nodiscard]] std::string_view ToString(FailureKind kind) noexcept;

/// One step node and one way its forward action fails (on its first attempt; every
/// attempt for timeouts).
struct FailurePoint {
    std::string node;
    FailureKind kind = FailureKind::kBusinessFailure;
    /// "rent_car_business_failure": a GoogleTest case name (dots and dashes become '_').
    [[nodiscard]] std::string name() const;
};

/// One handler run whose transaction committed.
struct Effect {
    std::string node;
    Phase phase = Phase::kForward;
    std::string action;
    int attempt = 1;
    bool faked = false;            ///< no handler was registered: the kit answered ok
    std::vector<std::string> sql;  ///< the statements it ran through ctx.tx()
};

/// What one run did, and what its checks found.
struct RunReport {
    std::optional<FailurePoint> point;  ///< empty: the run without faults
    bool reached = true;                ///< false: the point's step is not on this input's path
    SagaStatus status = SagaStatus::kRunning;
    std::string reason;                 ///< the saga's recorded failure reason
    std::vector<Effect> effects;        ///< in commit order
    std::vector<std::string> history;   ///< "kind node" per history event, in order
    std::vector<std::string> problems;  ///< empty: every check held

    [[nodiscard]] bool ok() const noexcept { return problems.empty(); }
    /// The actions of the committed effects of `phase`, in commit order.
    [[nodiscard]] std::vector<std::string> actions(Phase phase) const;
    /// A few lines: the point, the status, the actions run, the problems.
    [[nodiscard]] std::string Describe() const;
};
std::ostream& operator<<(std::ostream& out, const RunReport& report);

/// What a statement run through a fake `ctx.tx()` returns.
struct SqlAnswer {
    std::vector<worker::SqlRow> rows;
    std::int64_t affected = 1;  ///< what `tx().affected()` says after it
};
using SqlFake = std::function<SqlAnswer(const std::string& sql, const std::vector<worker::SqlParam>& params)>;

/// A workflow with its input and handlers, ready to run under each failure point.
/// Copies share their handlers; every run starts afresh (a new store, clock and inbox).
class FlowTest final : public worker::Handlers {
public:
    explicit FlowTest(Workflow workflow);

    /// The saga's input (default: an empty object).
    FlowTest& Input(nlohmann::json input);
    // Handle(queue, action, handler, options), from worker::Handlers: serves `action` of
    // `queue` with your handler, as a Worker does, under the same error policy. An action
    // without a handler answers ok with an empty output. Also throws for an action the
    // workflow does not send to `queue`.
    /// What `ctx.tx().Exec` returns (default: no rows, one row affected).
    FlowTest& Sql(SqlFake fake);

    [[nodiscard]] const Workflow& workflow() const noexcept;
    /// Every step node × every kind, in declaration order.
    [[nodiscard]] std::vector<FailurePoint> FailurePoints() const;
    /// One run without faults, checked for what holds in every run.
    [[nodiscard]] RunReport Run() const;
    /// One run with the fault at `point`, checked against the run without faults.
    [[nodiscard]] RunReport Run(const FailurePoint& point) const;

private:
    void Add(const std::string& queue, const std::string& action, worker::Handler handler,
             worker::HandlerOptions options) override;

    struct Spec;
    std::shared_ptr<Spec> spec_;
    RunReport RunOnce(const FailurePoint* point) const;
};

/// Runs `test` without faults, then at every failure point; `each` hears each report
/// as it is made. Returns the reports, the run without faults first.
std::vector<RunReport> ForEachFailurePoint(const FlowTest& test,
                                           const std::function<void(const RunReport&)>& each = {});

}  // namespace sagaflow::testing
