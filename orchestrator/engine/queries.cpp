#include "queries.hpp"

namespace sagaflow::engine {

template <class Fn>
void Queries::Read(Fn read) {
    for (int attempt = 1;; ++attempt) {
        try {
            auto tx = store_.Begin();
            read(*tx);
            return;  // nothing written: rolled back by the destructor
        } catch (const Error& e) {
            if (!IsRetryable(e.code()) || attempt >= max_tx_attempts_) throw;
        }
    }
}

std::vector<SagaRecord> Queries::List(const SagaFilter& filter) {
    std::vector<SagaRecord> out;
    Read([&](StoreTx& tx) { out = tx.ListSagas(filter); });
    return out;
}

Result<SagaView> Queries::Describe(const SagaId& id) {
    std::optional<SagaView> view;
    Read([&](StoreTx& tx) {
        view.reset();
        auto saga = tx.GetSaga(id);
        if (!saga) return;
        auto history = tx.History(id);
        view = SagaView{*saga, tx.PendingOf(id), AttemptsFrom(history), std::move(history)};
    });
    if (!view) return Status{ErrorCode::kNotFound, "no saga " + id.str()};
    return *std::move(view);
}

}  // namespace sagaflow::engine
