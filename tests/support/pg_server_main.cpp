// sagaflow-test-pg start|stop DIR: one throw-away PostgreSQL for a whole ctest run.
// ctest runs `start` as a fixture before the integration tests and `stop` after them;
// each test then takes a schema of its own on this server (FreshSchema) instead of
// running initdb in every test process. The DSN is written to DIR/dsn.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>

#include "embedded_cluster.hpp"
#include "sagaflow/core/error.hpp"
#include "test_cluster_options.hpp"

namespace {

using sagaflow::testing::TestClusterOptions;

int Start(const std::string& dir) {
    std::filesystem::remove_all(dir);
    sagaflow::pg::EmbeddedCluster cluster(TestClusterOptions(dir));
    cluster.Start();
    const std::string tmp = dir + "/dsn.tmp";
    {
        std::ofstream out(tmp, std::ios::trunc);
        out << cluster.dsn() << "\n";
        if (!out) throw sagaflow::Error(sagaflow::ErrorCode::kUnavailable, "cannot write " + tmp);
    }
    std::filesystem::rename(tmp, dir + "/dsn");
    cluster.Detach();
    std::cout << "sagaflow-test-pg: up in " << dir << "\n";
    return 0;
}

int Stop(const std::string& dir) {
    if (!std::filesystem::exists(dir + "/data/PG_VERSION")) return 0;
    {
        sagaflow::pg::EmbeddedCluster cluster(TestClusterOptions(dir));
        cluster.Start();  // adopts the running server
        cluster.Stop(true);
    }
    std::filesystem::remove_all(dir);
    std::cout << "sagaflow-test-pg: stopped, " << dir << " removed\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 3 || (std::string(argv[1]) != "start" && std::string(argv[1]) != "stop")) {
        std::cerr << "usage: sagaflow-test-pg start|stop DIR\n";
        return 2;
    }
    try {
        return std::string(argv[1]) == "start" ? Start(argv[2]) : Stop(argv[2]);
    } catch (const std::exception& e) {
        std::cerr << "sagaflow-test-pg: " << e.what() << "\n";
        return 1;
    }
}
