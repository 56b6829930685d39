// libFuzzer target: sagad's HTTP request router and handlers (sagad::Api::Handle) on a
// real node over the in-memory store. The input is "METHOD TARGET\n" then the body; the
// target goes through the server's own decoder (http::ParseTarget). Any request must get
// a status from 200 to 599 and, for an error, a JSON {"code", "message"} body; never a
// crash or an exception.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "api.hpp"
#include "http/message.hpp"
#include "memory_store.hpp"
#include "node.hpp"
#include "order_fulfilment.hpp"
#include "queries.hpp"
#include "telemetry.hpp"

namespace {

struct Fixture {
    Fixture() : node(registry(), store, clock, Options()), queries(store), api(registry(), node, queries, telemetry, {64}) {
        node.Start();
        api.SetActive();
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
    sagaflow::sagad::Telemetry telemetry{"fuzz"};
    sagaflow::runtime::Node node;
    sagaflow::engine::Queries queries;
    sagaflow::sagad::Api api;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Fixture* f = new Fixture();  // lives for the whole run
    const std::string input(reinterpret_cast<const char*>(data), size);
    const std::size_t eol = input.find('\n');
    const std::string line = input.substr(0, eol);
    const std::size_t space = line.find(' ');
    sagaflow::http::Request req;
    req.method = line.substr(0, space);
    const std::string target = space == std::string::npos ? "/" : line.substr(space + 1);
    if (!sagaflow::http::ParseTarget(target, req.path, req.query)) return 0;  // the server answers 400 itself
    req.body = eol == std::string::npos ? "" : input.substr(eol + 1);
    req.headers["content-type"] = "application/json";  // else every POST stops at 415
    const sagaflow::http::Response res = f->api.Handle(req);
    if (res.status < 200 || res.status > 599) std::abort();
    if (res.status >= 400) {
        const auto j = nlohmann::json::parse(res.body, nullptr, false);
        if (!j.is_object() || !j["code"].is_string() || !j["message"].is_string()) std::abort();
    }
    return 0;
}
