// sagad with the benchmark's workflows: bench_1, bench_3 and bench_10, one to ten steps
// on the queue "bench", each with a compensation, and bench_w5 (three steps, a timer, a
// signal wait). Runs like the stock sagad (--help).
#include <chrono>
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
    // W5: three steps, a 100 ms timer after the first, and a signal the driver sends
    // before the last (a bound on the wait, so that no saga outlives a lost signal).
    registry.Add(sagaflow::WorkflowBuilder("bench_w5", 1)
                     .Step("s0", "bench").CompensateWith("undo_s0")
                     .Sleep("pause", std::chrono::milliseconds(100))
                     .Step("s1", "bench").CompensateWith("undo_s1")
                     .AwaitSignal("go").Deadline(std::chrono::seconds(60))
                     .Step("s2", "bench").CompensateWith("undo_s2")
                     .Build());
    return sagaflow::RunDaemon(argc, argv, registry);
}
