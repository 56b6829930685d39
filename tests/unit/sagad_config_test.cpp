#include "config.hpp"

#include <gtest/gtest.h>
#include <stdlib.h>

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
    EXPECT_EQ(c->admin_endpoint, "tcp://127.0.0.1:5556");
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
    for (const char* s : {"--dsn", "--data-dir", "--worker-endpoint", "--admin-endpoint", "--log-level",
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
