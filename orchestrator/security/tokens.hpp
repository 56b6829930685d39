// Bearer tokens for the HTTP API. The tokens file holds one token per line as its
// SHA-256, never the token itself ('#' starts a comment line):
//
//     # name   role       sha256 of the token
//     oncall   operator   sha256:3f7a...(64 hex digits)
//
// A token is "sgf_" and 43 characters of base64url (32 random bytes): `sagactl token`
// makes one and prints its line. A presented token is hashed and compared with every
// line in constant time; it is never logged.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sagaflow/core/error.hpp"

namespace sagaflow::security {

/// Each role can do what the ones before it can.
enum class Role {
    kViewer = 1,    ///< list, show, history, graphs, workflows, stats, metrics
    kOperator = 2,  ///< and start, signal, compensate, retry
    kAdmin = 3,     ///< and workers, settings
};
[[nodiscard]] std::string_view ToString(Role r) noexcept;
[[nodiscard]] std::optional<Role> ParseRole(std::string_view text) noexcept;

/// Who a request comes from.
struct Caller {
    std::string name;
    Role role = Role::kViewer;
};

inline constexpr std::string_view kTokenPrefix = "sgf_";
inline constexpr std::size_t kTokenChars = 4 + 43;

class TokenSet {
public:
    /// kInvalidArgument naming `source` and the line.
    [[nodiscard]] static Result<TokenSet> Parse(std::string_view text, const std::string& source);
    [[nodiscard]] static Result<TokenSet> Load(const std::string& path);

    /// The caller an `Authorization` header names. kUnauthenticated, with a reason that
    /// never repeats the token: none given, not a bearer token, malformed, unknown.
    [[nodiscard]] Result<Caller> Authenticate(std::string_view authorization) const;
    [[nodiscard]] std::size_t size() const { return entries_.size(); }

private:
    struct Entry {
        Caller caller;
        std::string hash;  // 32 bytes
    };
    std::vector<Entry> entries_;
};

/// A new random token.
[[nodiscard]] std::string NewToken();
/// The tokens-file line for `token`.
[[nodiscard]] std::string TokenLine(const std::string& name, Role role, const std::string& token);
/// ok when `token` has a token's shape (prefix, length, alphabet).
[[nodiscard]] Status CheckTokenShape(std::string_view token);

}  // namespace sagaflow::security
