// An engine on the memory store under the manual clock, with the fake worker serving every
// queue: the fixture the operator tests share. Register workflows, then `Boot(seed)`.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "engine.hpp"
#include "fake_worker.hpp"
#include "memory_store.hpp"

namespace sagaflow::testing {

class EngineFixture : public ::testing::Test {
protected:
    void Boot(std::uint64_t seed) {
        engine::EngineOptions o;
        o.seed = seed;
        engine_ = std::make_unique<engine::Engine>(registry_, store_, worker_, clock_, o);
        worker_.Attach(*engine_, registry_);
        engine_->Recover();
    }

    /// Hands out, runs and applies until nothing more happens now.
    void Settle() {
        for (int i = 0; i < 200; ++i) {
            if (engine_->Tick() == 0 && worker_.Pump(*engine_) == 0) return;
        }
        FAIL() << "did not settle";
    }

    engine::SagaView View(const SagaId& id) { return engine_->Describe(id).value(); }

    WorkflowRegistry registry_;
    engine::MemorySagaStore store_;
    ManualClock clock_;
    FakeWorker worker_;
    std::unique_ptr<engine::Engine> engine_;
};

}  // namespace sagaflow::testing
