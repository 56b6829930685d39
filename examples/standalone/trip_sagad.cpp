// sagad with the trip workflow: the same flags as the stock sagad (--help).
#include "sagaflow/daemon.hpp"
#include "trip_workflow.hpp"

int main(int argc, char** argv) {
    sagaflow::WorkflowRegistry registry;
    trip::Register(registry);
    return sagaflow::RunDaemon(argc, argv, registry);
}
