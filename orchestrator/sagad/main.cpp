// The stock sagad: serves the workflows in workflows/.
#include "order_fulfilment.hpp"
#include "sagaflow/core/error.hpp"
#include "sagaflow/daemon.hpp"

#include <iostream>

int main(int argc, char** argv) {
    sagaflow::WorkflowRegistry registry;
    try {
        sagaflow::workflows::RegisterAll(registry, sagaflow::workflows::OrderOptionsFromEnv());
    } catch (const sagaflow::Error& e) {
        std::cerr << "sagad: " << e.what() << "\n";
        return 2;
    }
    return sagaflow::RunDaemon(argc, argv, registry);
}
