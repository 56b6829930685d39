// Engine scenarios: the saga engine end to end with a fake worker, against each store.
#pragma once

#include <gtest/gtest.h>

#include "engine.hpp"
#include "fake_worker.hpp"
#include "store_env.hpp"

namespace sagaflow::testing {

class EngineScenario : public ::testing::TestWithParam<StoreKind> {
protected:
    EngineScenario();
    void SetUp() override;

    /// A new engine on a new store handle: what a restarted process gets; with
    /// `registry`, one deployed with other workflows (it must outlive the engine).
    void Restart(const WorkflowRegistry* registry = nullptr);
    /// Ticks and pumps until nothing moves (bounded); returns the rounds it took.
    int RunUntilQuiet(int max_rounds = 100);
    /// An order_fulfilment saga of `version`; `input` null: a small default order.
    SagaId StartOrder(const std::string& key = {}, int version = 1, nlohmann::json input = nullptr);
    engine::SagaRecord Saga(const SagaId& id);
    std::vector<std::string> HistoryKinds(const SagaId& id);
    int PendingCount();

    WorkflowRegistry registry_;
    ManualClock clock_;
    FakeWorker worker_;
    std::unique_ptr<StoreEnv> env_;
    std::shared_ptr<engine::SagaStore> store_;
    std::unique_ptr<engine::Engine> engine_;
};

}  // namespace sagaflow::testing
