// HTTP requests and responses as plain values: what the router and the API handlers see,
// so they are tested and fuzzed without a socket (and without Boost.Beast).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "sagaflow/core/error.hpp"

namespace sagaflow::http {

struct Request {
    std::string method;                         ///< "GET", "POST", ...
    std::string path;                           ///< Decoded, without the query: "/api/v1/sagas"
    std::map<std::string, std::string> query;   ///< Decoded; a repeated key keeps the last value
    std::map<std::string, std::string> headers; ///< Names in lower case
    std::string body;
    std::string remote;  ///< the client's "address:port", as the server's socket sees it

    [[nodiscard]] std::string Header(const std::string& lower_name) const {
        const auto it = headers.find(lower_name);
        return it == headers.end() ? std::string() : it->second;
    }
};

struct Response;
/// Sends a deferred answer; callable from any thread, once.
using Responder = std::function<void(Response)>;

struct Response {
    int status = 200;
    std::string content_type = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers;  ///< Extra headers
    /// Set by a handler that answers later (a long poll): the server calls it, on the
    /// handler's thread, with the `Responder` for the real answer, and frees the thread.
    /// The rest of this response is then ignored.
    std::function<void(Responder)> deferred;
};

/// The one shape of every error answer: `{"code": ..., "message": ...}` with `status`
/// (0: the status that goes with the code, api::HttpStatusOf).
[[nodiscard]] Response JsonError(ErrorCode code, const std::string& message, int status = 0);

/// A JSON answer.
[[nodiscard]] Response Json(int status, std::string body);

/// Splits a request target ("/a%20b?x=1&y=%2F") into its decoded path and query. False
/// when a percent escape is malformed or the path does not start with '/'.
[[nodiscard]] bool ParseTarget(std::string_view target, std::string& path, std::map<std::string, std::string>& query);

/// Percent-decodes `in` (and '+' as a space when `plus_is_space`); false on a bad escape.
[[nodiscard]] bool PercentDecode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace sagaflow::http
