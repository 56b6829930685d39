#include "queries.hpp"

namespace sagaflow::engine {

std::vector<SagaRecord> Queries::List(const SagaFilter& filter) {
    std::vector<SagaRecord> out;
    ReadTx(store_, max_tx_attempts_, [&](StoreTx& tx) { out = tx.ListSagas(filter); });
    return out;
}

Result<SagaView> Queries::Describe(const SagaId& id) {
    std::optional<SagaView> view;
    ReadTx(store_, max_tx_attempts_, [&](StoreTx& tx) {
        view.reset();
        auto saga = tx.GetSaga(id);
        if (!saga) return;
        auto history = tx.History(id);
        view = SagaView{*saga, tx.PendingOf(id), AttemptsFrom(history), std::move(history), tx.SignalsOf(id)};
    });
    if (!view) return Status{ErrorCode::kNotFound, "no saga " + id.str()};
    return *std::move(view);
}

std::optional<SagaRecord> Queries::Get(const SagaId& id) {
    std::optional<SagaRecord> saga;
    ReadTx(store_, max_tx_attempts_, [&](StoreTx& tx) { saga = tx.GetSaga(id); });
    return saga;
}

Status Queries::Probe() {
    try {
        SagaFilter one;
        one.limit = 1;
        ReadTx(store_, 1, [&](StoreTx& tx) { (void)tx.ListSagas(one); });
        return {};
    } catch (const std::exception& e) {
        return {ErrorCode::kUnavailable, e.what()};
    }
}

}  // namespace sagaflow::engine
