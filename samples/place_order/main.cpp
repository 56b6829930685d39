// A user's service that starts sagas: the typed client of sagad's HTTP API, built against
// the public headers only. Places one order and waits (bounded) until its saga ends.
//
//     place-order --endpoint http://127.0.0.1:8080 --order o-42 --amount 1200
#include <CLI/CLI.hpp>
#include <chrono>
#include <iostream>
#include <thread>

#include "sagaflow/client/client.hpp"

int main(int argc, char** argv) {
    std::string endpoint = "http://127.0.0.1:8080", order = "o-1", customer = "c-1", sku = "sku-book";
    int amount = 1200, wait_s = 30;
    CLI::App app{"place-order: start an order_fulfilment saga through sagad's HTTP API"};
    app.add_option("--endpoint", endpoint, "sagad's URL")->capture_default_str();
    app.add_option("--order", order, "order id, also the business key")->capture_default_str();
    app.add_option("--customer", customer)->capture_default_str();
    app.add_option("--sku", sku)->capture_default_str();
    app.add_option("--amount", amount)->check(CLI::Range(1, 100'000'000))->capture_default_str();
    app.add_option("--wait-s", wait_s, "how long to wait for the saga to end")->check(CLI::Range(0, 3600));
    CLI11_PARSE(app, argc, argv);

    sagaflow::client::Client sagad(endpoint);
    const sagaflow::api::StartSaga start{
        "order_fulfilment",
        {{"order_id", order}, {"customer", customer}, {"items", {{{"sku", sku}, {"qty", 1}}}},
         {"amount", amount}, {"region", "north"}},
        order,  // the business key: placing the same order twice gives the same saga
        std::nullopt};
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
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(wait_s);
    while (std::chrono::steady_clock::now() < until) {
        auto saga = sagad.Show(started->saga_id);
        if (saga.ok() && sagaflow::IsTerminal(saga->saga.status)) {
            std::cout << "ended " << sagaflow::ToString(saga->saga.status)
                      << (saga->saga.reason.empty() ? "" : ": " + saga->saga.reason) << "\n";
            return saga->saga.status == sagaflow::SagaStatus::kCompleted ? 0 : 3;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(200));  // polling an external condition
    }
    std::cout << "still running after " << wait_s << " s\n";
    return 4;
}
