// The one URL parser of the HTTP client (sagactl's --endpoint, the alert webhook).
#include <gtest/gtest.h>

#include "http/client.hpp"

namespace sagaflow::testing {
namespace {

TEST(HttpUrl, HttpsDefaultsToPort443AndOtherSchemesAreRefused) {
    auto url = http::ParseUrl("https://sagad.internal/base");
    ASSERT_TRUE(url.ok());
    EXPECT_TRUE(url->tls);
    EXPECT_EQ(url->port, 443);
    EXPECT_EQ(url->path, "/base");
    url = http::ParseUrl("http://sagad.internal");
    ASSERT_TRUE(url.ok());
    EXPECT_FALSE(url->tls);
    EXPECT_EQ(url->port, 80);
    EXPECT_FALSE(http::ParseUrl("ftp://sagad.internal").ok());
    EXPECT_FALSE(http::ParseUrl("https://").ok());
}

}  // namespace
}  // namespace sagaflow::testing
