// Numbers given as text (settings, query parameters, ports, cursors, durations): one parser
// for all.
#pragma once

#include <charconv>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace sagaflow {

/// The whole of `text` as a decimal integer in [min, max]; nullopt for anything else: empty,
/// a sign alone, a leading '+' or space, trailing characters, out of range.
///
///     ParseInteger("8080", 0, 65535)  // 8080
///     ParseInteger("5x", 1, 10)       // nullopt
[[nodiscard]] inline std::optional<std::int64_t> ParseInteger(std::string_view text, std::int64_t min,
                                                              std::int64_t max) noexcept {
    std::int64_t v = 0;
    const char* end = text.data() + text.size();
    const auto [stop, ec] = std::from_chars(text.data(), end, v);
    if (text.empty() || ec != std::errc() || stop != end || v < min || v > max) return std::nullopt;
    return v;
}

/// A positive duration: a whole number and one unit, `ms`, `s`, `m`, `h` or `d` ("7d",
/// "90s", "500ms"), at most 100 years; nullopt for anything else (zero, a sign, no unit,
/// "1.5h", "1h30m").
[[nodiscard]] inline std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) noexcept {
    struct Unit {
        std::string_view suffix;
        std::int64_t ms;
    };
    constexpr Unit kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000}, {"d", 86'400'000}};
    constexpr std::int64_t kMaxMs = 100LL * 365 * 86'400'000;
    for (const Unit& u : kUnits) {  // "ms" before "s" and "m"
        if (text.size() <= u.suffix.size() || text.substr(text.size() - u.suffix.size()) != u.suffix) continue;
        const auto n = ParseInteger(text.substr(0, text.size() - u.suffix.size()), 1, kMaxMs / u.ms);
        if (!n) return std::nullopt;
        return std::chrono::milliseconds(*n * u.ms);
    }
    return std::nullopt;
}

/// The shortest text ParseDuration reads back as `d` ("7d", "90s", "1500ms").
[[nodiscard]] inline std::string FormatDuration(std::chrono::milliseconds d) {
    const std::int64_t ms = d.count();
    if (ms > 0 && ms % 86'400'000 == 0) return std::to_string(ms / 86'400'000) + "d";
    if (ms > 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
    if (ms > 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
    if (ms > 0 && ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
    return std::to_string(ms) + "ms";
}

}  // namespace sagaflow
