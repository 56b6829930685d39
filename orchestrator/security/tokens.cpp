#include "tokens.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <set>

#include "allow_list.hpp"
#include "keys.hpp"

namespace sagaflow::security {

std::string_view ToString(Role r) noexcept {
    switch (r) {
        case Role::kViewer: return "viewer";
        case Role::kOperator: return "operator";
        case Role::kAdmin: return "admin";
    }
    return "viewer";
}

std::optional<Role> ParseRole(std::string_view text) noexcept {
    for (Role r : {Role::kViewer, Role::kOperator, Role::kAdmin}) {
        if (ToString(r) == text) return r;
    }
    return std::nullopt;
}

namespace {

bool IsBase64Url(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// 64 hex digits as 32 bytes; nullopt otherwise.
std::optional<std::string> FromHex(std::string_view hex) {
    if (hex.size() != 64) return std::nullopt;
    std::string out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        int v = 0;
        for (char c : hex.substr(i, 2)) {
            const int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
            if (d < 0) return std::nullopt;
            v = v * 16 + d;
        }
        out += static_cast<char>(v);
    }
    return out;
}

}  // namespace

Status CheckTokenShape(std::string_view token) {
    if (token.size() != kTokenChars || token.substr(0, kTokenPrefix.size()) != kTokenPrefix) {
        return {ErrorCode::kUnauthenticated, "malformed token (sgf_ and 43 characters expected)"};
    }
    for (char c : token.substr(kTokenPrefix.size())) {
        if (!IsBase64Url(c)) return {ErrorCode::kUnauthenticated, "malformed token (sgf_ and 43 characters expected)"};
    }
    return {};
}

Result<TokenSet> TokenSet::Parse(std::string_view text, const std::string& source) {
    TokenSet set;
    std::set<std::string> names;
    for (const Line& l : WordsByLine(text)) {
        const std::string at = source + ":" + std::to_string(l.number) + ": ";
        if (l.words.size() != 3) return Status{ErrorCode::kInvalidArgument, at + "expected 'name role sha256:HEX'"};
        const auto role = ParseRole(l.words[1]);
        if (!IsName(l.words[0])) return Status{ErrorCode::kInvalidArgument, at + "a name is 1 to 64 of A-Z a-z 0-9 . _ -"};
        if (!role) return Status{ErrorCode::kInvalidArgument, at + "the role must be viewer, operator or admin"};
        const std::string_view h = l.words[2];
        if (CheckTokenShape(h).ok()) {
            return Status{ErrorCode::kInvalidArgument, at + "this is a token, not its hash: the file keeps only "
                                                            "sha256:HEX (sagactl token prints the line)"};
        }
        const auto hash = h.substr(0, 7) == "sha256:" ? FromHex(h.substr(7)) : std::nullopt;
        if (!hash) return Status{ErrorCode::kInvalidArgument, at + "the hash must be sha256: and 64 lower-case hex digits"};
        if (!names.insert(l.words[0]).second) return Status{ErrorCode::kInvalidArgument, at + "the name " + l.words[0] + " twice"};
        set.entries_.push_back({{l.words[0], *role}, *hash});
    }
    return set;
}

Result<TokenSet> TokenSet::Load(const std::string& path) {
    auto text = ReadTextFile(path);
    if (!text.ok()) return text.status();
    return Parse(*text, path);
}

Result<Caller> TokenSet::Authenticate(std::string_view authorization) const {
    if (authorization.empty()) {
        return Status{ErrorCode::kUnauthenticated, "a token is required (Authorization: Bearer TOKEN)"};
    }
    constexpr std::string_view kBearer = "Bearer ";
    if (authorization.substr(0, kBearer.size()) != kBearer) {
        return Status{ErrorCode::kUnauthenticated, "not a bearer token (Authorization: Bearer TOKEN)"};
    }
    const std::string_view token = authorization.substr(kBearer.size());
    if (Status st = CheckTokenShape(token); !st.ok()) return st;
    const std::string hash = Sha256(token);
    const Entry* found = nullptr;
    for (const Entry& e : entries_) {  // every line, whatever matches: no timing of which
        if (CRYPTO_memcmp(e.hash.data(), hash.data(), hash.size()) == 0) found = &e;
    }
    if (found == nullptr) return Status{ErrorCode::kUnauthenticated, "unknown token"};
    return found->caller;
}

std::string NewToken() {
    unsigned char bytes[32];
    if (RAND_bytes(bytes, sizeof bytes) != 1) throw Error(ErrorCode::kInternal, "no randomness for a token");
    static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out(kTokenPrefix);
    std::uint32_t acc = 0;
    int bits = 0;
    for (unsigned char b : bytes) {
        acc = (acc << 8) | b;
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out += kAlphabet[(acc >> bits) & 63];
        }
    }
    if (bits > 0) out += kAlphabet[(acc << (6 - bits)) & 63];
    return out;
}

std::string TokenLine(const std::string& name, Role role, const std::string& token) {
    return name + " " + std::string(ToString(role)) + " sha256:" + Hex(Sha256(token));
}

}  // namespace sagaflow::security
