// A user's service that starts sagas: the typed client of sagad's HTTP API, built against
// the public headers only. Places one order and waits (bounded) until its saga ends: one
// await call, which sagad answers when the saga ends (no polling).
//
//     place-order --endpoint http://127.0.0.1:8080 --order o-42 --amount 1200
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <iostream>
#include <thread>

#include "sagaflow/client/client.hpp"

int main(int argc, char** argv) {
    std::string endpoint = "http://127.0.0.1:8080", order = "o-1", customer = "c-1", sku = "sku-book";
    int amount = 1200, wait_s = 30, version = 0;
    CLI::App app{"place-order: start an order_fulfilment saga through sagad's HTTP API"};
    app.add_option("--endpoint", endpoint, "sagad's URL")->capture_default_str();
    app.add_option("--order", order, "order id, also the business key")->capture_default_str();
    app.add_option("--customer", customer)->capture_default_str();
    app.add_option("--sku", sku)->capture_default_str();
    app.add_option("--amount", amount)->check(CLI::Range(1, 100'000'000))->capture_default_str();
    app.add_option("--wait-s", wait_s, "how long to wait for the saga to end")->check(CLI::Range(0, 3600));
    app.add_option("--version", version, "this version of order_fulfilment (default: the latest)")
        ->check(CLI::Range(1, 1000));
    CLI11_PARSE(app, argc, argv);

    sagaflow::client::Client sagad(endpoint);
    const sagaflow::api::StartSaga start{
        "order_fulfilment",
        {{"order_id", order}, {"customer", customer}, {"items", {{{"sku", sku}, {"qty", 1}}}},
         {"amount", amount}, {"region", "north"}},
        order,  // the business key: placing the same order twice gives the same saga
        version > 0 ? std::optional(version) : std::nullopt};
    // Backpressure (resource_exhausted) and a restarting sagad (unavailable) are retried:
    // the business key makes the start safe to repeat.
    auto started = sagad.Start(start);
    for (int attempt = 1; !started.ok() && sagaflow::IsRetryLater(started.code()) && attempt < 5; ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200 << attempt));  // client backoff
        started = sagad.Start(start);
    }
    if (!started.ok()) {
        std::cerr << "place-order: " << sagaflow::ToString(started.code()) << ": " << started.status().message << "\n";
        return 1;
    }
    std::cout << "saga " << started->saga_id.str() << (started->created ? " started" : " (already placed)") << "\n";
    // One await answers when the saga ends; sagad clamps a long one (60 s by default), so
    // the rest of the time is asked for again.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
        auto r = sagad.Await(started->saga_id, std::max(left, std::chrono::milliseconds(0)));
        if (!r.ok()) {
            std::cerr << "place-order: " << sagaflow::ToString(r.code()) << ": " << r.status().message << "\n";
            return 1;
        }
        if (r->done) {
            std::cout << "ended " << sagaflow::ToString(r->status) << (r->reason.empty() ? "" : ": " + r->reason) << "\n";
            return r->status == sagaflow::SagaStatus::kCompleted ? 0 : 3;
        }
        if (!r->clamped || std::chrono::steady_clock::now() >= until) break;
    }
    std::cout << "still running after " << wait_s << " s\n";
    return 4;
}
