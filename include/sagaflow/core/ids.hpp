// Strong identifier types. A `SagaId` cannot be passed where a `MsgId` is expected.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace sagaflow {

/// A string-backed identifier tagged by `Tag` so that kinds cannot be mixed up.
template <class Tag>
class StrongId {
public:
    StrongId() = default;
    explicit StrongId(std::string value) : value_(std::move(value)) {}

    [[nodiscard]] const std::string& str() const noexcept { return value_; }
    [[nodiscard]] bool empty() const noexcept { return value_.empty(); }

    friend bool operator==(const StrongId&, const StrongId&) = default;
    friend auto operator<=>(const StrongId&, const StrongId&) = default;

private:
    std::string value_;
};

struct SagaIdTag {};
struct MsgIdTag {};
struct BusinessKeyTag {};
struct TraceIdTag {};

/// UUID of one saga.
using SagaId = StrongId<SagaIdTag>;
/// UUID of one command; the same on every resend, so the worker inbox can dedup on it.
using MsgId = StrongId<MsgIdTag>;
/// The caller's idempotency key for starting a saga (unique per workflow).
using BusinessKey = StrongId<BusinessKeyTag>;
/// Trace id that travels with every command of a saga to the workers.
using TraceId = StrongId<TraceIdTag>;

/// A time-ordered UUID (RFC 9562 version 7: Unix milliseconds, then 74 random bits) in
/// canonical lower-case form. Thread-safe.
[[nodiscard]] std::string NewUuid();

/// True when `text` is a canonical UUID (8-4-4-4-12 hex digits, any case).
[[nodiscard]] bool IsUuid(std::string_view text) noexcept;

/// Parses a UUID into an id, lower-casing it; nullopt when it is not one.
template <class Id>
[[nodiscard]] std::optional<Id> ParseUuidId(std::string_view text) {
    if (!IsUuid(text)) return std::nullopt;
    std::string lower(text);
    for (char& c : lower) {
        if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    }
    return Id(std::move(lower));
}

}  // namespace sagaflow

template <class Tag>
struct std::hash<sagaflow::StrongId<Tag>> {
    std::size_t operator()(const sagaflow::StrongId<Tag>& id) const noexcept {
        return std::hash<std::string>{}(id.str());
    }
};
