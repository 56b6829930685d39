// Real sockets and real PostgreSQL: a node (engine + dispatcher + ROUTER) on one
// schema, workers on another schema holding their business table and inbox.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "node.hpp"
#include "pg_cluster.hpp"
#include "pg_saga_store.hpp"
#include "sagaflow/worker/worker.hpp"

namespace sagaflow::testing {

/// A worker in a thread of this process. Every handler inserts one row into `effects`
/// (its business effect) through the step transaction. Input {"fail": "<action>"} makes
/// that action fail for good.
class ThreadWorker {
public:
    /// Runs inside the handler after its effect is written, before commit (a hang, say).
    using Hook = std::function<void(worker::StepContext&)>;
    ThreadWorker(const std::string& endpoint, const std::string& id, const FreshSchema& db,
                 std::vector<std::string> queues, int capacity = 4, int max_batch = 32, Hook hook = {});
    ~ThreadWorker();
    void Stop();
    worker::Worker& worker() { return *worker_; }

private:
    std::unique_ptr<worker::Worker> worker_;
    std::thread thread_;
};

class MessagingTest : public ::testing::Test {
protected:
    MessagingTest();
    ~MessagingTest() override;

    /// Starts the node; returns the worker endpoint.
    std::string StartNode();
    /// Starts `count` sagas of the fast order workflow; input per saga from `input(i)`.
    std::vector<SagaId> StartSagas(int count, const std::function<nlohmann::json(int)>& input);
    /// Waits (bounded) until every saga is completed or compensated.
    void WaitTerminal(const std::vector<SagaId>& ids, std::chrono::seconds limit = std::chrono::seconds(60));
    SagaStatus StatusOf(const SagaId& id);
    /// Business effects per (saga, step, phase), and the most any key has.
    std::int64_t Effects(const std::string& where = "true");
    std::int64_t MaxEffectsPerKey();
    runtime::LinkCounters Counters();

    FreshSchema orchestrator_db_;
    FreshSchema worker_db_;
    WorkflowRegistry registry_;
    SystemClock clock_;
    std::unique_ptr<store::PgSagaStore> store_;
    /// Counts the orchestrator's committed transactions (the node uses it).
    class CountingStore;
    std::unique_ptr<CountingStore> counting_;
    std::int64_t OrchestratorCommits();
    std::unique_ptr<runtime::Node> node_;
};

}  // namespace sagaflow::testing
