#include "sagaflow/core/error.hpp"

namespace sagaflow {

std::string_view ToString(ErrorCode code) noexcept {
    switch (code) {
        case ErrorCode::kOk: return "ok";
        case ErrorCode::kInvalidArgument: return "invalid_argument";
        case ErrorCode::kDeadlineExceeded: return "deadline_exceeded";
        case ErrorCode::kNotFound: return "not_found";
        case ErrorCode::kAlreadyExists: return "already_exists";
        case ErrorCode::kPermissionDenied: return "permission_denied";
        case ErrorCode::kResourceExhausted: return "resource_exhausted";
        case ErrorCode::kFailedPrecondition: return "failed_precondition";
        case ErrorCode::kAborted: return "aborted";
        case ErrorCode::kInternal: return "internal";
        case ErrorCode::kUnavailable: return "unavailable";
        case ErrorCode::kUnauthenticated: return "unauthenticated";
    }
    return "unknown";
}

std::optional<ErrorCode> ParseErrorCode(std::string_view name) noexcept {
    for (ErrorCode c : {ErrorCode::kOk, ErrorCode::kInvalidArgument, ErrorCode::kDeadlineExceeded,
                        ErrorCode::kNotFound, ErrorCode::kAlreadyExists, ErrorCode::kPermissionDenied, ErrorCode::kResourceExhausted,
                        ErrorCode::kFailedPrecondition, ErrorCode::kAborted, ErrorCode::kInternal,
                        ErrorCode::kUnavailable, ErrorCode::kUnauthenticated}) {
        if (ToString(c) == name) return c;
    }
    return std::nullopt;
}

}  // namespace sagaflow
