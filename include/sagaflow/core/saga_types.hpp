// Small enums shared by the engine, the wire and the tools, with stable codes.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace sagaflow {

/// A saga's lifecycle state. The numeric values are what the database stores; they never
/// change meaning (a test pins them). Never derive them from Boost.MSM's state indices.
enum class SagaStatus : std::int16_t {
    kRunning = 1,
    kCompensating = 2,
    kCompleted = 3,
    kCompensated = 4,
    kFailed = 5,  ///< A compensation could not finish: waits for an operator.
    kParked = 6,  ///< A forward node parked under its failure policy: waits for an operator.
    kCancelled = 7,  ///< An operator stopped it without compensating.
};

/// Which action of a step a command asks for.
enum class Phase : std::int16_t {
    kForward = 1,
    kCompensate = 2,
};

/// The worker's outcome for a command.
enum class ReplyOutcome : std::int16_t {
    kOk = 1,     ///< Done; carries an output.
    kFail = 2,   ///< Business failure: final, no retry.
    kRetry = 3,  ///< Transient error: retry with backoff within the policy.
};

[[nodiscard]] std::string_view ToString(SagaStatus s) noexcept;
[[nodiscard]] std::string_view ToString(Phase p) noexcept;
[[nodiscard]] std::string_view ToString(ReplyOutcome o) noexcept;

[[nodiscard]] std::optional<SagaStatus> SagaStatusFromCode(int code) noexcept;
[[nodiscard]] std::optional<SagaStatus> ParseSagaStatus(std::string_view word) noexcept;
[[nodiscard]] std::optional<Phase> PhaseFromCode(int code) noexcept;

/// True for `completed`, `compensated` and `cancelled`: nothing more will ever happen.
[[nodiscard]] constexpr bool IsTerminal(SagaStatus s) noexcept {
    return s == SagaStatus::kCompleted || s == SagaStatus::kCompensated || s == SagaStatus::kCancelled;
}

}  // namespace sagaflow
