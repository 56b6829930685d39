// The travel service as a process: more handler threads, since it serves two queues.
#include "sagaflow/worker/main.hpp"
#include "services.hpp"

int main(int argc, char** argv) {
    sagaflow::worker::Service s;
    s.name = "travel";
    s.default_capacity = 8;
    s.schema_sql = trip::kTravelSchema;
    s.setup = [](sagaflow::worker::Worker& w, const sagaflow::worker::WorkerOptions&) { trip::ServeTravel(w); };
    return sagaflow::worker::Main(argc, argv, s);
}
