// The saga lifecycle: the one place where transitions are decided (DESIGN §5).
//
// The machine itself (Boost.MSM) lives in lifecycle.cpp; this header is its pure
// interface. `Decide` restores the machine from the stored state code, feeds it one event
// and returns what it decided: the new state, the new position, and the commands its
// actions recorded. Nothing here does I/O, so deciding twice repeats no effect.
#pragma once

#include <optional>
#include <vector>

#include "sagaflow/core/saga_types.hpp"

namespace sagaflow::engine {

/// What happened to a saga.
enum class LifecycleEvent {
    kBegin,                 ///< A new saga.
    kStepOk,                ///< The awaited forward action succeeded.
    kStepFailed,            ///< ... failed for good (business failure).
    kStepRetry,             ///< ... failed transiently.
    kStepTimedOut,          ///< ... got no reply by its deadline.
    kCompensationOk,
    kCompensationFailed,
    kCompensationRetry,
    kCompensationTimedOut,
    kManualCompensate,      ///< An operator asks to undo (running or completed sagas).
    kManualCompensateUnsent,  ///< ... of a running saga whose awaited command was never sent:
                              ///< it is withdrawn, so only the steps before it are undone.
    kManualRetry,           ///< An operator retries the compensation that failed.
};

/// The part of a step definition that the machine needs.
struct StepShape {
    bool has_compensation = false;
    int max_attempts = 1;               ///< Forward.
    int compensation_max_attempts = 1;  ///< Compensation.
};

/// A command the machine asks for; the engine turns it into outbox rows.
struct Effect {
    enum class Kind {
        kSend,    ///< A new command (new msg id) for `step` in `phase`.
        kResend,  ///< The awaited command again (same msg id) after backoff.
    };
    Kind kind;
    int step;
    Phase phase;
};

inline bool operator==(const Effect& a, const Effect& b) {
    return a.kind == b.kind && a.step == b.step && a.phase == b.phase;
}

/// Where a saga stands: its state and the step it is at. `position` is the step in
/// flight while running, the step being compensated while compensating (or the forward
/// step whose outcome a manual compensation waits for), the compensation that failed
/// when failed, the step count when completed, and -1 when compensated.
struct SagaPoint {
    SagaStatus status = SagaStatus::kRunning;
    int position = 0;
};

struct Decision {
    bool accepted = false;  ///< False: the event is not allowed in this state; nothing changes.
    SagaPoint point;
    std::vector<Effect> effects;
};

/// Decides one transition. `current` is nullopt for a saga that does not exist yet
/// (only kBegin is accepted then). `attempt` is how many attempts the awaited command
/// has had, including the one that just ended.
[[nodiscard]] Decision Decide(const std::optional<SagaPoint>& current, int attempt,
                              const std::vector<StepShape>& steps, LifecycleEvent event);

/// Restores the machine into `status` and reads its state back. For the test that pins
/// the mapping between stored codes and the machine's states.
[[nodiscard]] SagaStatus RestoreAndRead(SagaStatus status);

}  // namespace sagaflow::engine
