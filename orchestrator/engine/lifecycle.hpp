// The saga lifecycle: the one place where a saga's status is decided (DESIGN §5).
//
// The machine itself (Boost.MSM) lives in lifecycle.cpp; this header is its pure
// interface. `Decide` restores the machine from the stored state code, feeds it one event
// and returns the status it ends in. The walk of the workflow graph is the Plan's (plan.hpp):
// its signals (completed, failed, undone, stuck) and the operator's requests are the
// events here. Nothing here does I/O.
#pragma once

#include <optional>

#include "sagaflow/core/saga_types.hpp"

namespace sagaflow::engine {

/// What happened to a saga, as far as its status is concerned.
enum class LifecycleEvent {
    kBegin,             ///< A new saga.
    kFlowCompleted,     ///< The Plan reached the workflow's end.
    kFlowFailed,        ///< The Plan's forward walk stopped for good.
    kUndone,            ///< The Plan undid everything that needed undoing.
    kStuck,             ///< A compensation failed for good; nothing more can be undone.
    kManualCompensate,  ///< An operator asks to undo (running or completed sagas).
    kManualRetry,       ///< An operator retries the stuck compensations (failed sagas).
    kPark,              ///< The Plan parked: a node waits for an operator, nothing else runs.
    kOperatorResume,    ///< An operator re-runs or skips a parked node (parked sagas).
    kCancel,            ///< An operator stops the saga without compensating.
    kResolveCompleted,  ///< An operator closes a case settled outside the system: completed.
    kResolveCompensated,  ///< ... or compensated.
};

struct Decision {
    bool accepted = false;  ///< False: the event is not allowed in this state; nothing changes.
    SagaStatus status = SagaStatus::kRunning;
};

/// Decides one transition. `current` is nullopt for a saga that does not exist yet
/// (only kBegin is accepted then).
[[nodiscard]] Decision Decide(const std::optional<SagaStatus>& current, LifecycleEvent event);

/// True while the Plan walks backwards: compensating, or failed and waiting for an operator.
[[nodiscard]] constexpr bool IsUndoing(SagaStatus s) noexcept {
    return s == SagaStatus::kCompensating || s == SagaStatus::kFailed;
}

/// Restores the machine into `status` and reads its state back. For the test that pins
/// the mapping between stored codes and the machine's states.
[[nodiscard]] SagaStatus RestoreAndRead(SagaStatus status);

}  // namespace sagaflow::engine
