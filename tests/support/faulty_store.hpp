// A SagaStore decorator that fails the n-th write of the next transaction, for proving
// that a unit of work commits whole or not at all.
#pragma once

#include <memory>

#include "sagaflow/core/error.hpp"
#include "saga_store.hpp"

namespace sagaflow::testing {

class FaultyStore final : public engine::SagaStore {
public:
    explicit FaultyStore(engine::SagaStore& inner) : inner_(inner) {}

    /// The `n`-th write (1-based) of following transactions throws `Error(code)`, once.
    void FailWrite(int n, ErrorCode code) {
        fail_at_ = n;
        code_ = code;
    }
    [[nodiscard]] int writes_seen() const { return writes_; }

    std::unique_ptr<engine::StoreTx> Begin() override;

private:
    class Tx;
    engine::SagaStore& inner_;
    int fail_at_ = 0;
    int writes_ = 0;
    ErrorCode code_ = ErrorCode::kInternal;
};

class FaultyStore::Tx final : public engine::StoreTx {
public:
    Tx(FaultyStore& owner, std::unique_ptr<engine::StoreTx> inner)
        : owner_(owner), inner_(std::move(inner)) {}

    std::optional<engine::SagaRecord> GetSaga(const SagaId& id) override { return inner_->GetSaga(id); }
    std::optional<SagaId> FindByBusinessKey(const std::string& w, const BusinessKey& k) override {
        return inner_->FindByBusinessKey(w, k);
    }
    std::optional<engine::CommandRecord> GetCommand(const MsgId& id) override {
        return inner_->GetCommand(id);
    }
    std::vector<engine::SagaRecord> ListSagas(const engine::SagaFilter& f) override {
        return inner_->ListSagas(f);
    }
    std::vector<engine::CommandRecord> PendingCommands(int limit) override {
        return inner_->PendingCommands(limit);
    }
    std::vector<engine::AttemptRecord> Attempts(const SagaId& id) override {
        return inner_->Attempts(id);
    }
    std::vector<engine::HistoryEvent> History(const SagaId& id) override {
        return inner_->History(id);
    }
    bool InsertSaga(const engine::SagaRecord& s) override {
        Write();
        return inner_->InsertSaga(s);
    }
    void UpdateSaga(const engine::SagaRecord& s, std::int64_t v) override {
        Write();
        inner_->UpdateSaga(s, v);
    }
    void InsertCommand(const engine::CommandRecord& c) override {
        Write();
        inner_->InsertCommand(c);
    }
    void UpdateCommand(const engine::CommandRecord& c) override {
        Write();
        inner_->UpdateCommand(c);
    }
    void InsertAttempt(const engine::AttemptRecord& a) override {
        Write();
        inner_->InsertAttempt(a);
    }
    void AppendHistory(const engine::HistoryEvent& e) override {
        Write();
        inner_->AppendHistory(e);
    }
    void Commit() override { inner_->Commit(); }

private:
    void Write() {
        ++owner_.writes_;
        if (owner_.fail_at_ > 0 && --owner_.fail_at_ == 0) {
            throw Error(owner_.code_, "injected write failure");
        }
    }
    FaultyStore& owner_;
    std::unique_ptr<engine::StoreTx> inner_;
};

inline std::unique_ptr<engine::StoreTx> FaultyStore::Begin() {
    return std::make_unique<Tx>(*this, inner_.Begin());
}

}  // namespace sagaflow::testing
