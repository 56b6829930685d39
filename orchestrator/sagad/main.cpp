// The stock sagad: serves the workflows in workflows/.
#include "order_fulfilment.hpp"
#include "sagaflow/daemon.hpp"

int main(int argc, char** argv) {
    sagaflow::WorkflowRegistry registry;
    sagaflow::workflows::RegisterAll(registry);
    return sagaflow::RunDaemon(argc, argv, registry);
}
