// sagaflow-jsonl-check FILE...: every line of every file must be one JSON object with
// "ts", "level" and "event" (the logger's JSON mode). Prints "N lines ok", or the first
// bad line and exits 1. Used by the e2e tests on real processes' logs.
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::cerr << "usage: sagaflow-jsonl-check FILE...\n";
        return 2;
    }
    long lines = 0;
    for (int i = 1; i < argc; ++i) {
        std::ifstream in(argv[i]);
        if (!in) {
            std::cerr << "cannot read " << argv[i] << "\n";
            return 1;
        }
        std::string line;
        for (long n = 1; std::getline(in, line); ++n, ++lines) {
            const auto j = nlohmann::json::parse(line, nullptr, false);
            if (j.is_discarded() || !j.is_object() || !j.contains("ts") || !j.contains("level") ||
                !j.contains("event")) {
                std::cerr << argv[i] << ":" << n << ": not a JSON log line: " << line.substr(0, 300) << "\n";
                return 1;
            }
        }
    }
    std::cout << lines << " lines ok\n";
    return 0;
}
