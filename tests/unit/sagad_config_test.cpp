#include "config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>

namespace sagaflow::sagad {
namespace {

TEST(SagadConfig, DefaultsWithNoArguments) {
    auto c = LoadConfig({});
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->command, "run");
    EXPECT_EQ(c->dsn, "");
    EXPECT_EQ(c->data_dir, "./sagaflow-data");
    EXPECT_EQ(c->worker_endpoint, "tcp://127.0.0.1:5555");
    EXPECT_EQ(c->http_host, "127.0.0.1");
    EXPECT_EQ(c->http_port, 8080);
}

// The HTTP API has no authentication yet: a bind off loopback is refused, not exposed.
TEST(SagadConfig, HttpListensBeyondLoopbackOnlyWithTokensOrWhenToldInsecure) {
    for (const char* ok : {"127.0.0.1:0", "localhost:9000", "[::1]:8080", "127.0.0.2:1"}) {
        auto c = LoadConfig({"--http-listen", ok});
        EXPECT_TRUE(c.ok()) << ok << ": " << c.status().message;
    }
    auto any = LoadConfig({"--http-listen", "0.0.0.0:8080"});
    ASSERT_FALSE(any.ok());
    EXPECT_EQ(any.code(), ErrorCode::kInvalidArgument);
    EXPECT_NE(any.status().message.find("api_tokens"), std::string::npos) << any.status().message;
    EXPECT_TRUE(LoadConfig({"--http-listen", "0.0.0.0:8080", "--api-tokens", "/etc/sagad/tokens"}).ok());
    auto told = LoadConfig({"--http-listen", "0.0.0.0:8080", "--insecure-api"});
    ASSERT_TRUE(told.ok()) << told.status().message;
    EXPECT_TRUE(told->insecure_api);
    for (const char* bad : {"8080", "127.0.0.1:", "127.0.0.1:70000", "127.0.0.1:8x", ":80"}) {
        auto c = LoadConfig({"--http-listen", bad});
        ASSERT_FALSE(c.ok()) << bad;
        EXPECT_NE(c.status().message.find("http_listen"), std::string::npos) << c.status().message;
    }
    auto port = LoadConfig({"--http-listen=127.0.0.1:0"});
    ASSERT_TRUE(port.ok());
    EXPECT_EQ(port->http_port, 0);
}

TEST(SagadConfig, PlainZeroMqBeyondThisHostNeedsCurveOrTheInsecureFlag) {
    for (const char* local : {"ipc:///run/sagad/w.sock", "tcp://127.0.0.1:5555", "tcp://localhost:*", "tcp://[::1]:5555"}) {
        EXPECT_TRUE(LoadConfig({"--worker-endpoint", local}).ok()) << local;
    }
    for (const char* open : {"tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://10.0.0.7:5555", "tcp://eth0:5555"}) {
        auto c = LoadConfig({"--worker-endpoint", open});
        ASSERT_FALSE(c.ok()) << open;
        EXPECT_NE(c.status().message.find("curve_key"), std::string::npos) << c.status().message;
        EXPECT_TRUE(LoadConfig({"--worker-endpoint", open, "--insecure-transport"}).ok()) << open;
        EXPECT_TRUE(LoadConfig({"--worker-endpoint", open, "--curve-key", "k", "--curve-allow-list", "l"}).ok()) << open;
    }
    EXPECT_FALSE(LoadConfig({"--curve-key", "k"}).ok());   // the pair goes together
    EXPECT_FALSE(LoadConfig({"--tls-cert", "c"}).ok());
    setenv("SAGAD_INSECURE_TRANSPORT", "maybe", 1);
    EXPECT_FALSE(LoadConfig({}).ok());
    setenv("SAGAD_INSECURE_TRANSPORT", "true", 1);
    EXPECT_TRUE(LoadConfig({"--worker-endpoint", "tcp://0.0.0.0:1"}).ok());
    unsetenv("SAGAD_INSECURE_TRANSPORT");
}

TEST(SagadConfig, RetentionWindowsArePositiveDurations) {
    auto d = LoadConfig({});
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->retention_completed, std::chrono::hours(24 * 7));
    EXPECT_EQ(d->retention_compensated, std::chrono::hours(24 * 30));
    EXPECT_EQ(d->retention_interval, std::chrono::minutes(1));
    auto c = LoadConfig({"--retention-completed", "2m", "--retention-compensated=90s", "--retention-interval", "500ms"});
    ASSERT_TRUE(c.ok()) << c.status().message;
    EXPECT_EQ(c->retention_completed, std::chrono::minutes(2));
    EXPECT_EQ(c->retention_compensated, std::chrono::seconds(90));
    EXPECT_EQ(c->retention_interval, std::chrono::milliseconds(500));
    for (const char* setting : {"--retention-completed", "--retention-compensated", "--retention-interval"}) {
        for (const char* bad : {"0", "0d", "-1d", "7", "1.5h", "1h30m", "abc", "", "d", "99999999999d"}) {
            auto r = LoadConfig({setting, bad});
            ASSERT_FALSE(r.ok()) << setting << " " << bad;
            std::string key = std::string(setting).substr(2);
            std::replace(key.begin(), key.end(), '-', '_');
            EXPECT_NE(r.status().message.find(key), std::string::npos) << r.status().message;
        }
    }
}

TEST(SagadConfig, FlagsWinOverEnvironmentWhichWinsOverTheFile) {
    const std::string file = ::testing::TempDir() + "/sagad.json";
    std::ofstream(file) << R"({"log_level": "warn", "log_format": "json", "data_dir": "/from/file"})";
    setenv("SAGAD_LOG_LEVEL", "error", 1);
    auto c = LoadConfig({"migrate", "--config", file, "--log-level=debug"});
    unsetenv("SAGAD_LOG_LEVEL");
    ASSERT_TRUE(c.ok()) << c.status().message;
    EXPECT_EQ(c->command, "migrate");
    EXPECT_EQ(c->log_level, "debug");
    EXPECT_EQ(c->log_format, "json");
    EXPECT_EQ(c->data_dir, "/from/file");
}

TEST(SagadConfig, BadSettingsNameThemselves) {
    const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
        {{"--log-format", "yaml"}, "log_format"},
        {{"--worker-endpoint", "http://x"}, "worker_endpoint"},
        {{"--heartbeat-timeout-ms", "-5"}, "heartbeat_timeout_ms"},
        {{"--nope", "1"}, "--nope"},
        {{"--dsn"}, "--dsn"},
        {{"serve"}, "serve"},
        {{"--heartbeat-timeout-ms", "5x"}, "heartbeat_timeout_ms"},
        {{"--config", "/no/such/file.json"}, "cannot read config file"},
    };
    for (const auto& [args, expected] : cases) {
        auto c = LoadConfig(args);
        ASSERT_FALSE(c.ok()) << args.front();
        EXPECT_EQ(c.code(), ErrorCode::kInvalidArgument);
        EXPECT_NE(c.status().message.find(expected), std::string::npos) << c.status().message;
    }
}

TEST(SagadConfig, HelpDocumentsEverySetting) {
    const std::string help = HelpText();
    for (const char* s : {"--dsn", "--data-dir", "--worker-endpoint", "--http-listen", "--log-level",
                          "--log-format", "SAGAD_HEARTBEAT_TIMEOUT_MS", "SAGAD_SHUTDOWN_TIMEOUT_MS"}) {
        EXPECT_NE(help.find(s), std::string::npos) << s;
    }
    EXPECT_TRUE(LoadConfig({"--help"})->help);
}

// Finding 14 of the hardening issue: option order does not matter, and --version is a
// flag, not a setting that needs a value.
TEST(SagadConfig, OptionsInAnyOrderAndVersionIsAFlag) {
    auto c = LoadConfig({"--log-level", "warn", "migrate", "--data-dir=/d"});
    ASSERT_TRUE(c.ok()) << c.status().message;
    EXPECT_EQ(c->command, "migrate");
    EXPECT_EQ(c->log_level, "warn");
    EXPECT_EQ(c->data_dir, "/d");
    auto v = LoadConfig({"--version"});
    ASSERT_TRUE(v.ok()) << v.status().message;
    EXPECT_TRUE(v->version);
}

}  // namespace
}  // namespace sagaflow::sagad
