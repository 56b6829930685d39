// libFuzzer target: sagad's admin request path (AdminHandler::Handle) on a real node over
// the in-memory store. Any request must get a well-formed JSON reply, never a crash.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "admin.hpp"
#include "memory_store.hpp"
#include "node.hpp"
#include "order_fulfilment.hpp"
#include "queries.hpp"

namespace {

struct Fixture {
    Fixture() : node(registry(), store, clock, Options()), queries(store), handler(registry(), node, queries, [](auto&, auto&) {}) {
        node.Start();
        handler.SetActive();
    }
    static sagaflow::WorkflowRegistry& registry() {
        static sagaflow::WorkflowRegistry r = [] {
            sagaflow::WorkflowRegistry reg;
            sagaflow::workflows::RegisterAll(reg);
            return reg;
        }();
        return r;
    }
    static sagaflow::runtime::NodeOptions Options() {
        sagaflow::runtime::NodeOptions o;
        o.worker_endpoint = "tcp://127.0.0.1:*";
        return o;
    }
    sagaflow::engine::MemorySagaStore store;
    sagaflow::SystemClock clock;
    sagaflow::runtime::Node node;
    sagaflow::engine::Queries queries;
    sagaflow::sagad::AdminHandler handler;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture* f = new Fixture();  // lives for the whole run
    const std::string reply = f->handler.Handle(std::string(reinterpret_cast<const char*>(data), size));
    const auto j = nlohmann::json::parse(reply, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("ok") || !j["ok"].is_boolean()) std::abort();
    if (!j["ok"].get<bool>() && !j["error"]["code"].is_string()) std::abort();
    return 0;
}
