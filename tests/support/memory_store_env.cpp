#include "memory_store.hpp"
#include "store_env.hpp"

namespace sagaflow::testing {
namespace {

class MemoryEnv final : public StoreEnv {
public:
    std::shared_ptr<engine::SagaStore> Open() override { return store_; }

private:
    std::shared_ptr<engine::MemorySagaStore> store_ = std::make_shared<engine::MemorySagaStore>();
};

}  // namespace

StoreKind MemoryStoreKind() {
    return {"Memory", [] { return std::make_unique<MemoryEnv>(); }, false};
}

}  // namespace sagaflow::testing
