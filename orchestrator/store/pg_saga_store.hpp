// SagaStore on PostgreSQL. Each transaction holds one pooled connection.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "connection.hpp"
#include "saga_store.hpp"

namespace sagaflow::store {

struct PgStoreOptions {
    std::string dsn;
    std::string schema;  ///< Empty: the server's default search_path.
    int max_idle_connections = 4;
    /// Called before a new connection is used; throwing refuses it (LeaderLock fencing).
    std::function<void()> on_connect;
};

/// Thread-safe: transactions on different threads use different connections.
class PgSagaStore final : public engine::SagaStore {
public:
    explicit PgSagaStore(PgStoreOptions options);
    ~PgSagaStore() override;

    [[nodiscard]] std::unique_ptr<engine::StoreTx> Begin() override;

private:
    class Tx;
    std::unique_ptr<pg::Connection> Acquire();
    void Release(std::unique_ptr<pg::Connection> conn);

    PgStoreOptions options_;
    std::mutex mu_;
    std::vector<std::unique_ptr<pg::Connection>> idle_;
};

}  // namespace sagaflow::store
