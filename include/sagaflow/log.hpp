// The one logger of sagad, the worker SDK and the samples: one line per event on
// stderr, as `key=value` text or as a JSON object per line.
//
//     sagaflow::log::Info("saga_started", {{"saga_id", id.str()}, {"workflow", "order"}});
//     // 2026-12-01T20:00:00.123Z info saga_started saga_id=0190... workflow=order
//
// Text values are quoted (with JSON escapes) when they hold a space, a quote, `=` or a
// control character, so a line never breaks and a value never reads as another key.
// JSON mode is valid JSON on every line. Thread-safe; `Configure` once at start-up.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace sagaflow::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class Format { kText, kJson };

/// "debug", "info", "warn", "error"; nullopt for anything else.
[[nodiscard]] std::optional<Level> ParseLevel(std::string_view name);
/// "text" or "json"; nullopt for anything else.
[[nodiscard]] std::optional<Format> ParseFormat(std::string_view name);

/// Sets the lowest level written and the format. Defaults: info, text.
void Configure(Level min_level, Format format);

/// Writes one event. `fields` is a JSON object (anything else is ignored).
void Write(Level level, std::string_view event, const nlohmann::json& fields = nlohmann::json::object());

inline void Debug(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
    Write(Level::kDebug, event, fields);
}
inline void Info(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
    Write(Level::kInfo, event, fields);
}
inline void Warn(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
    Write(Level::kWarn, event, fields);
}
inline void Error(std::string_view event, const nlohmann::json& fields = nlohmann::json::object()) {
    Write(Level::kError, event, fields);
}

/// The line `Write` would print (without the newline), for tests.
[[nodiscard]] std::string FormatLine(Format format, Level level, std::string_view event,
                                     const nlohmann::json& fields,
                                     std::chrono::system_clock::time_point at);

}  // namespace sagaflow::log
