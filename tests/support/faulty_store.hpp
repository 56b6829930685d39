// A SagaStore decorator that fails the n-th write of the next transaction, for proving
// that a unit of work commits whole or not at all; and that makes the next commit's outcome
// unknown to its caller (`CommitInDoubt`), whether it landed or not.
#pragma once

#include <memory>
#include <utility>

#include "sagaflow/core/error.hpp"
#include "forwarding_tx.hpp"
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
    /// The next commit throws `CommitInDoubt`: after committing when `lands`, instead of
    /// committing (rolled back) otherwise.
    void DoubtNextCommit(bool lands) { doubt_ = lands ? Doubt::kLands : Doubt::kLost; }
    [[nodiscard]] int writes_seen() const { return writes_; }
    [[nodiscard]] int commits_seen() const { return commits_; }

    std::unique_ptr<engine::StoreTx> Begin() override;

private:
    class Tx;
    engine::SagaStore& inner_;
    enum class Doubt { kNone, kLands, kLost };
    int fail_at_ = 0;
    int writes_ = 0;
    int commits_ = 0;
    Doubt doubt_ = Doubt::kNone;
    ErrorCode code_ = ErrorCode::kInternal;
};

class FaultyStore::Tx final : public ForwardingTx {
public:
    Tx(FaultyStore& owner, std::unique_ptr<engine::StoreTx> inner)
        : ForwardingTx(std::move(inner)), owner_(owner) {}

    bool InsertSaga(const engine::SagaRecord& s) override {
        Write();
        return ForwardingTx::InsertSaga(s);
    }
    void UpdateSaga(const engine::SagaRecord& s, std::int64_t v) override {
        Write();
        ForwardingTx::UpdateSaga(s, v);
    }
    void InsertPending(const engine::PendingRecord& p) override {
        Write();
        ForwardingTx::InsertPending(p);
    }
    void UpdatePending(const engine::PendingRecord& p) override {
        Write();
        ForwardingTx::UpdatePending(p);
    }
    void DeletePending(const engine::PendingRecord& p) override {
        Write();
        ForwardingTx::DeletePending(p);
    }
    void AppendHistory(const engine::HistoryEvent& e) override {
        Write();
        ForwardingTx::AppendHistory(e);
    }
    void Commit() override {
        ++owner_.commits_;
        const Doubt doubt = std::exchange(owner_.doubt_, Doubt::kNone);
        if (doubt == Doubt::kLost) throw CommitInDoubt("injected: connection lost before COMMIT reached the server");
        ForwardingTx::Commit();
        if (doubt == Doubt::kLands) throw CommitInDoubt("injected: connection lost after COMMIT, before its answer");
    }

private:
    void Write() {
        ++owner_.writes_;
        if (owner_.fail_at_ > 0 && --owner_.fail_at_ == 0) {
            throw Error(owner_.code_, "injected write failure");
        }
    }
    FaultyStore& owner_;
};

inline std::unique_ptr<engine::StoreTx> FaultyStore::Begin() {
    return std::make_unique<Tx>(*this, inner_.Begin());
}

}  // namespace sagaflow::testing
