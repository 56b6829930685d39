// Reads of sagas straight from the store, on any thread (DESIGN §10, `Queries`): the HTTP
// API's list, show and graph do not queue behind the engine's loop.
#pragma once

#include <optional>
#include <vector>

#include "saga_service.hpp"

namespace sagaflow::engine {

/// Thread-safe as its store is: each call runs its own read-only transaction.
class Queries {
public:
    explicit Queries(SagaStore& store, int max_tx_attempts = 5) : store_(store), max_tx_attempts_(max_tx_attempts) {}

    /// Sagas matching `filter`, newest first.
    [[nodiscard]] std::vector<SagaRecord> List(const SagaFilter& filter);
    /// A saga with its pending items, attempts and history; kNotFound for an unknown id.
    [[nodiscard]] Result<SagaView> Describe(const SagaId& id);
    /// The saga row alone; nullopt for an unknown id.
    [[nodiscard]] std::optional<SagaRecord> Get(const SagaId& id);
    /// One cheap read: ok when the store answers (for /readyz).
    [[nodiscard]] Status Probe();

private:
    SagaStore& store_;
    int max_tx_attempts_;
};

}  // namespace sagaflow::engine
