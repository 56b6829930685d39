// Stable codes and their words for small enums: one table per enum, read three ways.
//
//     constexpr std::pair<Phase, std::string_view> kPhaseWords[] = {{Phase::kForward, "forward"}, ...};
//     WordOf(kPhaseWords, Phase::kForward) == "forward";
//     FromCode(kPhaseWords, 1) == Phase::kForward;
//     FromWord(kPhaseWords, "forward") == Phase::kForward;
#pragma once

#include <optional>
#include <string_view>
#include <utility>

namespace sagaflow {

template <class Enum, std::size_t N>
[[nodiscard]] constexpr std::string_view WordOf(const std::pair<Enum, std::string_view> (&table)[N], Enum value) noexcept {
    for (const auto& [e, word] : table) {
        if (e == value) return word;
    }
    return "unknown";
}

template <class Enum, std::size_t N>
[[nodiscard]] constexpr std::optional<Enum> FromCode(const std::pair<Enum, std::string_view> (&table)[N], int code) noexcept {
    for (const auto& [e, word] : table) {
        if (static_cast<int>(e) == code) return e;
    }
    return std::nullopt;
}

template <class Enum, std::size_t N>
[[nodiscard]] constexpr std::optional<Enum> FromWord(const std::pair<Enum, std::string_view> (&table)[N],
                                                     std::string_view w) noexcept {
    for (const auto& [e, word] : table) {
        if (word == w) return e;
    }
    return std::nullopt;
}

}  // namespace sagaflow
