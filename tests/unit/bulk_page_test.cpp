// A bulk job's page through the engine (`BulkPage`) on the memory store: each saga's action
// is applied as if asked alone, refusals are counted, and the job's cursor and counts move
// in the page's transaction; a page read from a stale cursor changes nothing.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine_fixture.hpp"
#include "unit_kit.hpp"

namespace sagaflow::engine {
namespace {

class BulkPageTest : public testing::EngineFixture {
protected:
    BulkPageTest() {
        registry_.Add(WorkflowBuilder("wf", 1).Step("a", "q").CompensateWith("undo_a").Step("b", "q").Build());
        Boot(3);
        worker_.SetRefusing(true);  // every saga waits at its first step
        for (int i = 0; i < 5; ++i) {
            StartRequest req;
            req.workflow = "wf";
            ids_.push_back(engine_->Start(req).value().saga_id);
            clock_.Advance(std::chrono::milliseconds(1));
        }
        job_.id = NewUuid();
        job_.action = "cancel";
        job_.filter.workflow = "wf";
        job_.reason = "cleanup";
        job_.requested_by = "carol";
        job_.matched = 5;
        job_.created_at = clock_.Now();
        auto tx = store_.Begin();
        tx->InsertBulkJob(job_);
        tx->Commit();
    }

    BulkPage Page(const std::vector<SagaId>& sagas, std::optional<SagaCursor> from, bool final) {
        BulkPage p;
        p.job_id = job_.id;
        p.from = from;
        for (const SagaId& id : sagas) {
            OperatorAction a;
            a.kind = OperatorAction::Kind::kCancel;
            a.saga_id = id;
            a.reason = job_.reason;
            a.by = Actor{job_.requested_by, "bulk " + job_.id};
            a.bulk_job = job_.id;
            p.actions.push_back(a);
        }
        if (!sagas.empty()) p.last = SagaCursor{View(sagas.back()).saga.created_at, sagas.back()};
        p.final = final;
        return p;
    }

    Status Apply(const BulkPage& p) {
        const Event e = p;
        return engine_->ApplyEvents(std::span<const Event>(&e, 1)).front();
    }

    BulkJob Job() { return store_.Begin()->GetBulkJob(job_.id).value(); }

    std::vector<SagaId> ids_;
    BulkJob job_;
};

TEST_F(BulkPageTest, APageAppliesEachActionAsIfAloneAndMovesTheJobInTheSameTransaction) {
    // One saga is cancelled by hand first: the page finds it ended and counts it refused.
    OperatorAction alone;
    alone.kind = OperatorAction::Kind::kCancel;
    alone.saga_id = ids_[1];
    alone.reason = "by hand";
    ASSERT_TRUE(engine_->Operate(alone).ok());

    const Status first = Apply(Page({ids_[4], ids_[3], ids_[2], ids_[1]}, std::nullopt, false));
    ASSERT_TRUE(first.ok()) << first.message;
    EXPECT_EQ(first.message, "applied 3, refused 1");
    BulkJob j = Job();
    EXPECT_EQ(j.done, 3);
    EXPECT_EQ(j.refused, 1);
    ASSERT_TRUE(j.filter.after.has_value());
    EXPECT_EQ(j.filter.after->id, ids_[1]);
    EXPECT_EQ(j.state, BulkState::kRunning);
    for (const SagaId& id : {ids_[4], ids_[3], ids_[2]}) {
        const SagaView v = View(id);
        EXPECT_EQ(v.saga.status, SagaStatus::kCancelled);
        int recorded = 0;
        for (const auto& e : v.history) {
            if (e.kind != "cancel_requested") continue;
            ++recorded;
            EXPECT_EQ(e.detail.value("bulk", ""), job_.id);
            EXPECT_EQ(e.detail.value("reason", ""), "cleanup");
            EXPECT_EQ(e.detail.value("by", ""), "carol");
        }
        EXPECT_EQ(recorded, 1);
    }
    EXPECT_EQ(testing::CountEvents(View(ids_[1]).history, "cancel_requested"), 1) << "refused: nothing written";

    // The same page again (a runner that read the job before the first commit): refused whole.
    const Status stale = Apply(Page({ids_[4], ids_[3]}, std::nullopt, false));
    EXPECT_EQ(stale.code, ErrorCode::kAborted);
    EXPECT_EQ(Job().done, 3);
    EXPECT_EQ(testing::CountEvents(View(ids_[4]).history, "cancel_requested"), 1);

    // The last page finishes the job; after that no page is taken.
    ASSERT_TRUE(Apply(Page({ids_[0]}, j.filter.after, true)).ok());
    j = Job();
    EXPECT_EQ(j.done, 4);
    EXPECT_EQ(j.state, BulkState::kFinished);
    EXPECT_EQ(Apply(Page({}, j.filter.after, true)).code, ErrorCode::kAborted);
    BulkPage ghost = Page({}, std::nullopt, true);
    ghost.job_id = NewUuid();
    EXPECT_EQ(Apply(ghost).code, ErrorCode::kNotFound);
}

TEST_F(BulkPageTest, AFailedCommitLeavesNeitherTheActionsNorTheJobsProgress) {
    store_.FailNextCommits(10, ErrorCode::kUnavailable);  // more than the engine's retries
    EXPECT_THROW((void)Apply(Page({ids_[4], ids_[3]}, std::nullopt, false)), Error) << "the store kept failing";
    EXPECT_EQ(Job().done, 0);
    EXPECT_FALSE(Job().filter.after.has_value());
    EXPECT_EQ(View(ids_[4]).saga.status, SagaStatus::kRunning);
}

}  // namespace
}  // namespace sagaflow::engine
