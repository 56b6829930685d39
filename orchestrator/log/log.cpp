#include "sagaflow/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <atomic>

#include "sagaflow/core/clock.hpp"

namespace sagaflow::log {
namespace {

std::atomic<int> g_min{static_cast<int>(Level::kInfo)};
std::atomic<Format> g_format{Format::kText};

constexpr std::string_view kNames[] = {"debug", "info", "warn", "error"};

// spdlog writes whole lines from any thread; we shape the line ourselves.
spdlog::logger& Sink() {
    static const std::shared_ptr<spdlog::logger> logger = [] {
        auto l = std::make_shared<spdlog::logger>("sagaflow", std::make_shared<spdlog::sinks::stderr_sink_mt>());
        l->set_pattern("%v");
        l->set_level(spdlog::level::trace);
        l->flush_on(spdlog::level::trace);
        return l;
    }();
    return *logger;
}

// The one timestamp format (core/clock.hpp).
std::string Stamp(std::chrono::system_clock::time_point at) {
    return FormatTimestamp(std::chrono::time_point_cast<Duration>(at));
}

bool NeedsQuotes(std::string_view s) {
    if (s.empty()) return true;
    for (unsigned char c : s) {
        if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f) return true;
    }
    return false;
}

// A JSON string literal escapes quotes, backslashes and control characters; invalid
// UTF-8 is replaced rather than thrown on.
std::string Quoted(std::string_view s) {
    return nlohmann::json(std::string(s)).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string TextValue(const nlohmann::json& v) {
    if (v.is_string()) {
        const auto& s = v.get_ref<const std::string&>();
        return NeedsQuotes(s) ? Quoted(s) : s;
    }
    return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::optional<Level> ParseLevel(std::string_view name) {
    for (int i = 0; i < 4; ++i) {
        if (kNames[i] == name) return static_cast<Level>(i);
    }
    return std::nullopt;
}

std::optional<Format> ParseFormat(std::string_view name) {
    if (name == "text") return Format::kText;
    if (name == "json") return Format::kJson;
    return std::nullopt;
}

void Configure(Level min_level, Format format) {
    g_min = static_cast<int>(min_level);
    g_format = format;
}

std::string FormatLine(Format format, Level level, std::string_view event, const nlohmann::json& fields,
                       std::chrono::system_clock::time_point at) {
    const std::string_view level_name = kNames[static_cast<int>(level)];
    if (format == Format::kJson) {
        nlohmann::json j = nlohmann::json::object();
        j["ts"] = Stamp(at);
        j["level"] = level_name;
        j["event"] = std::string(event);
        if (fields.is_object()) {
            for (const auto& [k, v] : fields.items()) {
                if (k != "ts" && k != "level" && k != "event") j[k] = v;
            }
        }
        return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    std::string line = Stamp(at);
    line += ' ';
    line += level_name;
    line += ' ';
    line += NeedsQuotes(event) ? Quoted(event) : std::string(event);
    if (fields.is_object()) {
        for (const auto& [k, v] : fields.items()) {
            line += ' ';
            line += NeedsQuotes(k) ? Quoted(k) : k;
            line += '=';
            line += TextValue(v);
        }
    }
    return line;
}

void Write(Level level, std::string_view event, const nlohmann::json& fields) {
    if (static_cast<int>(level) < g_min) return;
    const std::string line = FormatLine(g_format, level, event, fields, std::chrono::system_clock::now());
    Sink().info(line);
}

}  // namespace sagaflow::log
