// The one logger's line shapes (hardening finding 9): a value never breaks a line or
// reads as another key, and JSON mode is one valid object per line.
#include "sagaflow/log.hpp"

#include <gtest/gtest.h>

namespace sagaflow::log {
namespace {

const auto kAt = std::chrono::system_clock::time_point(std::chrono::milliseconds(1'764'619'200'123));

TEST(LogTest, TextValuesWithSpacesQuotesOrNewlinesAreQuoted) {
    const std::string line =
        FormatLine(Format::kText, Level::kWarn, "store_unavailable",
                   {{"reason", "customer returned the goods"},
                    {"error", "server closed the connection\n\tThis probably means"},
                    {"saga_id", "0190a1b2"},
                    {"n", 3}},
                   kAt);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    EXPECT_EQ(line.find('\t'), std::string::npos);
    EXPECT_NE(line.find("reason=\"customer returned the goods\""), std::string::npos) << line;
    EXPECT_NE(line.find("error=\"server closed the connection\\n\\tThis probably means\""), std::string::npos) << line;
    EXPECT_NE(line.find(" saga_id=0190a1b2"), std::string::npos) << line;
    EXPECT_NE(line.find(" n=3"), std::string::npos) << line;
    EXPECT_EQ(line.rfind("2025-12-01T20:00:00.123Z warn store_unavailable ", 0), 0u) << line;
}

TEST(LogTest, AValueCannotForgeAnotherKey) {
    const std::string line = FormatLine(Format::kText, Level::kInfo, "e", {{"k", "x level=error"}}, kAt);
    EXPECT_NE(line.find("k=\"x level=error\""), std::string::npos) << line;
}

TEST(LogTest, JsonModeIsOneObjectPerLineEvenWithHostileValues) {
    const std::string line = FormatLine(Format::kJson, Level::kError, "cannot_start",
                                        {{"error", "line one\nline two \"quoted\" \x01"},
                                         {"event", "not the event"},
                                         {"bad_utf8", std::string("\xff\xfe")}},
                                        kAt);
    EXPECT_EQ(line.find('\n'), std::string::npos);
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["event"], "cannot_start");
    EXPECT_EQ(j["level"], "error");
    EXPECT_EQ(j["error"], "line one\nline two \"quoted\" \x01");
}

TEST(LogTest, LevelsAndFormatsParse) {
    EXPECT_EQ(ParseLevel("warn"), Level::kWarn);
    EXPECT_FALSE(ParseLevel("loud").has_value());
    EXPECT_EQ(ParseFormat("json"), Format::kJson);
    EXPECT_FALSE(ParseFormat("yaml").has_value());
}

}  // namespace
}  // namespace sagaflow::log
