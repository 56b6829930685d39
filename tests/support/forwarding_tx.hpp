// A StoreTx that forwards every call to another: the base of test decorators that
// change one or two calls (fault injection, counting).
#pragma once

#include <memory>

#include "saga_store.hpp"

namespace sagaflow::testing {

class ForwardingTx : public engine::StoreTx {
public:
    explicit ForwardingTx(std::unique_ptr<engine::StoreTx> inner) : inner_(std::move(inner)) {}

    std::optional<engine::SagaRecord> GetSaga(const SagaId& id) override { return inner_->GetSaga(id); }
    std::optional<SagaId> FindByBusinessKey(const std::string& w, const BusinessKey& k) override {
        return inner_->FindByBusinessKey(w, k);
    }
    std::optional<engine::PendingRecord> GetPending(const MsgId& id) override { return inner_->GetPending(id); }
    void Prefetch(const std::vector<MsgId>& ids) override { inner_->Prefetch(ids); }
    std::vector<engine::SagaRecord> ListSagas(const engine::SagaFilter& f) override {
        return inner_->ListSagas(f);
    }
    std::int64_t CountSagas(const engine::SagaFilter& f) override { return inner_->CountSagas(f); }
    std::vector<std::pair<engine::PendingRecord, engine::SagaRecord>> PendingWork(int limit) override {
        return inner_->PendingWork(limit);
    }
    std::vector<engine::PendingRecord> PendingOf(const SagaId& id) override { return inner_->PendingOf(id); }
    std::vector<engine::HistoryEvent> History(const SagaId& id) override { return inner_->History(id); }
    bool InsertSaga(const engine::SagaRecord& s) override { return inner_->InsertSaga(s); }
    void UpdateSaga(const engine::SagaRecord& s, std::int64_t v) override { inner_->UpdateSaga(s, v); }
    void InsertPending(const engine::PendingRecord& p) override { inner_->InsertPending(p); }
    void UpdatePending(const engine::PendingRecord& p) override { inner_->UpdatePending(p); }
    void DeletePending(const engine::PendingRecord& p) override { inner_->DeletePending(p); }
    void AppendHistory(const engine::HistoryEvent& e) override { inner_->AppendHistory(e); }
    std::optional<engine::SignalRecord> GetSignal(const SagaId& s, const std::string& id) override {
        return inner_->GetSignal(s, id);
    }
    std::optional<engine::SignalRecord> WaitingSignal(const SagaId& s, const std::string& name) override {
        return inner_->WaitingSignal(s, name);
    }
    std::vector<engine::SignalRecord> SignalsOf(const SagaId& s) override { return inner_->SignalsOf(s); }
    void InsertSignal(const engine::SignalRecord& s) override { inner_->InsertSignal(s); }
    void ConsumeSignal(const engine::SignalRecord& s) override { inner_->ConsumeSignal(s); }
    void InsertAlert(const engine::AlertRecord& a) override { inner_->InsertAlert(a); }
    std::vector<engine::AlertRecord> DueAlerts(Timestamp now, int limit) override { return inner_->DueAlerts(now, limit); }
    void DeleteAlert(const engine::AlertRecord& a) override { inner_->DeleteAlert(a); }
    void DeferAlert(const engine::AlertRecord& a) override { inner_->DeferAlert(a); }
    void InsertBulkJob(const engine::BulkJob& j) override { inner_->InsertBulkJob(j); }
    void UpdateBulkJob(const engine::BulkJob& j) override { inner_->UpdateBulkJob(j); }
    std::optional<engine::BulkJob> GetBulkJob(const std::string& id) override { return inner_->GetBulkJob(id); }
    std::vector<engine::BulkJob> ListBulkJobs(int limit, bool running_only) override {
        return inner_->ListBulkJobs(limit, running_only);
    }
    engine::ExpiredCounts ExpireEnded(SagaStatus status, Timestamp cutoff, int limit) override {
        return inner_->ExpireEnded(status, cutoff, limit);
    }
    void Commit() override { inner_->Commit(); }

private:
    std::unique_ptr<engine::StoreTx> inner_;
};

}  // namespace sagaflow::testing
