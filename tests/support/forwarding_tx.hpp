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
    std::optional<engine::CommandRecord> GetCommand(const MsgId& id) override {
        return inner_->GetCommand(id);
    }
    void Prefetch(const std::vector<MsgId>& ids) override { inner_->Prefetch(ids); }
    std::vector<engine::SagaRecord> ListSagas(const engine::SagaFilter& f) override {
        return inner_->ListSagas(f);
    }
    std::vector<engine::CommandRecord> PendingCommands(int limit) override {
        return inner_->PendingCommands(limit);
    }
    std::vector<engine::AttemptRecord> Attempts(const SagaId& id) override { return inner_->Attempts(id); }
    std::vector<engine::HistoryEvent> History(const SagaId& id) override { return inner_->History(id); }
    bool InsertSaga(const engine::SagaRecord& s) override { return inner_->InsertSaga(s); }
    void UpdateSaga(const engine::SagaRecord& s, std::int64_t v) override { inner_->UpdateSaga(s, v); }
    void InsertCommand(const engine::CommandRecord& c) override { inner_->InsertCommand(c); }
    void UpdateCommand(const engine::CommandRecord& c) override { inner_->UpdateCommand(c); }
    void InsertAttempt(const engine::AttemptRecord& a) override { inner_->InsertAttempt(a); }
    void AppendHistory(const engine::HistoryEvent& e) override { inner_->AppendHistory(e); }
    void Commit() override { inner_->Commit(); }

private:
    std::unique_ptr<engine::StoreTx> inner_;
};

}  // namespace sagaflow::testing
