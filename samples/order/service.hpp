// Shared by the order sample's services: sagaflow::worker::Main, with the fault knobs of
// scripts/faults and the effects ledger it audits.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "sagaflow/worker/worker.hpp"

namespace sample {

/// One service of the order demo: its name (also its schema), its tables, and the
/// registrations of its handlers, served by its process (RunService) and tested by the
/// test kit (tests/unit/order_sample_kit_test.cpp).
struct ServiceDef {
    std::string name;
    std::string schema_sql;
    std::function<void(sagaflow::worker::Handlers&)> serve;
};
ServiceDef InventoryService();
ServiceDef PaymentService();
ServiceDef LogisticsService();
ServiceDef RiskService();
ServiceDef BillingService();

/// sagaflow::worker::Main for the service named `name`: the standard flags plus the fault
/// knobs, its DDL plus its effects ledger, each handler wrapped with the faults and the
/// ledger. An unknown name exits 2.
int RunService(int argc, char** argv, std::string_view name);

/// An integer field of a JSON object, or throws std::invalid_argument, which the services'
/// handlers declare permanent (MalformedIsPermanent): a malformed order fails for good at
/// once rather than being retried.
long long Int(const nlohmann::json& j, const char* key);

/// The options every handler of the sample is registered with.
sagaflow::worker::HandlerOptions MalformedIsPermanent();

}  // namespace sample
