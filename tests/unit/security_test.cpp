// The security vocabulary: allow-list and tokens files, key files, fingerprints.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "allow_list.hpp"
#include "curve.hpp"
#include "keys.hpp"
#include "tokens.hpp"

namespace sagaflow::testing {
namespace {

using security::AllowList;
using security::Role;
using security::TokenSet;

TEST(AllowList, EachKeyServesItsQueuesAndAStarServesAny) {
    const auto a = transport::NewCurveKeyPair(), b = transport::NewCurveKeyPair();
    const std::string text = "# name key queues\n\n  inventory-1  " + a.public_key + "  inventory,stock\n" +
                             "ops\t" + b.public_key + "\t*\n";
    auto list = AllowList::Parse(text, "keys");
    ASSERT_TRUE(list.ok()) << list.status().message;
    EXPECT_EQ(list->size(), 2u);
    const auto* g = list->Find(a.public_key);
    ASSERT_NE(g, nullptr);
    EXPECT_EQ(g->name, "inventory-1");
    EXPECT_TRUE(g->Serves("inventory"));
    EXPECT_TRUE(g->Serves("stock"));
    EXPECT_FALSE(g->Serves("payment"));
    EXPECT_EQ(g->fingerprint, security::Fingerprint(a.public_key));
    EXPECT_TRUE(list->Find(b.public_key)->Serves("payment"));
    EXPECT_EQ(list->Find(transport::NewCurveKeyPair().public_key), nullptr);
}

TEST(AllowList, AKeyMayHoldAHashSignWhichIsNoComment) {
    // Z85 has '#': only a line that starts with it is a comment.
    transport::CurveKeyPair pair;
    do {
        pair = transport::NewCurveKeyPair();
    } while (pair.public_key.find('#') == std::string::npos);
    auto list = AllowList::Parse("w " + pair.public_key + " q\n", "keys");
    ASSERT_TRUE(list.ok()) << list.status().message;
    EXPECT_NE(list->Find(pair.public_key), nullptr);
}

TEST(AllowList, ABadLineIsNamedByItsNumber) {
    const std::string key = transport::NewCurveKeyPair().public_key;
    const std::vector<std::pair<std::string, std::string>> cases{
        {"w " + key + "\n", "keys:1: expected"},
        {"# c\nw notakey q\n", "keys:2: not a CURVE public key"},
        {"w " + key + " q\nv " + key + " q\n", "keys:2: the same key twice"},
        {"w " + key + " q\nw " + transport::NewCurveKeyPair().public_key + " q\n", "keys:2: the name w twice"},
        {"w;rm " + key + " q\n", "keys:1: a name is"},
        {"w " + key + " a,,b\n", "keys:1: an empty queue name"},
    };
    for (const auto& [text, want] : cases) {
        auto list = AllowList::Parse(text, "keys");
        ASSERT_FALSE(list.ok()) << text;
        EXPECT_NE(list.status().message.find(want), std::string::npos) << list.status().message;
    }
}

TEST(Tokens, ARoleAllowsWhatTheOnesBeforeItDo) {
    const std::string viewer = security::NewToken(), op = security::NewToken();
    auto set = TokenSet::Parse(security::TokenLine("dash", Role::kViewer, viewer) + "\n" +
                                   security::TokenLine("oncall", Role::kOperator, op) + "\n",
                               "tokens");
    ASSERT_TRUE(set.ok()) << set.status().message;
    auto who = set->Authenticate("Bearer " + op);
    ASSERT_TRUE(who.ok()) << who.status().message;
    EXPECT_EQ(who->name, "oncall");
    EXPECT_EQ(who->role, Role::kOperator);
    EXPECT_EQ(set->Authenticate("Bearer " + viewer)->role, Role::kViewer);
    EXPECT_LT(Role::kViewer, Role::kOperator);
    EXPECT_LT(Role::kOperator, Role::kAdmin);
}

TEST(Tokens, RefusalsNeverEchoTheToken) {
    const std::string token = security::NewToken();
    auto set = TokenSet::Parse(security::TokenLine("a", Role::kAdmin, token), "tokens");
    ASSERT_TRUE(set.ok());
    const std::string other = security::NewToken();
    for (const std::string& header : {std::string(), "Basic " + token, "Bearer " + token + " ", "Bearer  " + token,
                                      "Bearer " + token.substr(0, 20), "Bearer " + other, "bearer " + token,
                                      "Bearer " + token.substr(0, 46) + "!"}) {
        auto r = set->Authenticate(header);
        ASSERT_FALSE(r.ok()) << header;
        EXPECT_EQ(r.code(), ErrorCode::kUnauthenticated);
        EXPECT_EQ(r.status().message.find(token.substr(4)), std::string::npos);
        EXPECT_EQ(r.status().message.find(other.substr(4)), std::string::npos);
    }
}

TEST(Tokens, TheFileHoldsHashesAndABadLineIsNamed) {
    const std::string token = security::NewToken();
    EXPECT_EQ(token.size(), security::kTokenChars);
    EXPECT_TRUE(security::CheckTokenShape(token).ok());
    EXPECT_NE(token, security::NewToken());
    const std::string line = security::TokenLine("ci", Role::kViewer, token);
    EXPECT_EQ(line.find(token), std::string::npos);
    const std::vector<std::pair<std::string, std::string>> cases{
        {"ci viewer\n", "tokens:1: expected"},
        {"# x\nci root sha256:" + std::string(64, 'a') + "\n", "tokens:2: the role"},
        {"ci viewer " + token + "\n", "not its hash"},
        {"ci viewer sha256:abc\n", "tokens:1: the hash"},
        {"ci viewer sha256:" + std::string(64, 'G') + "\n", "tokens:1: the hash"},
        {line + "\n" + line + "\n", "tokens:2: the name ci twice"},
    };
    for (const auto& [text, want] : cases) {
        auto set = TokenSet::Parse(text, "tokens");
        ASSERT_FALSE(set.ok()) << text;
        EXPECT_NE(set.status().message.find(want), std::string::npos) << set.status().message;
    }
}

TEST(KeyFiles, APairWrittenReadsBackAndTheSecretStaysPrivate) {
    const std::string base = ::testing::TempDir() + "/sagaflow-key-" + std::to_string(::getpid());
    std::remove((base + ".secret").c_str());
    std::remove((base + ".pub").c_str());
    auto pair = security::WriteKeyPair(base, "test");
    ASSERT_TRUE(pair.ok()) << pair.status().message;
    struct stat st {};
    ASSERT_EQ(stat((base + ".secret").c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto secret = security::ReadSecretKeyFile(base + ".secret");
    ASSERT_TRUE(secret.ok()) << secret.status().message;
    EXPECT_EQ(secret->public_key, pair->public_key);
    EXPECT_EQ(*security::ReadPublicKeyFile(base + ".pub"), pair->public_key);
    EXPECT_FALSE(security::WriteKeyPair(base, "again").ok());  // never overwrites
    chmod((base + ".secret").c_str(), 0644);
    EXPECT_FALSE(security::ReadSecretKeyFile(base + ".secret").ok());
    std::ofstream(base + ".bad") << "not a key\n";
    EXPECT_FALSE(security::ReadPublicKeyFile(base + ".bad").ok());
    const std::string fp = security::Fingerprint(pair->public_key);
    EXPECT_EQ(fp.rfind("sha256:", 0), 0u);
    EXPECT_EQ(fp.size(), 7u + 16u);
    EXPECT_EQ(security::Fingerprint("nope"), "");
}

}  // namespace
}  // namespace sagaflow::testing
