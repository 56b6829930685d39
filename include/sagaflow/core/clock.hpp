// Time as the engine sees it. Everything that waits asks a `Clock`, so tests drive
// timers with a `ManualClock` instead of sleeping.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace sagaflow {

/// Wall-clock time at microsecond precision (what PostgreSQL's timestamptz keeps).
using Timestamp = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;
using Duration = std::chrono::microseconds;
/// Monotonic time (never jumps with the wall clock), for due times held in memory.
using SteadyTime = std::chrono::time_point<std::chrono::steady_clock, std::chrono::microseconds>;

/// Source of the current time. Implementations are thread-safe.
class Clock {
public:
    virtual ~Clock() = default;
    [[nodiscard]] virtual Timestamp Now() const = 0;
    /// Monotonic time: what in-memory timers measure against.
    [[nodiscard]] virtual SteadyTime Monotonic() const = 0;
};

/// The real clock.
class SystemClock final : public Clock {
public:
    [[nodiscard]] Timestamp Now() const override {
        return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
    }
    [[nodiscard]] SteadyTime Monotonic() const override {
        return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
    }
};

/// A clock that moves only when told to. Not thread-safe; for tests and simulations.
class ManualClock final : public Clock {
public:
    explicit ManualClock(Timestamp start = Timestamp{std::chrono::seconds{1'800'000'000}})
        : now_(start) {}

    [[nodiscard]] Timestamp Now() const override { return now_; }
    /// Moves with `Now()`: a test's time is one line, wall and monotonic alike.
    [[nodiscard]] SteadyTime Monotonic() const override { return SteadyTime(now_.time_since_epoch()); }
    void Advance(Duration d) { now_ += d; }
    void Set(Timestamp t) { now_ = t; }

private:
    Timestamp now_;
};

/// RFC 3339 in UTC with milliseconds, e.g. "2026-12-02T05:45:42.123Z": how every
/// timestamp reads in the API, `sagactl` and the logs.
[[nodiscard]] std::string FormatTimestamp(Timestamp t);

/// Reads RFC 3339: a date, `T` (or a space), a time with optional fraction (to the
/// microsecond), then `Z` or an offset `+hh:mm`/`-hh:mm`. nullopt for anything else.
[[nodiscard]] std::optional<Timestamp> ParseTimestamp(std::string_view text);

}  // namespace sagaflow
