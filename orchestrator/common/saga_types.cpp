#include "sagaflow/core/saga_types.hpp"

#include "sagaflow/core/code_words.hpp"

namespace sagaflow {
namespace {

constexpr std::pair<SagaStatus, std::string_view> kStatusWords[] = {
    {SagaStatus::kRunning, "running"},
    {SagaStatus::kCompensating, "compensating"},
    {SagaStatus::kCompleted, "completed"},
    {SagaStatus::kCompensated, "compensated"},
    {SagaStatus::kFailed, "failed"},
    {SagaStatus::kParked, "parked"},
    {SagaStatus::kCancelled, "cancelled"},
};

}  // namespace

std::string_view ToString(SagaStatus s) noexcept { return WordOf(kStatusWords, s); }

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

std::optional<SagaStatus> SagaStatusFromCode(int code) noexcept { return FromCode(kStatusWords, code); }

std::optional<SagaStatus> ParseSagaStatus(std::string_view w) noexcept { return FromWord(kStatusWords, w); }

std::optional<Phase> PhaseFromCode(int code) noexcept {
    if (code == static_cast<int>(Phase::kForward)) return Phase::kForward;
    if (code == static_cast<int>(Phase::kCompensate)) return Phase::kCompensate;
    return std::nullopt;
}

}  // namespace sagaflow
