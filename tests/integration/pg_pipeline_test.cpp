// pg::Connection::Pipeline and the pipelined transaction head and tail, on a real server.
#include <gtest/gtest.h>

#include "connection.hpp"
#include "pg_cluster.hpp"

namespace sagaflow::testing {
namespace {

constexpr pg::Statement kInsert{"pt_insert", "INSERT INTO items (n) VALUES ($1::int) RETURNING n * 10"};

class PipelineTest : public ::testing::Test {
protected:
    PipelineTest() : conn_(schema_.Connect()) { conn_->Exec("CREATE TABLE items (n int PRIMARY KEY)"); }
    std::int64_t Count() { return conn_->Exec("SELECT count(*) FROM items").Int(0, 0); }
    static pg::Query Insert(int n) { return {&kInsert, {}, {std::to_string(n)}}; }

    FreshSchema schema_;
    std::unique_ptr<pg::Connection> conn_;
};

TEST_F(PipelineTest, ResultsComeBackInOrderAndAStatementUsedTwiceIsPreparedOnce) {
    auto r = conn_->Pipeline({Insert(1), pg::Query{nullptr, "SELECT $1::int + 1", {"41"}}, Insert(2)});
    ASSERT_EQ(r.size(), 3u);
    EXPECT_EQ(r[0].Int(0, 0), 10);
    EXPECT_EQ(r[1].Int(0, 0), 42);
    EXPECT_EQ(r[2].Int(0, 0), 20);
    // Prepared now: the plain path and a second pipeline both use it.
    EXPECT_EQ(conn_->Exec(kInsert, {"3"}).Int(0, 0), 30);
    EXPECT_EQ(conn_->Pipeline({Insert(4)}).at(0).Int(0, 0), 40);
    EXPECT_EQ(Count(), 4);
}

TEST_F(PipelineTest, AFailingStatementThrowsItsCodeAndThoseAfterItDoNotRun) {
    try {
        conn_->Pipeline({Insert(1), Insert(1), Insert(2)});
        FAIL() << "a duplicate key must throw";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists) << e.what();
    }
    EXPECT_TRUE(conn_->healthy());
    // Without BEGIN a pipeline is one implicit transaction: nothing of it stays.
    EXPECT_EQ(Count(), 0);
    EXPECT_EQ(conn_->Pipeline({Insert(5)}).at(0).Int(0, 0), 50);  // usable afterwards
}

TEST_F(PipelineTest, TransactionHeadAndTailCommitTogetherOrNotAtAll) {
    {
        std::vector<pg::Result> head;
        pg::Transaction tx(*conn_, {Insert(1)}, head);
        ASSERT_EQ(head.size(), 1u);
        EXPECT_EQ(head[0].Int(0, 0), 10);
        auto tail = tx.Commit({Insert(2), Insert(3)});
        EXPECT_EQ(tail.size(), 2u);
    }
    EXPECT_EQ(Count(), 3);
    {
        std::vector<pg::Result> head;
        pg::Transaction tx(*conn_, {Insert(4)}, head);
        EXPECT_THROW(tx.Commit({Insert(5), Insert(1)}), Error);  // the tail's duplicate
    }
    EXPECT_EQ(PQtransactionStatus(conn_->raw()), PQTRANS_IDLE);
    EXPECT_EQ(Count(), 3);  // 4 and 5 rolled back with it
    {
        std::vector<pg::Result> head;
        EXPECT_THROW(pg::Transaction(*conn_, {Insert(6), Insert(2)}, head), Error);
    }
    EXPECT_EQ(Count(), 3);
    EXPECT_EQ(PQtransactionStatus(conn_->raw()), PQTRANS_IDLE);  // no transaction left open
}

}  // namespace
}  // namespace sagaflow::testing
