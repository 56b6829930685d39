// sagaflow-webhook-sink: a local HTTP receiver for the alert hook's tests. Appends each
// POSTed body as one line to --out and answers 200; the first --fail-first POSTs get 503
// (to see sagad retry). Prints "listening http://127.0.0.1:PORT" once it serves; runs
// until SIGTERM or SIGINT.
#include <signal.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <mutex>

#include "http/server.hpp"

int main(int argc, char** argv) {
    std::string listen = "127.0.0.1:0", out;
    int fail_first = 0;
    CLI::App app{"sagaflow-webhook-sink: record the POSTs a webhook receives"};
    app.add_option("--listen", listen, "host:port (port 0: any free one)")->capture_default_str();
    app.add_option("--out", out, "append each body here, one per line")->required();
    app.add_option("--fail-first", fail_first, "answer 503 to this many POSTs first")->check(CLI::Range(0, 1000));
    CLI11_PARSE(app, argc, argv);

    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);  // before the server's threads start

    std::mutex mu;
    std::ofstream file(out, std::ios::app);
    std::atomic<int> failed{0};
    sagaflow::http::ServerOptions o;
    o.host = listen.substr(0, listen.rfind(':'));
    o.port = static_cast<std::uint16_t>(std::stoi(listen.substr(listen.rfind(':') + 1)));
    sagaflow::http::Server server(
        [&](const sagaflow::http::Request& r) {
            if (r.method != "POST") return sagaflow::http::JsonError(sagaflow::ErrorCode::kNotFound, "POST only");
            if (failed.fetch_add(1) < fail_first) {
                return sagaflow::http::JsonError(sagaflow::ErrorCode::kUnavailable, "failing on purpose");
            }
            std::lock_guard lock(mu);
            file << r.body << "\n" << std::flush;
            return sagaflow::http::Json(200, "{}");
        },
        o);
    try {
        std::printf("listening http://%s\n", server.Start().c_str());
        std::fflush(stdout);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sagaflow-webhook-sink: %s\n", e.what());
        return 1;
    }
    int sig = 0;
    sigwait(&set, &sig);
    server.Stop();
    return 0;
}
