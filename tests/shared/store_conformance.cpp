#include "store_conformance.hpp"

#include <set>

#include "engine.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::testing {
namespace {

using engine::HistoryEvent;
using engine::NodeState;
using engine::PendingRecord;
using engine::SagaCursor;
using engine::SagaFilter;
using engine::SagaRecord;
using nlohmann::json;

const Timestamp kT0{std::chrono::seconds(1'800'000'000)};

SagaRecord NewSaga(const std::string& workflow = "wf", std::optional<std::string> key = {},
                   Timestamp created = kT0) {
    SagaRecord s;
    s.id = SagaId(NewUuid());
    s.workflow = workflow;
    s.workflow_version = 2;
    s.status = SagaStatus::kRunning;
    s.nodes.nodes["reserve"] = {NodeState::kDone, 1, false, false};
    s.nodes.nodes["charge"] = {NodeState::kFailed, 2, true, false};
    s.nodes.completions = 2;
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

PendingRecord NewPending(const SagaId& saga, Timestamp not_before) {
    PendingRecord c;
    c.msg_id = MsgId(NewUuid());
    c.saga_id = saga;
    c.node = "charge_payment";
    c.phase = Phase::kCompensate;
    c.action = "refund_payment";
    c.queue = "payment";
    c.attempt = 2;
    c.not_before = not_before;
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
    EXPECT_EQ(got->nodes, s.nodes);
    EXPECT_EQ(got->input, s.input);
    EXPECT_EQ(got->context, s.context);
    EXPECT_EQ(got->business_key, s.business_key);
    EXPECT_EQ(got->trace_id, s.trace_id);
    EXPECT_EQ(got->version, 1);
    EXPECT_EQ(got->created_at, s.created_at);
    EXPECT_EQ(got->updated_at, s.updated_at);
}

// Sagas started together without business keys (a start batch), one of them moved on in
// the same transaction: read back as they were last written, there and after Commit.
TEST_P(StoreConformance, SagasStartedTogetherReadBackAsLastWritten) {
    std::vector<SagaRecord> sagas{NewSaga(), NewSaga(), NewSaga()};
    SagaRecord moved = sagas[1];
    moved.status = SagaStatus::kCompleted;
    moved.context["charge"] = {{"ok", true}};
    moved.version = 2;
    moved.updated_at += std::chrono::milliseconds(5);
    {
        auto tx = store_->Begin();
        for (const SagaRecord& s : sagas) ASSERT_TRUE(tx->InsertSaga(s));
        tx->UpdateSaga(moved, 1);
        EXPECT_EQ(tx->GetSaga(moved.id)->version, 2);
        SagaFilter all;
        all.workflow = "wf";
        std::set<std::string> listed;
        for (const SagaRecord& s : tx->ListSagas(all)) listed.insert(s.id.str());
        for (const SagaRecord& s : sagas) EXPECT_TRUE(listed.contains(s.id.str())) << "listed in its own transaction";
        tx->Commit();
    }
    sagas[1] = moved;
    auto tx = store_->Begin();
    for (const SagaRecord& s : sagas) {
        auto got = tx->GetSaga(s.id);
        ASSERT_TRUE(got);
        EXPECT_EQ(got->status, s.status);
        EXPECT_EQ(got->nodes, s.nodes);
        EXPECT_EQ(got->input, s.input);
        EXPECT_EQ(got->context, s.context);
        EXPECT_FALSE(got->business_key);
        EXPECT_EQ(got->trace_id, s.trace_id);
        EXPECT_EQ(got->version, s.version);
        EXPECT_EQ(got->created_at, s.created_at);
        EXPECT_EQ(got->updated_at, s.updated_at);
    }
}

// A saga id is never reused; a store says so at the insert or at the latest from Commit.
TEST_P(StoreConformance, ReusedSagaIdIsRefused) {
    const SagaRecord s = NewSaga();
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->Commit();
    }
    auto tx = store_->Begin();
    try {
        (void)tx->InsertSaga(s);
        tx->Commit();
        FAIL() << "a second saga with one id was accepted";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kAlreadyExists);
    }
}

TEST_P(StoreConformance, MissingSagaIsEmpty) {
    auto tx = store_->Begin();
    EXPECT_FALSE(tx->GetSaga(SagaId(NewUuid())));
    EXPECT_FALSE(tx->GetPending(MsgId(NewUuid())));
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
        tx->InsertPending(NewPending(s.id, kT0));
        EXPECT_TRUE(tx->GetSaga(s.id)) << "a transaction reads its own writes";
    }
    auto tx = store_->Begin();
    EXPECT_FALSE(tx->GetSaga(s.id));
    EXPECT_TRUE(tx->PendingWork(10).empty());
}

TEST_P(StoreConformance, PendingItemsRoundTripWithTheirSagasEarliestFirst) {
    const SagaRecord s = NewSaga();
    const PendingRecord late = NewPending(s.id, kT0 + std::chrono::seconds(5));
    const PendingRecord early = NewPending(s.id, kT0 + std::chrono::seconds(1));
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertPending(late);
        tx->InsertPending(early);
        tx->Commit();
    }
    auto tx = store_->Begin();
    auto work = tx->PendingWork(10);
    ASSERT_EQ(work.size(), 2u);
    EXPECT_EQ(work[0].first.msg_id, early.msg_id);
    EXPECT_EQ(work[1].first.msg_id, late.msg_id);
    EXPECT_EQ(work[0].second.id, s.id);
    EXPECT_EQ(work[0].second.input, s.input) << "the command's payload is the saga's";
    auto got = tx->GetPending(early.msg_id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->saga_id, s.id);
    EXPECT_EQ(got->node, "charge_payment");
    EXPECT_EQ(got->phase, Phase::kCompensate);
    EXPECT_EQ(got->action, "refund_payment");
    EXPECT_EQ(got->queue, "payment");
    EXPECT_EQ(got->attempt, 2);
    EXPECT_EQ(got->not_before, early.not_before);
    EXPECT_EQ(got->created_at, kT0);
    EXPECT_EQ(tx->PendingWork(1).size(), 1u);
    EXPECT_EQ(tx->PendingOf(s.id).size(), 2u);
    EXPECT_TRUE(tx->PendingOf(SagaId(NewUuid())).empty());
}

TEST_P(StoreConformance, WaitsAreItemsOfTheirOwnKindAndSignalsAreKeptByTheirId) {
    const SagaRecord s = NewSaga();
    PendingRecord timer = NewPending(s.id, kT0 + std::chrono::seconds(3));
    timer.kind = engine::PendingKind::kTimer;
    timer.node = "cooling_off";
    timer.phase = Phase::kForward;
    timer.action.clear();
    timer.queue.clear();
    timer.attempt = 1;
    PendingRecord wait = timer;
    wait.msg_id = MsgId(NewUuid());
    wait.kind = engine::PendingKind::kSignal;
    wait.action = "payment_confirmed";
    PendingRecord deadline = timer;
    deadline.msg_id = MsgId(NewUuid());
    deadline.kind = engine::PendingKind::kDeadline;
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertPending(timer);
        tx->InsertPending(wait);
        tx->InsertPending(deadline);
        tx->InsertSignal({s.id, "sig-1", "payment_confirmed", {{"ref", "A"}}, "", kT0});
        tx->InsertSignal({s.id, "sig-2", "payment_confirmed", {{"ref", "B"}}, "", kT0 + std::chrono::seconds(1)});
        tx->InsertSignal({s.id, "sig-0", "other", json::object(), "node_x", kT0});
        tx->Commit();
    }
    {
        auto tx = store_->Begin();
        EXPECT_EQ(tx->GetPending(timer.msg_id)->kind, engine::PendingKind::kTimer);
        EXPECT_EQ(tx->GetPending(wait.msg_id)->kind, engine::PendingKind::kSignal);
        EXPECT_EQ(tx->GetPending(wait.msg_id)->action, "payment_confirmed");
        EXPECT_EQ(tx->GetPending(deadline.msg_id)->kind, engine::PendingKind::kDeadline);
        EXPECT_EQ(tx->PendingWork(10).size(), 3u);
        const auto got = tx->GetSignal(s.id, "sig-1");
        ASSERT_TRUE(got);
        EXPECT_EQ(got->name, "payment_confirmed");
        EXPECT_EQ(got->payload, json({{"ref", "A"}}));
        EXPECT_EQ(got->received_at, kT0);
        EXPECT_TRUE(got->consumed_by.empty());
        EXPECT_FALSE(tx->GetSignal(s.id, "sig-9"));
        EXPECT_FALSE(tx->GetSignal(SagaId(NewUuid()), "sig-1"));
        auto first = tx->WaitingSignal(s.id, "payment_confirmed");
        ASSERT_TRUE(first);
        EXPECT_EQ(first->id, "sig-1") << "the earliest untaken one";
        first->consumed_by = "payment_confirmed";
        tx->ConsumeSignal(*first);
        EXPECT_EQ(tx->WaitingSignal(s.id, "payment_confirmed")->id, "sig-2") << "read your own take";
        EXPECT_FALSE(tx->WaitingSignal(s.id, "other")) << "a taken signal waits for nobody";
        try {
            tx->InsertSignal({s.id, "sig-2", "payment_confirmed", json::object(), "", kT0});
            ADD_FAILURE() << "a signal id was taken twice";
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kAborted) << "a concurrent duplicate: run again, then found applied";
        }
    }
    {
        auto tx = store_->Begin();  // the failed insert rolled the last transaction back
        EXPECT_EQ(tx->WaitingSignal(s.id, "payment_confirmed")->id, "sig-1");
        auto first = tx->WaitingSignal(s.id, "payment_confirmed");
        first->consumed_by = "payment_confirmed";
        tx->ConsumeSignal(*first);
        tx->Commit();
    }
    auto tx = store_->Begin();
    const auto all = tx->SignalsOf(s.id);
    ASSERT_EQ(all.size(), 3u);
    EXPECT_EQ(all[0].id, "sig-1");
    EXPECT_EQ(all[0].consumed_by, "payment_confirmed");
    EXPECT_EQ(all[1].id, "sig-2");
    EXPECT_EQ(all[2].id, "sig-0");
    EXPECT_EQ(all[2].consumed_by, "node_x");
}

TEST_P(StoreConformance, AResolvedItemIsDeletedAndAResentOneUpdated) {
    const SagaRecord s = NewSaga();
    PendingRecord done = NewPending(s.id, kT0);
    PendingRecord again = NewPending(s.id, kT0);
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertPending(done);
        tx->InsertPending(again);
        tx->Commit();
    }
    again.attempt = 3;
    again.not_before = kT0 + std::chrono::seconds(9);
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->GetPending(done.msg_id));
        ASSERT_TRUE(tx->GetPending(again.msg_id));
        tx->DeletePending(done);
        tx->UpdatePending(again);
        EXPECT_FALSE(tx->GetPending(done.msg_id)) << "read your own delete";
        tx->Commit();
    }
    auto tx = store_->Begin();
    EXPECT_FALSE(tx->GetPending(done.msg_id));
    auto got = tx->GetPending(again.msg_id);
    ASSERT_TRUE(got);
    EXPECT_EQ(got->attempt, 3);
    EXPECT_EQ(got->not_before, again.not_before);
    EXPECT_EQ(tx->PendingWork(10).size(), 1u);
}

TEST_P(StoreConformance, ResolvingAnItemTwiceIsAConcurrentChange) {
    const SagaRecord s = NewSaga();
    const PendingRecord item = NewPending(s.id, kT0);
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertPending(item);
        tx->Commit();
    }
    {
        auto tx = store_->Begin();
        tx->DeletePending(item);
        tx->Commit();
    }
    try {
        auto tx = store_->Begin();
        tx->DeletePending(item);
        tx->Commit();
        FAIL() << "no error";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), ErrorCode::kAborted);
    }
}

TEST_P(StoreConformance, HistoryIsOneRowPerSagaPerTransactionInOrder) {
    const SagaRecord s = NewSaga();
    const SagaRecord other = NewSaga();
    HistoryEvent with_step;
    {
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
        tx->Commit();
    }
    {
        auto tx = store_->Begin();
        with_step.saga_id = s.id;
        with_step.at = kT0 + std::chrono::microseconds(3);
        with_step.kind = "replied";
        with_step.node = "charge_payment";
        with_step.phase = Phase::kForward;
        with_step.attempt = 4;
        with_step.msg_id = MsgId(NewUuid());
        with_step.detail = {{"outcome", "ok"}};
        tx->AppendHistory(with_step);
        tx->Commit();
    }
    auto read = store_->Begin();
    auto h = read->History(s.id);
    ASSERT_EQ(h.size(), 4u);
    EXPECT_EQ(h[0].kind, "started");
    EXPECT_EQ(h[2].kind, "sent");
    EXPECT_EQ(h[0].detail, (nlohmann::json{{"k", "started"}}));
    EXPECT_EQ(h[0].seq, h[2].seq) << "one transaction, one row";
    EXPECT_LT(h[2].seq, h[3].seq);
    EXPECT_EQ(h[3].node, "charge_payment");
    EXPECT_EQ(h[3].phase, Phase::kForward);
    EXPECT_EQ(h[3].attempt, 4);
    EXPECT_EQ(h[3].msg_id, with_step.msg_id);
    EXPECT_EQ(h[3].at, with_step.at);
    EXPECT_FALSE(h[0].phase);
    EXPECT_TRUE(h[0].node.empty());
    const auto attempts = engine::AttemptsFrom(h);
    ASSERT_EQ(attempts.size(), 1u);
    EXPECT_EQ(attempts[0].outcome, "ok");
    EXPECT_EQ(read->History(other.id).size(), 3u);
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
    auto even = read->ListSagas(SagaFilter{.workflow = "even"});
    EXPECT_EQ(even.size(), 3u);
    auto failed = read->ListSagas(SagaFilter{.status = SagaStatus::kFailed});
    ASSERT_EQ(failed.size(), 1u);
    EXPECT_EQ(failed[0].id, made[4].id);
    EXPECT_EQ(read->ListSagas(SagaFilter{.limit = 2}).size(), 2u);
}

TEST_P(StoreConformance, ListSagasByVersionKeyAndCreatedRange) {
    auto tx = store_->Begin();
    std::vector<SagaRecord> made;
    for (int i = 0; i < 6; ++i) {
        SagaRecord s = NewSaga("wf", "key-" + std::to_string(i), kT0 + std::chrono::seconds(i));
        s.workflow_version = i < 3 ? 1 : 2;
        ASSERT_TRUE(tx->InsertSaga(s));
        made.push_back(s);
    }
    tx->Commit();
    auto read = store_->Begin();
    EXPECT_EQ(read->ListSagas(SagaFilter{.version = 1}).size(), 3u);
    const auto by_key = read->ListSagas(SagaFilter{.business_key = BusinessKey("key-4")});
    ASSERT_EQ(by_key.size(), 1u);
    EXPECT_EQ(by_key[0].id, made[4].id);
    // [t0+2s, t0+4s): the sagas created at 2 s and 3 s, newest first.
    const auto range = read->ListSagas(SagaFilter{.created_after = kT0 + std::chrono::seconds(2),
                                                  .created_before = kT0 + std::chrono::seconds(4)});
    ASSERT_EQ(range.size(), 2u);
    EXPECT_EQ(range[0].id, made[3].id);
    EXPECT_EQ(range[1].id, made[2].id);
    EXPECT_TRUE(read->ListSagas(SagaFilter{.version = 2, .created_before = kT0 + std::chrono::seconds(3)}).empty());
}

TEST_P(StoreConformance, ListSagasPagesByCursorWithoutGapsOrRepeats) {
    // Ties on created_at are ordered by id, so a page boundary inside a tie loses nothing.
    auto tx = store_->Begin();
    std::set<SagaId> made;
    for (int i = 0; i < 7; ++i) {
        SagaRecord s = NewSaga("paged", std::nullopt, kT0 + std::chrono::seconds(i / 3));
        ASSERT_TRUE(tx->InsertSaga(s));
        made.insert(s.id);
    }
    tx->Commit();
    auto read = store_->Begin();
    std::set<SagaId> seen;
    std::optional<SagaCursor> after;
    std::optional<SagaRecord> previous;
    for (int page = 0; page < 10; ++page) {
        const auto got = read->ListSagas(SagaFilter{.workflow = "paged", .after = after, .limit = 2});
        for (const auto& s : got) {
            EXPECT_TRUE(seen.insert(s.id).second) << "repeated " << s.id.str();
            if (previous) {
                EXPECT_TRUE(s.created_at < previous->created_at ||
                            (s.created_at == previous->created_at && s.id < previous->id));
            }
            previous = s;
        }
        if (got.size() < 2) break;
        after = SagaCursor{got.back().created_at, got.back().id};
    }
    EXPECT_EQ(seen, made);
}

TEST_P(StoreConformance, CountSagasCountsWhatTheFilterMatches) {
    auto tx = store_->Begin();
    for (int i = 0; i < 5; ++i) {
        SagaRecord s = NewSaga("counted", std::nullopt, kT0 + std::chrono::seconds(i));
        s.status = i < 3 ? SagaStatus::kRunning : SagaStatus::kParked;
        ASSERT_TRUE(tx->InsertSaga(s));
    }
    tx->Commit();
    auto read = store_->Begin();
    EXPECT_EQ(read->CountSagas(SagaFilter{.workflow = "counted"}), 5);
    EXPECT_EQ(read->CountSagas(SagaFilter{.status = SagaStatus::kParked, .workflow = "counted"}), 2);
    EXPECT_EQ(read->CountSagas(SagaFilter{.workflow = "counted", .created_before = kT0 + std::chrono::seconds(2)}), 2);
    EXPECT_EQ(read->CountSagas(SagaFilter{.workflow = "nobody"}), 0);
}

TEST_P(StoreConformance, BulkJobsKeepTheirFilterCursorAndCountsAndCommitWithTheTransaction) {
    engine::BulkJob job;
    job.id = NewUuid();
    job.action = "cancel";
    job.filter.status = SagaStatus::kRunning;
    job.filter.workflow = "wf";
    job.filter.created_before = kT0 + std::chrono::hours(1);
    job.reason = "cleanup; it's 'quoted'";
    job.requested_by = "alice";
    job.rate = 250;
    job.matched = 10;
    job.created_at = kT0;
    job.updated_at = kT0;
    {
        auto tx = store_->Begin();
        tx->InsertBulkJob(job);
        // Rolled back: never there.
    }
    EXPECT_FALSE(store_->Begin()->GetBulkJob(job.id).has_value());
    {
        auto tx = store_->Begin();
        tx->InsertBulkJob(job);
        tx->Commit();
    }
    auto got = store_->Begin()->GetBulkJob(job.id);
    ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->action, "cancel");
    EXPECT_EQ(got->filter.status, SagaStatus::kRunning);
    EXPECT_EQ(got->filter.workflow, "wf");
    EXPECT_EQ(got->filter.created_before, job.filter.created_before);
    EXPECT_FALSE(got->filter.after.has_value());
    EXPECT_EQ(got->reason, job.reason);
    EXPECT_EQ(got->requested_by, "alice");
    EXPECT_EQ(got->rate, 250);
    EXPECT_EQ(got->matched, 10);
    EXPECT_EQ(got->state, engine::BulkState::kRunning);
    EXPECT_EQ(got->created_at, kT0);

    job.filter.after = SagaCursor{kT0 + std::chrono::minutes(5), SagaId(NewUuid())};
    job.done = 7;
    job.refused = 3;
    job.state = engine::BulkState::kFinished;
    job.updated_at = kT0 + std::chrono::minutes(6);
    {
        auto tx = store_->Begin();
        tx->UpdateBulkJob(job);
        tx->Commit();
    }
    got = store_->Begin()->GetBulkJob(job.id);
    ASSERT_TRUE(got.has_value());
    ASSERT_TRUE(got->filter.after.has_value());
    EXPECT_EQ(got->filter.after->id, job.filter.after->id);
    EXPECT_EQ(got->filter.after->created_at, job.filter.after->created_at);
    EXPECT_EQ(got->done, 7);
    EXPECT_EQ(got->refused, 3);
    EXPECT_EQ(got->state, engine::BulkState::kFinished);
    EXPECT_EQ(got->updated_at, job.updated_at);

    engine::BulkJob other = job;
    other.id = NewUuid();
    other.state = engine::BulkState::kRunning;
    other.created_at = kT0 + std::chrono::minutes(1);
    {
        auto tx = store_->Begin();
        tx->InsertBulkJob(other);
        tx->Commit();
    }
    auto read = store_->Begin();
    const auto all = read->ListBulkJobs(10, false);
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].id, other.id) << "newest first";
    const auto running = read->ListBulkJobs(10, true);
    ASSERT_EQ(running.size(), 1u);
    EXPECT_EQ(running[0].id, other.id);
    EXPECT_FALSE(read->GetBulkJob("not-a-uuid").has_value());
    engine::BulkJob ghost = job;
    ghost.id = NewUuid();
    EXPECT_THROW(read->UpdateBulkJob(ghost), Error);
}

TEST_P(StoreConformance, AlertsAreWrittenWithTheTransactionAndTakenOneByOne) {
    const SagaRecord s = NewSaga("wf", "alerted");
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertAlert({s.id, 0, {{"event", "saga_failed"}, {"n", 1}}, 0, kT0, kT0});
        tx->InsertAlert({s.id, 0, {{"event", "saga_failed"}, {"n", 2}}, 0, kT0 + std::chrono::seconds(5), kT0});
        // Rolled back: never written.
    }
    EXPECT_TRUE(store_->Begin()->DueAlerts(kT0 + std::chrono::hours(1), 10).empty());
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertAlert({s.id, 0, {{"event", "saga_failed"}, {"n", 1}}, 0, kT0, kT0});
        tx->InsertAlert({s.id, 0, {{"event", "saga_failed"}, {"n", 2}}, 0, kT0 + std::chrono::seconds(5), kT0});
        tx->Commit();
    }
    auto tx = store_->Begin();
    auto due = tx->DueAlerts(kT0, 10);
    ASSERT_EQ(due.size(), 1u) << "only what is due";
    EXPECT_EQ(due[0].event["n"], 1);
    EXPECT_EQ(due[0].saga_id, s.id);
    EXPECT_GT(due[0].id, 0);
    due[0].attempts = 1;
    due[0].next_at = kT0 + std::chrono::seconds(10);
    tx->DeferAlert(due[0]);
    auto later = tx->DueAlerts(kT0 + std::chrono::seconds(6), 10);
    ASSERT_EQ(later.size(), 1u);
    EXPECT_EQ(later[0].event["n"], 2);
    tx->DeleteAlert(later[0]);
    tx->Commit();
    auto last = store_->Begin()->DueAlerts(kT0 + std::chrono::hours(1), 10);
    ASSERT_EQ(last.size(), 1u);
    EXPECT_EQ(last[0].event["n"], 1);
    EXPECT_EQ(last[0].attempts, 1);
    EXPECT_EQ(last[0].next_at, kT0 + std::chrono::seconds(10));
}

// Retention with the clock pushed forward: "now" is 8 days after kT0 and the window 7 days.
TEST_P(StoreConformance, RetentionRemovesEndedSagasPastTheirAgeAndNothingElse) {
    const Timestamp cutoff = kT0 + std::chrono::hours(24);  // now (kT0 + 8 d) - 7 d
    auto saga = [](SagaStatus status, Timestamp created, Timestamp updated) {
        SagaRecord s = NewSaga();
        s.status = status;
        s.created_at = created;
        s.updated_at = updated;
        return s;
    };
    const SagaRecord old_done = saga(SagaStatus::kCompleted, kT0, kT0 + std::chrono::minutes(1));
    const SagaRecord young_done = saga(SagaStatus::kCompleted, kT0 + std::chrono::hours(48), kT0 + std::chrono::hours(48));
    const SagaRecord ended_lately = saga(SagaStatus::kCompleted, kT0, kT0 + std::chrono::hours(30));  // created long ago
    const SagaRecord old_running = saga(SagaStatus::kRunning, kT0, kT0);
    const SagaRecord old_compensating = saga(SagaStatus::kCompensating, kT0, kT0);
    const SagaRecord old_failed = saga(SagaStatus::kFailed, kT0, kT0);
    const SagaRecord old_undone = saga(SagaStatus::kCompensated, kT0, kT0);
    const SagaRecord old_cancelled = saga(SagaStatus::kCancelled, kT0, kT0);
    const SagaRecord old_parked = saga(SagaStatus::kParked, kT0, kT0);
    {
        auto tx = store_->Begin();
        for (const SagaRecord* s : {&old_done, &young_done, &ended_lately, &old_running, &old_compensating, &old_failed,
                                    &old_undone, &old_cancelled, &old_parked}) {
            ASSERT_TRUE(tx->InsertSaga(*s));
            tx->InsertPending(NewPending(s->id, kT0));
            tx->AppendHistory({s->id, 0, kT0, "started", "", std::nullopt, 0, std::nullopt, {}});
            tx->InsertAlert({s->id, 0, {{"event", "saga_failed"}}, 0, kT0, kT0});
            tx->InsertSignal({s->id, "sig", "payment_confirmed", nlohmann::json::object(), "", kT0});
        }
        tx->Commit();
    }
    {
        auto tx = store_->Begin();
        tx->AppendHistory({old_done.id, 0, kT0, "completed", "", std::nullopt, 0, std::nullopt, {}});
        tx->Commit();
    }
    {
        auto tx = store_->Begin();
        const engine::ExpiredCounts gone = tx->ExpireEnded(SagaStatus::kCompleted, cutoff, 100);
        tx->Commit();
        EXPECT_FALSE(gone.locked_out);
        EXPECT_EQ(gone.sagas, 1);
        EXPECT_EQ(gone.history_rows, 2);
        EXPECT_EQ(gone.pending, 1);
        EXPECT_EQ(gone.alerts, 1);
        EXPECT_EQ(gone.signals, 1);
    }
    auto tx = store_->Begin();
    EXPECT_FALSE(tx->GetSaga(old_done.id).has_value());
    EXPECT_TRUE(tx->History(old_done.id).empty());
    EXPECT_TRUE(tx->PendingOf(old_done.id).empty());
    EXPECT_TRUE(tx->SignalsOf(old_done.id).empty());
    for (const SagaRecord* kept : {&young_done, &ended_lately, &old_running, &old_compensating, &old_failed, &old_undone,
                                   &old_cancelled, &old_parked}) {
        EXPECT_TRUE(tx->GetSaga(kept->id).has_value()) << ToString(kept->status);
        EXPECT_EQ(tx->History(kept->id).size(), 1u);
        EXPECT_EQ(tx->PendingOf(kept->id).size(), 1u);
    }
    EXPECT_EQ(tx->DueAlerts(kT0, 100).size(), 8u);
    // Compensated sagas have a window of their own: the call names the status.
    const engine::ExpiredCounts undone = tx->ExpireEnded(SagaStatus::kCompensated, cutoff, 100);
    EXPECT_EQ(undone.sagas, 1);
    EXPECT_FALSE(tx->GetSaga(old_undone.id).has_value());
    // Cancelled is ended too (the job gives it the compensated window).
    EXPECT_EQ(tx->ExpireEnded(SagaStatus::kCancelled, cutoff, 100).sagas, 1);
    EXPECT_FALSE(tx->GetSaga(old_cancelled.id).has_value());
    EXPECT_TRUE(tx->GetSaga(old_parked.id).has_value());
    for (SagaStatus never : {SagaStatus::kRunning, SagaStatus::kCompensating, SagaStatus::kFailed, SagaStatus::kParked}) {
        try {
            (void)tx->ExpireEnded(never, cutoff, 100);
            ADD_FAILURE() << "retention took " << ToString(never);
        } catch (const Error& e) {
            EXPECT_EQ(e.code(), ErrorCode::kInvalidArgument);
        }
    }
}

TEST_P(StoreConformance, RetentionGoesInBatchesOldestFirst) {
    std::vector<SagaRecord> done;
    {
        auto tx = store_->Begin();
        for (int i = 0; i < 5; ++i) {
            SagaRecord s = NewSaga("wf", std::nullopt, kT0 + std::chrono::seconds(i));
            s.status = SagaStatus::kCompleted;
            ASSERT_TRUE(tx->InsertSaga(s));
            done.push_back(s);
        }
        tx->Commit();
    }
    const Timestamp cutoff = kT0 + std::chrono::hours(1);
    std::vector<std::int64_t> batches;
    for (;;) {
        auto tx = store_->Begin();
        const auto gone = tx->ExpireEnded(SagaStatus::kCompleted, cutoff, 2);
        tx->Commit();
        batches.push_back(gone.sagas);
        if (batches.size() == 1) {  // the two oldest went first
            auto check = store_->Begin();
            EXPECT_FALSE(check->GetSaga(done[1].id).has_value());
            EXPECT_TRUE(check->GetSaga(done[2].id).has_value());
        }
        if (gone.sagas < 2) break;
    }
    EXPECT_EQ(batches, (std::vector<std::int64_t>{2, 2, 1}));
}

TEST_P(StoreConformance, CommittedWritesSurviveANewStoreHandle) {
    const SagaRecord s = NewSaga("wf", "durable");
    {
        auto tx = store_->Begin();
        ASSERT_TRUE(tx->InsertSaga(s));
        tx->InsertPending(NewPending(s.id, kT0));
        tx->Commit();
    }
    store_.reset();
    auto reopened = env_->Open();
    auto tx = reopened->Begin();
    EXPECT_TRUE(tx->GetSaga(s.id));
    EXPECT_EQ(tx->PendingWork(10).size(), 1u);
}

}  // namespace
}  // namespace sagaflow::testing
