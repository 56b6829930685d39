// sagad's settings: defaults < JSON config file < environment < flags.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include "sagaflow/core/error.hpp"

namespace sagaflow::sagad {

struct Config {
    std::string command = "run";  ///< "run" or "migrate"
    std::string dsn;              ///< empty: the embedded cluster under data_dir
    std::string data_dir = "./sagaflow-data";
    std::string worker_endpoint = "tcp://127.0.0.1:5555";
    std::string http_host = "127.0.0.1";  ///< from http_listen; beyond loopback only with api_tokens (or insecure_api)
    int http_port = 8080;                 ///< 0: any free port (sagad logs the one it bound)
    int http_read_timeout_ms = 10000;     ///< a request begun must arrive in full within this
    int http_max_connections = 1024;      ///< beyond: 429 and closed
    std::string log_level = "info";   ///< debug, info, warn, error
    std::string log_format = "text";  ///< text, json
    int heartbeat_timeout_ms = 5000;
    int shutdown_timeout_ms = 10000;
    int max_running_sagas = 100000;  ///< starts beyond it are refused: resource_exhausted
    int max_await_ms = 60000;        ///< the longest one await waits (longer ones are clamped)
    int bulk_confirm_over = 1000;    ///< a bulk action matching more needs --confirm-count
    int bulk_rate = 500;             ///< sagas a second of a bulk job that names no rate
    int bulk_max_rate = 5000;        ///< a faster rate asked for is clamped to it
    std::string alert_webhook;       ///< http[s]://host:port/path; empty: no alerts
    // Retention (retention.hpp): ended sagas older than their window are removed.
    std::chrono::milliseconds retention_completed{std::chrono::hours(24 * 7)};
    std::chrono::milliseconds retention_compensated{std::chrono::hours(24 * 30)};
    std::chrono::milliseconds retention_interval{std::chrono::minutes(1)};
    // Security (docs/security.md).
    std::string curve_key;          ///< sagad's CURVE secret key file; set: workers must use CURVE
    std::string curve_allow_list;   ///< worker public keys and the queues each may serve
    bool insecure_transport = false;  ///< plain ZeroMQ on a non-loopback endpoint: warned at every start
    std::string api_tokens;         ///< the tokens file; set: every API call needs a token
    bool insecure_api = false;      ///< a non-loopback HTTP bind without tokens: warned at every start
    std::string tls_cert;           ///< PEM certificate chain; with tls_key: the API speaks only HTTPS
    std::string tls_key;            ///< PEM private key
    bool help = false;
    bool version = false;  ///< --version: print it and exit 0
};

/// True for an address only this host can reach: 127.0.0.0/8, ::1, localhost.
[[nodiscard]] bool IsLoopbackHost(std::string_view host);
/// True for a ZeroMQ endpoint only this host can reach: ipc://, or tcp:// on loopback.
[[nodiscard]] bool IsLocalEndpoint(const std::string& endpoint);

/// The --help text: every setting, its flag, environment variable and default.
[[nodiscard]] std::string HelpText();

/// Parses flags (argv), environment (`getenv`) and the file named by --config or
/// SAGAD_CONFIG. kInvalidArgument with a message naming the bad setting.
[[nodiscard]] Result<Config> LoadConfig(const std::vector<std::string>& args);

}  // namespace sagaflow::sagad
