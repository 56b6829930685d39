// sagad with the benchmark's workflows: bench_1, bench_3 and bench_10, one to ten steps
// on the queue "bench", each with a compensation. Runs like the stock sagad (--help).
#include <string>

#include "sagaflow/daemon.hpp"
#include "sagaflow/workflow/workflow.hpp"

int main(int argc, char** argv) {
    sagaflow::WorkflowRegistry registry;
    for (int steps : {1, 3, 10}) {
        sagaflow::WorkflowBuilder b("bench_" + std::to_string(steps), 1);
        for (int i = 0; i < steps; ++i) {
            b.Step("s" + std::to_string(i), "bench").CompensateWith("undo_s" + std::to_string(i));
        }
        registry.Add(b.Build());
    }
    return sagaflow::RunDaemon(argc, argv, registry);
}
