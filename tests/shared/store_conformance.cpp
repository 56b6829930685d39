#include "store_conformance.hpp"

#include "sagaflow/core/error.hpp"

namespace sagaflow::testing {
namespace {

using engine::AttemptRecord;
using engine::CommandRecord;
using engine::CommandState;
using engine::HistoryEvent;
using engine::SagaFilter;
using engine::SagaRecord;

const Timestamp kT0{std::chrono::seconds(1'800'000'000)};

SagaRecord NewSaga(const std::string& workflow = "wf", std::optional<std::string> key = {},
                   Timestamp created = kT0) {
    SagaRecord s;
    s.id = SagaId(NewUuid());
    s.workflow = workflow;
    s.workflow_version = 2;
    s.status = SagaStatus::kRunning;
    s.position = 1;
    s.awaiting = MsgId(NewUuid());
    s.input = {{"order", 7}, {"name", "O'Brien; DROP TABLE sagas;--"}};
    s.context = {{"reserve", {{"ok", true}}}};
    if (key) s.business_key = BusinessKey(*key);
    s.failure_reason = "";
    s.trace_id = TraceId(NewUuid());
    s.version = 1;
    s.created_at = created;
    s.updated_at = created + std::chrono::microseconds(1);
    return s;
}

CommandRecord NewCommand(const SagaId& saga, Timestamp not_before) {
    CommandRecord c;
    c.msg_id = MsgId(NewUuid());
    c.saga_id = saga;
    c.step_index = 1;
    c.phase = Phase::kCompensate;
    c.action = "refund_payment";
    c.queue = "payment";
    c.attempt = 2;
    c.not_before = not_before;
    c.state = CommandState::kPending;
    c.payload = {{"input", {{"a", 1}}}};
    c.created_at = kT0;
    return c;
}

TEST_P(StoreConformance, InsertedSagaReadsBackField_for_field) {
    const SagaRecord s = NewSaga("wf", "key-1");
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->Commit();
    }
    auto tx = store_->Begin();
    auto got = tx->GetSaga(s.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->workflow, "wf");
    EXPECT_EQ(got->workflow_version, 2);
    EXPECT_EQ(got->status, SagaStatus::kRunning);
    EXPECT_EQ(got->position, 1);
    EXPECT_EQ(got->awaiting, s.awaiting);
    EXPECT_EQ(got->input, s.input);
    EXPECT_EQ(got->context, s.context);
    EXPECT_EQ(got->business_key, s.business_key);
    EXPECT_EQ(got->trace_id, s.trace_id);
    EXPECT_EQ(got->version, 1);
    EXPECT_EQ(got->created_at, s.created_at);
    EXPECT_EQ(got->updated_at, s.updated_at);
}

TEST_P(StoreConformance, MissingSagaIsEmpty) {
    auto tx = store_->Begin();
    EXPECT_FALSE(tx->GetSaga(SagaId(NewUuid())));
    EXPECT_FALSE(tx->GetCommand(MsgId(NewUuid())));
    EXPECT_FALSE(tx->FindByBusinessKey("wf", BusinessKey("nope")));
}

TEST_P(StoreConformance, BusinessKeyIsUniquePerWorkflow) {
    const SagaRecord a = NewSaga("wf", "k");
    const SagaRecord b = NewSaga("wf", "k");
    const SagaRecord other_workflow = NewSaga("wf2", "k");
    auto tx = store_->Begin();
    EXPECT_TRUE(tx->InsertSaga(a));
    EXPECT_FALSE(tx->InsertSaga(b));
    EXPECT_TRUE(tx->InsertSaga(other_workflow));
    EXPECT_EQ(tx->FindByBusinessKey("wf", BusinessKey("k")), a.id);
    EXPECT_FALSE(tx->GetSaga(b.id));
    tx->Commit();
}

TEST_P(StoreConformance, UpdateWithStaleVersionIsAborted) {
    SagaRecord s = NewSaga();
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->Commit();
    }
    s.status = SagaStatus::kCompleted;
    s.version = 2;
    {
        auto tx = store_->Begin();
        tx->UpdateSaga(s, 1);
        tx->Commit();
    }
    s.version = 3;
    auto tx = store_->Begin();
    try {
        tx->UpdateSaga(s, 1);
        FAIL() << "stale update accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kAborted);
    }
}

// A transaction read the sagas, another changed one of them and committed first: the
// first one's writes must not land (one saga, and a batch of two). A store may say so
// at the update or at Commit.
TEST_P(StoreConformance, ChangeCommittedSinceTheReadAbortsTheWholeTransaction) {
    if (!GetParam().concurrent_transactions) GTEST_SKIP() << "this store runs one transaction at a time";
    for (const int count : {1, 2}) {
        std::vector<SagaRecord> sagas;
        {
            auto tx = store_->Begin();
            for (int i = 0; i < count; ++i) {
                sagas.push_back(NewSaga());
                ASSERT_TRUE(tx->InsertSaga(sagas.back()));
            }
            tx->Commit();
        }
        auto slow = store_->Begin();
        for (const auto& s : sagas) ASSERT_TRUE(slow->GetSaga(s.id));
        {
            auto fast = store_->Begin();
            SagaRecord changed = sagas.back();
            changed.status = SagaStatus::kCompensating;
            changed.version = 2;
            fast->UpdateSaga(changed, 1);
            fast->Commit();
        }
        try {
            for (SagaRecord s : sagas) {
                s.status = SagaStatus::kCompleted;
                s.version = 2;
                slow->UpdateSaga(s, 1);
            }
            slow->Commit();
            FAIL() << "a stale write of " << count << " saga(s) committed";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kAborted) << e.what();
        }
        slow.reset();
        auto check = store_->Begin();
        EXPECT_EQ(check->GetSaga(sagas.back().id)->status, SagaStatus::kCompensating);
        EXPECT_EQ(check->GetSaga(sagas.front().id)->version, count == 1 ? 2 : 1);  // nothing else landed
    }
}

TEST_P(StoreConformance, UncommittedTransactionLeavesNoTrace) {
    const SagaRecord s = NewSaga();
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertCommand(NewCommand(s.id, kT0));
        EXPECT_TRUE(tx->GetSaga(s.id)) << "a transaction reads its own writes";
    }
    auto tx = store_->Begin();
    EXPECT_FALSE(tx->GetSaga(s.id));
    EXPECT_TRUE(tx->PendingCommands(10).empty());
}

TEST_P(StoreConformance, CommandsRoundTripAndPendingComeEarliestFirst) {
    const SagaRecord s = NewSaga();
    const CommandRecord late = NewCommand(s.id, kT0 + std::chrono::seconds(5));
    const CommandRecord early = NewCommand(s.id, kT0 + std::chrono::seconds(1));
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertCommand(late);
        tx->InsertCommand(early);
        tx->Commit();
    }
    auto tx = store_->Begin();
    auto pending = tx->PendingCommands(10);
    ASSERT_EQ(pending.size(), 2u);
    EXPECT_EQ(pending[0].msg_id, early.msg_id);
    EXPECT_EQ(pending[1].msg_id, late.msg_id);
    auto got = tx->GetCommand(early.msg_id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->saga_id, s.id);
    EXPECT_EQ(got->step_index, 1);
    EXPECT_EQ(got->phase, Phase::kCompensate);
    EXPECT_EQ(got->action, "refund_payment");
    EXPECT_EQ(got->queue, "payment");
    EXPECT_EQ(got->attempt, 2);
    EXPECT_EQ(got->not_before, early.not_before);
    EXPECT_EQ(got->payload, early.payload);
    EXPECT_EQ(tx->PendingCommands(1).size(), 1u);
}

TEST_P(StoreConformance, DoneCommandsAreNoLongerPending) {
    const SagaRecord s = NewSaga();
    CommandRecord c = NewCommand(s.id, kT0);
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertCommand(c);
        tx->Commit();
    }
    c.state = CommandState::kDone;
    c.attempt = 3;
    {
        auto tx = store_->Begin();
        tx->UpdateCommand(c);
        tx->Commit();
    }
    auto tx = store_->Begin();
    EXPECT_TRUE(tx->PendingCommands(10).empty());
    auto got = tx->GetCommand(c.msg_id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->state, CommandState::kDone);
    EXPECT_EQ(got->attempt, 3);
}

TEST_P(StoreConformance, UpdatingAnUnknownCommandIsNotFound) {
    auto tx = store_->Begin();
    try {
        tx->UpdateCommand(NewCommand(SagaId(NewUuid()), kT0));
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kNotFound);
    }
}

TEST_P(StoreConformance, HistoryKeepsOrderWithIncreasingSeq) {
    const SagaRecord s = NewSaga();
    const SagaRecord other = NewSaga();
    auto tx = store_->Begin();
    ASSERT_TRUE(tx->InsertSaga(s));
    ASSERT_TRUE(tx->InsertSaga(other));
    for (const char* kind : {"started", "queued", "sent"}) {
        HistoryEvent e;
        e.saga_id = s.id;
        e.at = kT0;
        e.kind = kind;
        e.detail = {{"k", kind}};
        tx->AppendHistory(e);
        e.saga_id = other.id;
        tx->AppendHistory(e);
    }
    HistoryEvent with_step;
    with_step.saga_id = s.id;
    with_step.at = kT0 + std::chrono::microseconds(3);
    with_step.kind = "replied";
    with_step.step_index = 2;
    with_step.phase = Phase::kForward;
    with_step.attempt = 4;
    with_step.msg_id = MsgId(NewUuid());
    tx->AppendHistory(with_step);
    tx->Commit();

    auto read = store_->Begin();
    auto h = read->History(s.id);
    ASSERT_EQ(h.size(), 4u);
    EXPECT_EQ(h[0].kind, "started");
    EXPECT_EQ(h[2].kind, "sent");
    EXPECT_EQ(h[0].detail, (nlohmann::json{{"k", "started"}}));
    EXPECT_LT(h[0].seq, h[1].seq);
    EXPECT_LT(h[2].seq, h[3].seq);
    EXPECT_EQ(h[3].step_index, 2);
    EXPECT_EQ(h[3].phase, Phase::kForward);
    EXPECT_EQ(h[3].attempt, 4);
    EXPECT_EQ(h[3].msg_id, with_step.msg_id);
    EXPECT_EQ(h[3].at, with_step.at);
    EXPECT_FALSE(h[0].phase);
}

TEST_P(StoreConformance, AttemptsRoundTripInOrder) {
    const SagaRecord s = NewSaga();
    auto tx = store_->Begin();
    ASSERT_TRUE(tx->InsertSaga(s));
    const MsgId m(NewUuid());
    tx->InsertAttempt(AttemptRecord{s.id, 0, Phase::kForward, m, 1, "retry", "db down", kT0});
    tx->InsertAttempt(AttemptRecord{s.id, 0, Phase::kForward, m, 2, "ok", "", kT0});
    tx->Commit();
    auto read = store_->Begin();
    auto a = read->Attempts(s.id);
    ASSERT_EQ(a.size(), 2u);
    EXPECT_EQ(a[0].outcome, "retry");
    EXPECT_EQ(a[0].detail, "db down");
    EXPECT_EQ(a[1].attempt, 2);
    EXPECT_EQ(a[1].msg_id, m);
    EXPECT_EQ(a[1].finished_at, kT0);
}

TEST_P(StoreConformance, ListSagasFiltersNewestFirstWithLimit) {
    auto tx = store_->Begin();
    std::vector<SagaRecord> made;
    for (int i = 0; i < 5; ++i) {
        SagaRecord s = NewSaga(i % 2 ? "odd" : "even", std::nullopt, kT0 + std::chrono::seconds(i));
        s.status = i == 4 ? SagaStatus::kFailed : SagaStatus::kRunning;
        ASSERT_TRUE(tx->InsertSaga(s));
        made.push_back(s);
    }
    tx->Commit();
    auto read = store_->Begin();
    auto all = read->ListSagas(SagaFilter{});
    ASSERT_EQ(all.size(), 5u);
    EXPECT_EQ(all[0].id, made[4].id);
    EXPECT_EQ(all[4].id, made[0].id);
    auto even = read->ListSagas(SagaFilter{std::nullopt, "even", 100});
    EXPECT_EQ(even.size(), 3u);
    auto failed = read->ListSagas(SagaFilter{SagaStatus::kFailed, std::nullopt, 100});
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].id, made[4].id);
    EXPECT_EQ(read->ListSagas(SagaFilter{std::nullopt, std::nullopt, 2}).size(), 2u);
}

TEST_P(StoreConformance, CommittedWritesSurviveANewStoreHandle) {
    const SagaRecord s = NewSaga("wf", "durable");
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertCommand(NewCommand(s.id, kT0));
        tx->Commit();
    }
    store_.reset();
    auto reopened = env_->Open();
    auto tx = reopened->Begin();
    EXPECT_TRUE(tx->GetSaga(s.id));
    EXPECT_EQ(tx->PendingCommands(10).size(), 1u);
}

}  // namespace
}  // namespace sagaflow::testing
