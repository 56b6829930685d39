#include "service.hpp"

#include <libpq-fe.h>
#include <signal.h>

#include <cstdio>
#include <cstdlib>
#include <thread>

namespace sample {
namespace {
sagaflow::worker::Worker* g_worker = nullptr;
void OnSignal(int) {
    if (g_worker != nullptr) g_worker->Stop();  // sets an atomic flag: async-signal-safe
}
}  // namespace

long long Int(const nlohmann::json& j, const char* key) {
    if (!j.contains(key) || !j.at(key).is_number_integer()) {
        throw std::invalid_argument(std::string("order field '") + key + "' must be an integer");
    }
    return j.at(key).get<long long>();
}

int RunService(int argc, char** argv, const std::string& name, const std::string& queue,
               const std::string& schema_sql, sagaflow::worker::Handler handler) {
    sagaflow::worker::WorkerOptions o;
    o.worker_id = name + "-1";
    o.capacity = 32;
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--help") {
            std::printf("usage: %s --dsn DSN [--endpoint tcp://127.0.0.1:5555] [--id ID] [--capacity N]\n", argv[0]);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "%s: %s needs a value\n", argv[0], k.c_str());
            return 2;
        }
        const std::string v = argv[++i];
        if (k == "--endpoint") o.endpoint = v;
        else if (k == "--dsn") o.dsn = v;
        else if (k == "--id") o.worker_id = v;
        else if (k == "--capacity") o.capacity = std::atoi(v.c_str());
        else {
            std::fprintf(stderr, "%s: unknown option %s\n", argv[0], k.c_str());
            return 2;
        }
    }
    if (o.dsn.empty() || o.capacity < 1) {
        std::fprintf(stderr, "%s: --dsn is required and --capacity must be >= 1\n", argv[0]);
        return 2;
    }
    // The service's own tables, in its own schema; retried while the database starts.
    for (int attempt = 1;; ++attempt) {
        PGconn* c = PQconnectdb(o.dsn.c_str());
        if (PQstatus(c) == CONNECTION_OK) {
            PGresult* r = PQexec(c, schema_sql.c_str());
            const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
            if (!ok) std::fprintf(stderr, "%s: schema: %s", argv[0], PQerrorMessage(c));
            PQclear(r);
            PQfinish(c);
            if (!ok) return 1;
            break;
        }
        std::fprintf(stderr, "%s: database not reachable yet: %s", argv[0], PQerrorMessage(c));
        PQfinish(c);
        if (attempt == 30) return 1;
        std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));  // start-up backoff
    }
    sagaflow::worker::Worker w(o);
    w.Register(queue, std::move(handler));
    g_worker = &w;
    signal(SIGTERM, OnSignal);
    signal(SIGINT, OnSignal);
    std::fprintf(stderr, "%s: serving queue '%s' as %s on %s\n", argv[0], queue.c_str(), o.worker_id.c_str(),
                 o.endpoint.c_str());
    w.Run();
    return 0;
}

}  // namespace sample
