// Child processes start from an argv vector: what a shell would split, expand or run
// reaches the child as one literal argument.
#include "os/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "sagaflow/core/error.hpp"

namespace sagaflow::os {
namespace {

TEST(ProcessTest, ArgumentsReachTheChildLiterallyWithNoShell) {
    const std::string hostile = "/tmp/x y;touch sagaflow-injected;$(id)`id`";
    const auto out = Capture({"printf", "%s|%s", hostile, "two"}, {"", "/tmp", std::nullopt});
    ASSERT_TRUE(out.has_value());
    EXPECT_EQ(*out, hostile + "|two");
    EXPECT_FALSE(std::filesystem::exists("/tmp/sagaflow-injected"));
}

TEST(ProcessTest, ExitStatusAndMissingProgramsAreReported) {
    EXPECT_EQ(os::Run({"false"}), 1);
    EXPECT_EQ(os::Run({"true"}), 0);
    EXPECT_FALSE(Capture({"false"}).has_value());
    try {
        (void)os::Run({"/nonexistent/sagaflow-no-such-program"});
        FAIL() << "expected an error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kUnavailable);
    }
}

}  // namespace
}  // namespace sagaflow::os
