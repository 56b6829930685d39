// The benchmark's worker: serves the queue "bench". Each step or compensation inserts one
// row into bench.rows in the worker's transaction (beside the inbox row); a forward step
// whose index equals the input's "fail_at" fails for good instead.
#include <libpq-fe.h>
#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "sagaflow/core/numbers.hpp"
#include "sagaflow/worker/worker.hpp"

namespace {
sagaflow::worker::Worker* g_worker = nullptr;
void OnSignal(int) {
    if (g_worker != nullptr) g_worker->Stop();
}
const char* kSchema =
    "CREATE SCHEMA IF NOT EXISTS bench;"
    "CREATE TABLE IF NOT EXISTS bench.rows (saga_id uuid NOT NULL, step_index int NOT NULL,"
    " phase smallint NOT NULL, at timestamptz NOT NULL DEFAULT now());";
}  // namespace

int main(int argc, char** argv) {
    sagaflow::worker::WorkerOptions o;
    o.worker_id = "bench-1";
    o.capacity = 128;
    o.threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--endpoint") o.endpoint = v;
        else if (k == "--dsn") o.dsn = v;
        else if (k == "--id") o.worker_id = v;
        else if (k == "--capacity") o.capacity = std::atoi(v.c_str());
        else if (k == "--threads") o.threads = std::atoi(v.c_str());
        else if (k == "--max-batch") o.max_batch = std::atoi(v.c_str());
        else if (k == "--key-file") o.key_file = v;
        else if (k == "--server-key-file") o.server_key_file = v;
        else if (k == "--inbox-retention" && sagaflow::ParseDuration(v)) {
            o.inbox_retention = *sagaflow::ParseDuration(v);
            o.inbox_retention_interval = std::min(o.inbox_retention / 4, o.inbox_retention_interval);
        } else {
            std::fprintf(stderr, "bench-worker: unknown option %s\n", k.c_str());
            return 2;
        }
    }
    if (argc % 2 == 0 || o.dsn.empty() || o.capacity < 1 || o.threads < 1 || o.max_batch < 1) {
        std::fprintf(stderr,
                     "usage: bench-worker --dsn DSN [--endpoint E] [--id ID] [--capacity N] [--threads N] [--max-batch N]\n"
                     "       [--key-file F --server-key-file F] [--inbox-retention DURATION]\n");
        return 2;
    }
    PGconn* c = PQconnectdb(o.dsn.c_str());
    PGresult* r = PQexec(c, (std::string("SELECT pg_advisory_xact_lock(hashtext('bench schema'));") + kSchema).c_str());
    const bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok) std::fprintf(stderr, "bench-worker: schema: %s", PQerrorMessage(c));
    PQclear(r);
    PQfinish(c);
    if (!ok) return 1;

    sagaflow::worker::Worker w(o);
    w.Register("bench", [](sagaflow::worker::StepContext& ctx) {
        if (ctx.phase() == sagaflow::Phase::kForward && ctx.input().value("fail_at", -1) == ctx.step_index()) {
            return sagaflow::worker::StepResult::Fail("planned failure at step " + std::to_string(ctx.step_index()));
        }
        ctx.tx().Exec("INSERT INTO bench.rows (saga_id, step_index, phase) VALUES ($1::uuid, $2::int, $3::smallint)",
                      {ctx.saga_id(), std::to_string(ctx.step_index()), std::to_string(static_cast<int>(ctx.phase()))});
        return sagaflow::worker::StepResult::Ok();
    });
    g_worker = &w;
    signal(SIGTERM, OnSignal);
    signal(SIGINT, OnSignal);
    w.Run();
    return 0;
}
