// One error vocabulary for the whole project (STYLE.md "Errors").
//
// `ErrorCode` is a subset of Abseil's canonical codes. The same codes travel in
// worker replies, admin-API errors and `sagactl` exit codes. Two carriers:
// `Error` (an exception that aborts a unit of work) and `Result<T>` (a value for
// outcomes the caller must branch on).
#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace sagaflow {

/// Canonical error codes. Values are stable: they are persisted and sent on the wire.
enum class ErrorCode : int {
    kOk = 0,
    kInvalidArgument = 3,     ///< Caller's input is wrong; retrying the same input fails again.
    kDeadlineExceeded = 4,    ///< Took too long; retry may succeed.
    kNotFound = 5,            ///< The named thing does not exist.
    kAlreadyExists = 6,       ///< A unique thing exists already.
    kPermissionDenied = 7,    ///< Known caller, not allowed to do this (a role too low, a queue not its key's).
    kResourceExhausted = 8,   ///< Over a limit (e.g. running sagas); retry later.
    kFailedPrecondition = 9,  ///< Not allowed in the current state; retry only after a change.
    kAborted = 10,            ///< Concurrency conflict (serialization, version); retry the unit.
    kInternal = 13,           ///< A bug or a broken invariant.
    kUnavailable = 14,        ///< Transient: connection lost, server down; retry with backoff.
    kUnauthenticated = 16,    ///< No credentials, or ones that name no one.
};

/// Stable lower-case name, e.g. "not_found".
[[nodiscard]] std::string_view ToString(ErrorCode code) noexcept;

/// True for the codes whose meaning is "the same call may succeed later".
[[nodiscard]] constexpr bool IsRetryable(ErrorCode code) noexcept {
    return code == ErrorCode::kAborted || code == ErrorCode::kUnavailable ||
           code == ErrorCode::kDeadlineExceeded;
}

/// For a client outside the transaction (sagactl, a submitter): the codes after which the
/// same request may succeed later, `resource_exhausted` (backpressure) included.
[[nodiscard]] constexpr bool IsRetryLater(ErrorCode code) noexcept {
    return IsRetryable(code) || code == ErrorCode::kResourceExhausted;
}

/// The code named by `ToString`'s text; nullopt for any other text.
[[nodiscard]] std::optional<ErrorCode> ParseErrorCode(std::string_view name) noexcept;

/// A code with a human-readable message.
struct Status {
    ErrorCode code = ErrorCode::kOk;
    std::string message;

    [[nodiscard]] bool ok() const noexcept { return code == ErrorCode::kOk; }
};

/// The exception that aborts a unit of work. Caught only at loop and transaction boundaries.
class Error : public std::runtime_error {
public:
    Error(ErrorCode code, const std::string& message)
        : std::runtime_error(message), code_(code) {}

    [[nodiscard]] ErrorCode code() const noexcept { return code_; }
    [[nodiscard]] Status status() const { return {code_, what()}; }

private:
    ErrorCode code_;
};

/// A commit whose outcome is unknown: the connection went during COMMIT, so the work may
/// or may not have landed. Its own error: the caller re-reads the store to learn which,
/// and never runs the unit of work again on the chance that it did not.
class CommitInDoubt : public Error {
public:
    explicit CommitInDoubt(const std::string& message) : Error(ErrorCode::kUnavailable, message) {}
};

/// A value or a non-ok `Status`. `value()` throws `Error` when there is none.
///
///     Result<SagaId> r = engine.Start(...);
///     if (!r.ok()) return Report(r.status());
template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
    Result(Status status) : state_(std::move(status)) {
        if (std::get<Status>(state_).ok()) {
            state_ = Status{ErrorCode::kInternal, "Result built from an ok Status"};
        }
    }

    [[nodiscard]] bool ok() const noexcept { return std::holds_alternative<T>(state_); }
    [[nodiscard]] ErrorCode code() const noexcept {
        return ok() ? ErrorCode::kOk : std::get<Status>(state_).code;
    }
    [[nodiscard]] Status status() const { return ok() ? Status{} : std::get<Status>(state_); }

    T& value() & {
        ThrowIfError();
        return std::get<T>(state_);
    }
    const T& value() const& {
        ThrowIfError();
        return std::get<T>(state_);
    }
    T&& value() && {
        ThrowIfError();
        return std::get<T>(std::move(state_));
    }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

private:
    void ThrowIfError() const {
        if (!ok()) {
            const auto& s = std::get<Status>(state_);
            throw Error(s.code, s.message);
        }
    }

    std::variant<T, Status> state_;
};

}  // namespace sagaflow
