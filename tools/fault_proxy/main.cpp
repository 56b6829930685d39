// sagaflow-fault-proxy: the fault proxy as a process, for fault runs with real workers.
// Workers connect to --listen; the proxy connects to sagad's worker endpoint (--upstream).
// On SIGTERM/SIGINT it stops and prints its counters as one JSON line on stdout; with
// --stats-file it also rewrites them there every second (a SIGKILL loses at most that).
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>

#include "fault_proxy.hpp"
#include "keys.hpp"

namespace {

volatile sig_atomic_t g_stop = 0;
void OnSignal(int) { g_stop = 1; }

const char* kUsage =
    "usage: sagaflow-fault-proxy --listen ENDPOINT --upstream ENDPOINT [faults]\n"
    "  --drop P          probability a command, reply or ack is lost (both ways)\n"
    "  --dup P           probability it is delivered twice (both ways)\n"
    "  --delay P         probability it is held back for 1..--max-delay-ms ms\n"
    "  --max-delay-ms N  longest delay (default 200)\n"
    "  --reorder P       probability it is held until the next message to that peer passes it\n"
    "  --seed N          random seed (default 1)\n"
    "  --stats-file F    rewrite the counters to F every second\n"
    "  --key-file F      CURVE toward sagad: the proxy's secret key file...\n"
    "  --server-key-file F  ...and sagad's public key file\n";

bool Probability(const std::string& text, double& out) {
    try {
        std::size_t used = 0;
        out = std::stod(text, &used);
        return used == text.size() && out >= 0.0 && out <= 1.0;
    } catch (const std::exception&) {
        return false;
    }
}

std::string CountersJson(const sagaflow::tools::FaultCounters& c) {
    char buf[256];
    std::snprintf(buf, sizeof buf,
                  R"({"commands":%llu,"replies":%llu,"dropped":%llu,"duplicated":%llu,"delayed":%llu,"reordered":%llu})",
                  static_cast<unsigned long long>(c.commands.load()), static_cast<unsigned long long>(c.replies.load()),
                  static_cast<unsigned long long>(c.dropped.load()), static_cast<unsigned long long>(c.duplicated.load()),
                  static_cast<unsigned long long>(c.delayed.load()), static_cast<unsigned long long>(c.reordered.load()));
    return buf;
}

}  // namespace

int main(int argc, char** argv) {
    std::string listen, upstream, stats_file, key_file, server_key_file;
    sagaflow::tools::FaultOptions o;
    o.max_delay = std::chrono::milliseconds(200);
    for (int i = 1; i < argc; ++i) {
        const std::string k = argv[i];
        if (k == "--help") {
            std::fputs(kUsage, stdout);
            return 0;
        }
        if (i + 1 >= argc) {
            std::fprintf(stderr, "sagaflow-fault-proxy: %s needs a value\n%s", k.c_str(), kUsage);
            return 2;
        }
        const std::string v = argv[++i];
        bool ok = true;
        double p = 0;
        if (k == "--listen") listen = v;
        else if (k == "--key-file") key_file = v;
        else if (k == "--server-key-file") server_key_file = v;
        else if (k == "--upstream") upstream = v;
        else if (k == "--stats-file") stats_file = v;
        else if (k == "--drop") ok = Probability(v, p), o.drop_to_worker = o.drop_to_sagad = p;
        else if (k == "--dup") ok = Probability(v, p), o.dup_to_worker = o.dup_to_sagad = p;
        else if (k == "--delay") ok = Probability(v, o.delay);
        else if (k == "--reorder") ok = Probability(v, o.reorder);
        else if (k == "--max-delay-ms" || k == "--seed") {
            try {
                std::size_t used = 0;
                const long long n = std::stoll(v, &used);
                ok = used == v.size() && n >= 0;
                if (k == "--seed") o.seed = static_cast<std::uint64_t>(n);
                else o.max_delay = std::chrono::milliseconds(n);
            } catch (const std::exception&) {
                ok = false;
            }
        } else {
            std::fprintf(stderr, "sagaflow-fault-proxy: unknown option %s\n%s", k.c_str(), kUsage);
            return 2;
        }
        if (!ok) {
            std::fprintf(stderr, "sagaflow-fault-proxy: bad value '%s' for %s\n", v.c_str(), k.c_str());
            return 2;
        }
    }
    if (listen.empty() || upstream.empty()) {
        std::fprintf(stderr, "sagaflow-fault-proxy: --listen and --upstream are required\n%s", kUsage);
        return 2;
    }
    if (o.drop_to_worker + o.dup_to_worker > 1.0 || o.delay + o.reorder > 1.0) {
        std::fprintf(stderr, "sagaflow-fault-proxy: drop+dup and delay+reorder must each be <= 1\n");
        return 2;
    }
    signal(SIGTERM, OnSignal);
    signal(SIGINT, OnSignal);
    if (!key_file.empty()) {
        auto keys = sagaflow::security::LoadClientKeys(key_file, server_key_file);
        if (!keys.ok()) {
            std::fprintf(stderr, "sagaflow-fault-proxy: %s\n", keys.status().message.c_str());
            return 2;
        }
        o.upstream_curve = *keys;
    }
    sagaflow::tools::FaultProxy proxy(upstream, o);
    try {
        std::fprintf(stderr, "sagaflow-fault-proxy: %s -> %s\n", proxy.Start(listen).c_str(), upstream.c_str());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "sagaflow-fault-proxy: %s\n", e.what());
        return 1;
    }
    auto write_stats = [&] {
        if (stats_file.empty()) return;
        const std::string tmp = stats_file + ".tmp";
        std::ofstream(tmp) << CountersJson(proxy.counters()) << "\n";
        std::rename(tmp.c_str(), stats_file.c_str());
    };
    auto last = std::chrono::steady_clock::now();
    while (g_stop == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // polls a signal flag; not synchronisation
        if (std::chrono::steady_clock::now() - last >= std::chrono::seconds(1)) {
            write_stats();
            last = std::chrono::steady_clock::now();
        }
    }
    proxy.Stop();
    write_stats();
    std::printf("%s\n", CountersJson(proxy.counters()).c_str());
    return 0;
}
