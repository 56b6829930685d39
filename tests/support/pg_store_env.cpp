#include "pg_store_env.hpp"

#include "pg_cluster.hpp"
#include "pg_saga_store.hpp"

namespace sagaflow::testing {
namespace {

class PgEnv final : public StoreEnv {
public:
    std::shared_ptr<engine::SagaStore> Open() override {
        return std::make_shared<store::PgSagaStore>(
            store::PgStoreOptions{schema_.dsn(), schema_.name(), 4, {}});
    }

private:
    FreshSchema schema_;
};

}  // namespace

StoreKind PgStoreKind() {
    return {"Postgres", [] { return std::make_unique<PgEnv>(); }};
}

}  // namespace sagaflow::testing
