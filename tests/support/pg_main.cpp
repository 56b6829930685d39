// main() of the test binaries that need PostgreSQL.
#include <gtest/gtest.h>

#include "pg_cluster.hpp"

int main(int argc, char** argv) {
    ::testing::InitGoogleTest(&argc, argv);
    ::testing::AddGlobalTestEnvironment(new sagaflow::testing::PgEnvironment);
    return RUN_ALL_TESTS();
}
