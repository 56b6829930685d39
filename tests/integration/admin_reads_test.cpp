// Admin reads (list, show, graph) go straight to the store on the admin thread (`Queries`),
// so they answer while the engine's loop is busy; writes still go through the loop.
#include <gtest/gtest.h>

#include <future>

#include "admin.hpp"
#include "memory_store.hpp"
#include "node.hpp"
#include "order_fulfilment.hpp"
#include "queries.hpp"

namespace sagaflow::testing {
namespace {

using nlohmann::json;

TEST(AdminReads, ShowListAndGraphAnswerWhileTheEngineLoopIsBusy) {
    WorkflowRegistry registry;
    workflows::RegisterAll(registry);
    engine::MemorySagaStore store;
    SystemClock clock;
    runtime::NodeOptions options;
    options.worker_endpoint = "tcp://127.0.0.1:*";
    runtime::Node node(registry, store, clock, options);
    node.Start();
    engine::Queries queries(store);
    sagad::AdminHandler admin(registry, node, queries, [](const std::string&, const json&) {});
    admin.SetActive();
    const json started = json::parse(admin.Handle(
        R"({"v":1,"op":"start","workflow":"order_fulfilment","input":{"order_id":"o-1","amount":5}})"));
    ASSERT_TRUE(started["ok"].get<bool>()) << started;
    const std::string id = started["result"]["saga_id"];

    // Hold the engine's loop inside a task until the reads are done (bounded either way).
    std::promise<void> entered, release;
    auto released = release.get_future().share();
    auto blocker = std::async(std::launch::async, [&] {
        return node.Submit<int>([&](engine::Engine&, runtime::WorkerLink&) {
            entered.set_value();
            released.wait_for(std::chrono::seconds(30));
            return 0;
        });
    });
    ASSERT_EQ(entered.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
    auto reads = std::async(std::launch::async, [&] {
        return std::vector<json>{
            json::parse(admin.Handle(R"({"v":1,"op":"show","id":")" + id + R"("})")),
            json::parse(admin.Handle(R"({"v":1,"op":"list","limit":5})")),
            json::parse(admin.Handle(R"({"v":1,"op":"graph","workflow":"order_fulfilment","id":")" + id + R"("})")),
        };
    });
    const bool answered = reads.wait_for(std::chrono::seconds(10)) == std::future_status::ready;
    release.set_value();
    EXPECT_EQ(blocker.get(), 0);
    ASSERT_TRUE(answered) << "a read waited behind the engine loop";
    const auto replies = reads.get();
    for (const json& r : replies) EXPECT_TRUE(r["ok"].get<bool>()) << r;
    EXPECT_EQ(replies[0]["result"]["saga"]["id"], id);
    EXPECT_EQ(replies[0]["result"]["nodes"][0]["id"], "reserve_inventory");
    EXPECT_EQ(replies[1]["result"].size(), 1u);
    node.Stop();
}

}  // namespace
}  // namespace sagaflow::testing
