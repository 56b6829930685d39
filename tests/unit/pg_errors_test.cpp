#include "errors.hpp"

#include <gtest/gtest.h>

namespace sagaflow::pg {
namespace {

TEST(PgErrors, SqlStatesMapToOneVocabulary) {
    EXPECT_EQ(CodeForSqlState("40001"), ErrorCode::kAborted);      // serialization_failure
    EXPECT_EQ(CodeForSqlState("40P01"), ErrorCode::kAborted);      // deadlock_detected
    EXPECT_EQ(CodeForSqlState("23505"), ErrorCode::kAlreadyExists);
    EXPECT_EQ(CodeForSqlState("23514"), ErrorCode::kInvalidArgument);  // check_violation
    EXPECT_EQ(CodeForSqlState("22P02"), ErrorCode::kInvalidArgument);  // bad text representation
    EXPECT_EQ(CodeForSqlState("08006"), ErrorCode::kUnavailable);      // connection_failure
    EXPECT_EQ(CodeForSqlState("57P01"), ErrorCode::kUnavailable);      // admin_shutdown
    EXPECT_EQ(CodeForSqlState("53300"), ErrorCode::kUnavailable);      // too_many_connections
    EXPECT_EQ(CodeForSqlState("57014"), ErrorCode::kDeadlineExceeded);
    EXPECT_EQ(CodeForSqlState("42P01"), ErrorCode::kInternal);  // undefined_table: our bug
    EXPECT_EQ(CodeForSqlState(""), ErrorCode::kUnavailable);    // no server answer at all
}

}  // namespace
}  // namespace sagaflow::pg
