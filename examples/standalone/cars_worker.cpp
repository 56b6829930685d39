// The cars service as a process: flags, signals, its tables, its handlers.
#include "sagaflow/worker/main.hpp"
#include "services.hpp"

int main(int argc, char** argv) {
    sagaflow::worker::Service s;
    s.name = "cars";
    s.schema_sql = trip::kCarsSchema;
    s.setup = [](sagaflow::worker::Worker& w, const sagaflow::worker::WorkerOptions&) { trip::ServeCars(w); };
    return sagaflow::worker::Main(argc, argv, s);
}
