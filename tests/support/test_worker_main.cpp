// A worker process for crash tests: serves the order queues, writing one row into
// `effects` per command. With --crash-marker PATH, the first handler to run after PATH
// is missing creates it and kills its own process with SIGKILL, after the business write
// and before the commit.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "sagaflow/worker/worker.hpp"

int main(int argc, char** argv) {
    sagaflow::worker::WorkerOptions o;
    std::string crash_marker;
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string k = argv[i], v = argv[i + 1];
        if (k == "--endpoint") o.endpoint = v;
        else if (k == "--id") o.worker_id = v;
        else if (k == "--dsn") o.dsn = v;
        else if (k == "--schema") o.schema = v;
        else if (k == "--crash-marker") crash_marker = v;
        else {
            std::fprintf(stderr, "unknown option %s\n", k.c_str());
            return 2;
        }
    }
    o.heartbeat_interval = std::chrono::milliseconds(100);
    o.reply_resend_interval = std::chrono::milliseconds(300);
    sagaflow::worker::Worker w(o);
    auto handler = [&](sagaflow::worker::StepContext& ctx) {
        ctx.tx().Exec(
            "INSERT INTO effects (saga_id, step_index, phase, action, msg_id)"
            " VALUES ($1::uuid, $2::int, $3::smallint, $4, $5::uuid)",
            {ctx.saga_id(), std::to_string(ctx.step_index()),
             std::to_string(static_cast<int>(ctx.phase())), ctx.action(), ctx.msg_id()});
        if (!crash_marker.empty() && !std::filesystem::exists(crash_marker)) {
            std::ofstream(crash_marker) << ctx.msg_id().str();
            kill(getpid(), SIGKILL);  // inside the handler: the transaction never commits
        }
        return sagaflow::worker::StepResult::Ok();
    };
    for (const char* q : {"inventory", "payment", "logistics"}) w.Register(q, handler);
    w.Run();
    return 0;
}
