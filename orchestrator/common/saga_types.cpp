#include "sagaflow/core/saga_types.hpp"

#include <array>
#include <utility>

namespace sagaflow {
namespace {

constexpr std::array<std::pair<SagaStatus, std::string_view>, 5> kStatusWords{{
    {SagaStatus::kRunning, "running"},
    {SagaStatus::kCompensating, "compensating"},
    {SagaStatus::kCompleted, "completed"},
    {SagaStatus::kCompensated, "compensated"},
    {SagaStatus::kFailed, "failed"},
}};

}  // namespace

std::string_view ToString(SagaStatus s) noexcept {
    for (const auto& [status, word] : kStatusWords) {
        if (status == s) return word;
    }
    return "unknown";
}

std::string_view ToString(Phase p) noexcept {
    return p == Phase::kForward ? "forward" : "compensate";
}

std::string_view ToString(ReplyOutcome o) noexcept {
    switch (o) {
        case ReplyOutcome::kOk: return "ok";
        case ReplyOutcome::kFail: return "fail";
        case ReplyOutcome::kRetry: return "retry";
    }
    return "unknown";
}

std::optional<SagaStatus> SagaStatusFromCode(int code) noexcept {
    for (const auto& [status, word] : kStatusWords) {
        if (static_cast<int>(status) == code) return status;
    }
    return std::nullopt;
}

std::optional<SagaStatus> ParseSagaStatus(std::string_view w) noexcept {
    for (const auto& [status, word] : kStatusWords) {
        if (word == w) return status;
    }
    return std::nullopt;
}

std::optional<Phase> PhaseFromCode(int code) noexcept {
    if (code == static_cast<int>(Phase::kForward)) return Phase::kForward;
    if (code == static_cast<int>(Phase::kCompensate)) return Phase::kCompensate;
    return std::nullopt;
}

}  // namespace sagaflow
