#include "config.hpp"

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <limits>
#include <map>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>

#include "sagaflow/core/numbers.hpp"

namespace sagaflow::sagad {
namespace {

struct Setting {
    const char* key;  ///< JSON key; the flag is --key with '_' as '-'
    const char* env;
    const char* help;
    std::function<Status(Config&, const std::string&)> set;
    bool is_flag = false;  ///< a switch: --key alone; "true"/"false" (or 1/0) in the file and environment
};

Status Switch(bool& out, const std::string& v, const char* key) {
    if (v == "true" || v == "1") {
        out = true;
    } else if (v == "false" || v == "0") {
        out = false;
    } else {
        return {ErrorCode::kInvalidArgument, std::string(key) + " must be true or false, got '" + v + "'"};
    }
    return {};
}

Status File(std::string& out, const std::string& v) {
    out = v;
    return {};
}

Status Positive(int& out, const std::string& v, const char* key) {
    const auto n = ParseInteger(v, 1, std::numeric_limits<int>::max());
    if (!n) return {ErrorCode::kInvalidArgument, std::string(key) + " must be a positive integer, got '" + v + "'"};
    out = static_cast<int>(*n);
    return {};
}

Status Positive(std::chrono::milliseconds& out, const std::string& v, const char* key) {
    const auto d = ParseDuration(v);
    if (!d) {
        return {ErrorCode::kInvalidArgument,
                std::string(key) + " must be a positive duration such as 7d, 12h, 30m, 90s or 500ms, got '" + v + "'"};
    }
    out = *d;
    return {};
}

Status OneOf(std::string& out, const std::string& v, const char* key, std::vector<std::string> allowed) {
    for (const auto& a : allowed) {
        if (a == v) {
            out = v;
            return {};
        }
    }
    std::string list;
    for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
    return {ErrorCode::kInvalidArgument, std::string(key) + " must be one of " + list + ", got '" + v + "'"};
}

Status Endpoint(std::string& out, const std::string& v, const char* key) {
    if (v.rfind("tcp://", 0) != 0 && v.rfind("ipc://", 0) != 0) {
        return {ErrorCode::kInvalidArgument, std::string(key) + " must start with tcp:// or ipc://, got '" + v + "'"};
    }
    out = v;
    return {};
}

// "host:port" (IPv6 in brackets). Whether a non-loopback host is allowed depends on
// other settings: `Check` decides once all are read.
Status Listen(Config& c, const std::string& v) {
    const std::size_t colon = v.rfind(':');
    std::string host = colon == std::string::npos ? "" : v.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const auto port = ParseInteger(colon == std::string::npos ? "" : std::string_view(v).substr(colon + 1), 0, 65535);
    if (host.empty() || !port) {
        return {ErrorCode::kInvalidArgument, "http_listen must be host:port (port 0 for any free one), got '" + v + "'"};
    }
    c.http_host = host;
    c.http_port = static_cast<int>(*port);
    return {};
}

// The rules between settings (DESIGN: a non-loopback bind needs authentication).
Status Check(const Config& c) {
    if (c.curve_key.empty() != c.curve_allow_list.empty()) {
        return {ErrorCode::kInvalidArgument, "curve_key and curve_allow_list go together: set both, or neither"};
    }
    if (c.curve_key.empty() && !c.insecure_transport && !IsLocalEndpoint(c.worker_endpoint)) {
        return {ErrorCode::kInvalidArgument,
                "worker_endpoint " + c.worker_endpoint + " is reachable from other hosts, and plain ZeroMQ lets "
                "anyone there serve any queue: set curve_key and curve_allow_list (docs/security.md), or say "
                "--insecure-transport"};
    }
    if (c.api_tokens.empty() && !c.insecure_api && !IsLoopbackHost(c.http_host)) {
        return {ErrorCode::kInvalidArgument,
                "http_listen " + c.http_host + " is reachable from other hosts: set api_tokens (docs/security.md), "
                "or say --insecure-api"};
    }
    if (c.tls_cert.empty() != c.tls_key.empty()) {
        return {ErrorCode::kInvalidArgument, "tls_cert and tls_key go together: set both, or neither"};
    }
    return {};
}

}  // namespace

bool IsLoopbackHost(std::string_view host) {
    return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

bool IsLocalEndpoint(const std::string& endpoint) {
    if (endpoint.rfind("ipc://", 0) == 0 || endpoint.rfind("inproc://", 0) == 0) return true;
    if (endpoint.rfind("tcp://", 0) != 0) return false;
    std::string_view rest = std::string_view(endpoint).substr(6);
    const std::size_t colon = rest.rfind(':');
    std::string_view host = rest.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    return IsLoopbackHost(host);
}

namespace {

const std::vector<Setting>& Settings() {
    static const std::vector<Setting> kAll{
        {"dsn", "SAGAD_DSN", "PostgreSQL connection string; empty runs the embedded cluster",
         [](Config& c, const std::string& v) { c.dsn = v; return Status{}; }},
        {"data_dir", "SAGAD_DATA_DIR", "directory of the embedded cluster (default ./sagaflow-data)",
         [](Config& c, const std::string& v) {
             if (v.empty()) return Status{ErrorCode::kInvalidArgument, "data_dir must not be empty"};
             c.data_dir = v;
             return Status{};
         }},
        {"worker_endpoint", "SAGAD_WORKER_ENDPOINT", "ZeroMQ endpoint workers connect to (default tcp://127.0.0.1:5555)",
         [](Config& c, const std::string& v) { return Endpoint(c.worker_endpoint, v, "worker_endpoint"); }},
        {"http_listen", "SAGAD_HTTP_LISTEN",
         "host:port of the HTTP API, metrics, health and web view; beyond loopback only with api_tokens "
         "(default 127.0.0.1:8080)",
         [](Config& c, const std::string& v) { return Listen(c, v); }},
        {"http_read_timeout_ms", "SAGAD_HTTP_READ_TIMEOUT_MS",
         "a request begun must arrive in full within this, or is answered 408 (default 10000)",
         [](Config& c, const std::string& v) { return Positive(c.http_read_timeout_ms, v, "http_read_timeout_ms"); }},
        {"http_max_connections", "SAGAD_HTTP_MAX_CONNECTIONS",
         "HTTP connections open at most; one more is answered 429 and closed (default 1024)",
         [](Config& c, const std::string& v) { return Positive(c.http_max_connections, v, "http_max_connections"); }},
        {"log_level", "SAGAD_LOG_LEVEL", "debug, info, warn or error (default info)",
         [](Config& c, const std::string& v) { return OneOf(c.log_level, v, "log_level", {"debug", "info", "warn", "error"}); }},
        {"log_format", "SAGAD_LOG_FORMAT", "text or json: one line per event (default text)",
         [](Config& c, const std::string& v) { return OneOf(c.log_format, v, "log_format", {"text", "json"}); }},
        {"heartbeat_timeout_ms", "SAGAD_HEARTBEAT_TIMEOUT_MS", "a worker silent this long is gone (default 5000)",
         [](Config& c, const std::string& v) { return Positive(c.heartbeat_timeout_ms, v, "heartbeat_timeout_ms"); }},
        {"shutdown_timeout_ms", "SAGAD_SHUTDOWN_TIMEOUT_MS", "longest a graceful stop may take (default 10000)",
         [](Config& c, const std::string& v) { return Positive(c.shutdown_timeout_ms, v, "shutdown_timeout_ms"); }},
        {"alert_webhook", "SAGAD_ALERT_WEBHOOK",
         "POST a JSON event here when a saga stops in failed, with retries; durable (default: none)",
         [](Config& c, const std::string& v) {
             if (!v.empty() && v.rfind("http://", 0) != 0 && v.rfind("https://", 0) != 0) {
                 return Status{ErrorCode::kInvalidArgument,
                               "alert_webhook must be an http:// or https:// URL, got '" + v + "'"};
             }
             c.alert_webhook = v;
             return Status{};
         }},
        {"curve_key", "SAGAD_CURVE_KEY",
         "sagad's CURVE secret key file (sagactl keygen); set: workers connect with CURVE (default: none)",
         [](Config& c, const std::string& v) { return File(c.curve_key, v); }},
        {"curve_allow_list", "SAGAD_CURVE_ALLOW_LIST",
         "file of worker public keys and the queues each may serve; reloaded on SIGHUP (default: none)",
         [](Config& c, const std::string& v) { return File(c.curve_allow_list, v); }},
        {"insecure_transport", "SAGAD_INSECURE_TRANSPORT",
         "allow plain ZeroMQ on an endpoint other hosts can reach (anyone there can serve any queue)",
         [](Config& c, const std::string& v) { return Switch(c.insecure_transport, v, "insecure_transport"); }, true},
        {"api_tokens", "SAGAD_API_TOKENS",
         "file of API token hashes with names and roles; set: every API call needs a token; reloaded on SIGHUP",
         [](Config& c, const std::string& v) { return File(c.api_tokens, v); }},
        {"insecure_api", "SAGAD_INSECURE_API",
         "allow http_listen beyond loopback without api_tokens (anyone there can compensate any saga)",
         [](Config& c, const std::string& v) { return Switch(c.insecure_api, v, "insecure_api"); }, true},
        {"tls_cert", "SAGAD_TLS_CERT", "PEM certificate (chain) of the HTTP API; with tls_key it speaks only HTTPS",
         [](Config& c, const std::string& v) { return File(c.tls_cert, v); }},
        {"tls_key", "SAGAD_TLS_KEY", "PEM private key of tls_cert",
         [](Config& c, const std::string& v) { return File(c.tls_key, v); }},
        {"retention_completed", "SAGAD_RETENTION_COMPLETED",
         "completed sagas are removed, with their history, this long after they ended (default 7d)",
         [](Config& c, const std::string& v) { return Positive(c.retention_completed, v, "retention_completed"); }},
        {"retention_compensated", "SAGAD_RETENTION_COMPENSATED",
         "compensated and cancelled sagas likewise (default 30d); failed and parked sagas are kept until resolved",
         [](Config& c, const std::string& v) { return Positive(c.retention_compensated, v, "retention_compensated"); }},
        {"retention_interval", "SAGAD_RETENTION_INTERVAL", "how often the retention job looks (default 1m)",
         [](Config& c, const std::string& v) { return Positive(c.retention_interval, v, "retention_interval"); }},
        {"max_running_sagas", "SAGAD_MAX_RUNNING_SAGAS",
         "sagas in flight at most; starts beyond are refused with resource_exhausted (default 100000)",
         [](Config& c, const std::string& v) { return Positive(c.max_running_sagas, v, "max_running_sagas"); }},
        {"max_await_ms", "SAGAD_MAX_AWAIT_MS",
         "the longest one await (start --wait) waits; a longer timeout is clamped and says so (default 60000)",
         [](Config& c, const std::string& v) { return Positive(c.max_await_ms, v, "max_await_ms"); }},
        {"bulk_confirm_over", "SAGAD_BULK_CONFIRM_OVER",
         "a bulk action whose filter matches more sagas needs --confirm-count with their number (default 1000)",
         [](Config& c, const std::string& v) { return Positive(c.bulk_confirm_over, v, "bulk_confirm_over"); }},
        {"bulk_rate", "SAGAD_BULK_RATE", "sagas a second a bulk job takes when it names no rate (default 500)",
         [](Config& c, const std::string& v) { return Positive(c.bulk_rate, v, "bulk_rate"); }},
        {"bulk_max_rate", "SAGAD_BULK_MAX_RATE", "the fastest rate a bulk job may ask for (default 5000)",
         [](Config& c, const std::string& v) { return Positive(c.bulk_max_rate, v, "bulk_max_rate"); }},
    };
    return kAll;
}

std::string FlagOf(const char* key) {
    std::string f = std::string("--") + key;
    for (char& ch : f) ch = ch == '_' ? '-' : ch;
    return f;
}

}  // namespace

std::string HelpText() {
    std::ostringstream o;
    o << "usage: sagad [run|migrate] [--config FILE] [--setting VALUE ...] | --help | --version\n\n"
         "  run       serve sagas (default): migrate, recover, accept workers and HTTP clients\n"
         "  migrate   apply the schema migrations and exit\n\n"
         "Settings (flag, environment variable, JSON config key); flags win over the\n"
         "environment, which wins over the config file (--config FILE or SAGAD_CONFIG):\n\n";
    for (const auto& s : Settings()) {
        o << "  " << FlagOf(s.key) << (s.is_flag ? "" : " VALUE") << "\n      " << s.env << ", \"" << s.key
          << "\": " << s.help << "\n";
    }
    o << "\nSignals: SIGTERM or SIGINT stops taking work, flushes and exits 0; a second one exits at once.\n"
         "SIGHUP reloads curve_allow_list and api_tokens (a file that does not parse keeps the old one).\n";
    return o.str();
}

Result<Config> LoadConfig(const std::vector<std::string>& args) {
    Config c;
    std::string config_file = std::getenv("SAGAD_CONFIG") ? std::getenv("SAGAD_CONFIG") : "";
    // CLI11 reads the words (in any order, --flag VALUE or --flag=VALUE); the settings'
    // own checks below judge the values, in the order file < environment < flags.
    CLI::App app{"sagad"};
    app.set_help_flag();
    bool help = false, version = false;
    app.add_flag("-h,--help", help);
    app.add_flag("--version", version);
    app.add_option("command", c.command);
    app.add_option("--config", config_file);
    std::vector<std::pair<const Setting*, std::string>> flags;
    std::map<std::string, std::string> given;
    std::map<std::string, bool> switched;
    for (const auto& s : Settings()) {
        if (s.is_flag) {
            app.add_flag(FlagOf(s.key), switched[s.key]);
        } else {
            app.add_option(FlagOf(s.key), given[s.key]);
        }
    }
    try {
        std::vector<std::string> reversed(args.rbegin(), args.rend());  // CLI11 pops from the back
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        return Status{ErrorCode::kInvalidArgument, std::string(e.what()) + " (see sagad --help)"};
    }
    if (c.command != "run" && c.command != "migrate") {
        return Status{ErrorCode::kInvalidArgument, "unexpected argument '" + c.command + "' (see sagad --help)"};
    }
    if (help || version) {
        c.help = help;
        c.version = version;
        return c;
    }
    for (const auto& s : Settings()) {
        if (app.count(FlagOf(s.key)) > 0) flags.emplace_back(&s, s.is_flag ? "true" : given[s.key]);
    }
    if (!config_file.empty()) {
        std::ifstream in(config_file);
        if (!in) return Status{ErrorCode::kInvalidArgument, "cannot read config file " + config_file};
        const auto j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
        if (j.is_discarded() || !j.is_object()) {
            return Status{ErrorCode::kInvalidArgument, "config file " + config_file + " is not a JSON object"};
        }
        for (const auto& [key, value] : j.items()) {
            const Setting* s = nullptr;
            for (const auto& candidate : Settings()) s = key == candidate.key ? &candidate : s;
            if (s == nullptr) return Status{ErrorCode::kInvalidArgument, "unknown setting '" + key + "' in " + config_file};
            const std::string text = value.is_string() ? value.get<std::string>() : value.dump();
            if (Status st = s->set(c, text); !st.ok()) return Status{st.code, config_file + ": " + st.message};
        }
    }
    for (const auto& s : Settings()) {
        if (const char* v = std::getenv(s.env)) {
            if (Status st = s.set(c, v); !st.ok()) return Status{st.code, std::string(s.env) + ": " + st.message};
        }
    }
    for (const auto& [s, value] : flags) {
        if (Status st = s->set(c, value); !st.ok()) return st;
    }
    if (Status st = Check(c); !st.ok()) return st;
    return c;
}

}  // namespace sagaflow::sagad
