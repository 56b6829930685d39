// Real sockets and real PostgreSQL: a node (engine + dispatcher + ROUTER) on one
// schema, workers on another schema holding their business table and inbox.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <optional>
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
    /// CURVE: the worker's .secret file and sagad's .pub file (both empty: plain).
    struct Keys {
        std::string key_file, server_key_file;
    };
    ThreadWorker(const std::string& endpoint, const std::string& id, const FreshSchema& db,
                 std::vector<std::string> queues, int capacity = 4, int max_batch = 32, Hook hook = {},
                 Keys keys = {});
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

    /// Starts the node (with CURVE when `curve` is set); returns the worker endpoint.
    std::string StartNode(std::optional<runtime::WorkerCurve> curve = std::nullopt);
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
