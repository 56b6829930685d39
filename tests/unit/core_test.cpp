#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <set>

#include "sagaflow/core/error.hpp"
#include "sagaflow/core/ids.hpp"
#include "sagaflow/core/numbers.hpp"
#include "sagaflow/core/saga_types.hpp"

namespace sagaflow {
namespace {

TEST(Numbers, DurationsAreAWholeNumberAndOneUnit) {
    using std::chrono::milliseconds;
    EXPECT_EQ(ParseDuration("7d"), milliseconds(7LL * 86'400'000));
    EXPECT_EQ(ParseDuration("12h"), milliseconds(12LL * 3'600'000));
    EXPECT_EQ(ParseDuration("30m"), milliseconds(30LL * 60'000));
    EXPECT_EQ(ParseDuration("90s"), milliseconds(90'000));
    EXPECT_EQ(ParseDuration("500ms"), milliseconds(500));
    for (const char* bad : {"", "7", "d", "0s", "-1d", "+1d", " 1d", "1d ", "1.5h", "1h30m", "1D", "1w", "36501d", "ms"}) {
        EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
    }
    for (const char* text : {"7d", "12h", "30m", "90s", "1500ms", "25h"}) {
        EXPECT_EQ(FormatDuration(*ParseDuration(text)), text);
    }
}

TEST(Ids, NewUuidIsCanonicalVersion7UniqueAndOrderedByTime) {
    std::set<std::string> seen;
    std::string previous_ms;
    for (int i = 0; i < 1000; ++i) {
        const std::string u = NewUuid();
        ASSERT_TRUE(IsUuid(u)) << u;
        EXPECT_EQ(u[14], '7');
        EXPECT_NE(std::string("89ab").find(u[19]), std::string::npos);
        // The first 12 hex digits are the millisecond: they never go backwards.
        const std::string ms = u.substr(0, 8) + u.substr(9, 4);
        EXPECT_GE(ms, previous_ms) << u;
        previous_ms = ms;
        seen.insert(u);
    }
    EXPECT_EQ(seen.size(), 1000u);
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_LE(std::abs(std::stoll(previous_ms, nullptr, 16) - now_ms), 60'000);
}

TEST(Ids, ParseAcceptsOnlyUuidsAndLowerCases) {
    EXPECT_EQ(ParseUuidId<SagaId>("0E8B2A1C-1111-4222-8333-444455556666")->str(),
              "0e8b2a1c-1111-4222-8333-444455556666");
    for (const char* bad : {"", "x", "0e8b2a1c111142228333444455556666",
                            "0e8b2a1c-1111-4222-8333-44445555666g",
                            "'; DROP TABLE sagas; --0000000000000"}) {
        EXPECT_FALSE(ParseUuidId<SagaId>(bad)) << bad;
    }
}

TEST(Errors, CodesHaveStableNamesAndRetryMeaning) {
    EXPECT_EQ(ToString(ErrorCode::kNotFound), "not_found");
    EXPECT_EQ(ToString(ErrorCode::kFailedPrecondition), "failed_precondition");
    EXPECT_EQ(static_cast<int>(ErrorCode::kUnavailable), 14);
    EXPECT_TRUE(IsRetryable(ErrorCode::kAborted));
    EXPECT_TRUE(IsRetryable(ErrorCode::kUnavailable));
    EXPECT_FALSE(IsRetryable(ErrorCode::kInvalidArgument));
    EXPECT_FALSE(IsRetryable(ErrorCode::kInternal));
}

TEST(Errors, ResultCarriesAValueOrAStatus) {
    Result<int> good = 7;
    EXPECT_TRUE(good.ok());
    EXPECT_EQ(*good, 7);
    Result<int> bad = Status{ErrorCode::kNotFound, "nope"};
    EXPECT_FALSE(bad.ok());
    EXPECT_EQ(bad.code(), ErrorCode::kNotFound);
    try {
        (void)bad.value();
        FAIL();
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kNotFound);
        EXPECT_STREQ(e.what(), "nope");
    }
    Result<int> misuse = Status{};
    EXPECT_EQ(misuse.code(), ErrorCode::kInternal) << "an ok Status is no error to carry";
}

// The stored codes are a contract with every database ever written: never renumber.
TEST(SagaTypes, StoredStateCodesArePinned) {
    EXPECT_EQ(static_cast<int>(SagaStatus::kRunning), 1);
    EXPECT_EQ(static_cast<int>(SagaStatus::kCompensating), 2);
    EXPECT_EQ(static_cast<int>(SagaStatus::kCompleted), 3);
    EXPECT_EQ(static_cast<int>(SagaStatus::kCompensated), 4);
    EXPECT_EQ(static_cast<int>(SagaStatus::kFailed), 5);
    EXPECT_EQ(static_cast<int>(SagaStatus::kParked), 6);
    EXPECT_EQ(static_cast<int>(SagaStatus::kCancelled), 7);
    EXPECT_EQ(static_cast<int>(Phase::kForward), 1);
    EXPECT_EQ(static_cast<int>(Phase::kCompensate), 2);
    for (int code = 1; code <= 7; ++code) {
        const auto s = SagaStatusFromCode(code);
        ASSERT_TRUE(s);
        EXPECT_EQ(ParseSagaStatus(ToString(*s)), s);
    }
    EXPECT_FALSE(SagaStatusFromCode(0));
    EXPECT_FALSE(SagaStatusFromCode(8));
    EXPECT_FALSE(ParseSagaStatus("RUNNING"));
}

TEST(SagaTypes, OnlyCompletedAndCompensatedAreTerminal) {
    EXPECT_TRUE(IsTerminal(SagaStatus::kCompleted));
    EXPECT_TRUE(IsTerminal(SagaStatus::kCompensated));
    EXPECT_FALSE(IsTerminal(SagaStatus::kFailed));
    EXPECT_FALSE(IsTerminal(SagaStatus::kParked));
    EXPECT_TRUE(IsTerminal(SagaStatus::kCancelled));
    EXPECT_FALSE(IsTerminal(SagaStatus::kRunning));
}

}  // namespace
}  // namespace sagaflow
