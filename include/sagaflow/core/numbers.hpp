// Numbers given as text (settings, query parameters, ports, cursors): one parser for all.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
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

}  // namespace sagaflow
