#include "http/message.hpp"

#include <nlohmann/json.hpp>

#include "sagaflow/client/api.hpp"

namespace sagaflow::http {
namespace {

int Hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

}  // namespace

Response JsonError(ErrorCode code, const std::string& message, int status) {
    const nlohmann::json body = api::ApiError{code, message};
    return Json(status != 0 ? status : api::HttpStatusOf(code),
                body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

Response Json(int status, std::string body) {
    Response r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

bool PercentDecode(std::string_view in, std::string& out, bool plus_is_space) {
    out.clear();
    out.reserve(in.size());
    for (std::size_t i = 0; i < in.size(); ++i) {
        const char c = in[i];
        if (c == '%') {
            if (i + 2 >= in.size()) return false;
            const int hi = Hex(in[i + 1]), lo = Hex(in[i + 2]);
            if (hi < 0 || lo < 0) return false;
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_is_space) {
            out += ' ';
        } else {
            out += c;
        }
    }
    return true;
}

bool ParseTarget(std::string_view target, std::string& path, std::map<std::string, std::string>& query) {
    query.clear();
    const std::size_t q = target.find('?');
    if (!PercentDecode(target.substr(0, q), path, false) || path.empty() || path[0] != '/') return false;
    if (q == std::string_view::npos) return true;
    std::string_view rest = target.substr(q + 1);
    while (!rest.empty()) {
        const std::size_t amp = rest.find('&');
        const std::string_view pair = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        if (pair.empty()) continue;
        const std::size_t eq = pair.find('=');
        std::string key, value;
        if (!PercentDecode(pair.substr(0, eq), key, true)) return false;
        if (eq != std::string_view::npos && !PercentDecode(pair.substr(eq + 1), value, true)) return false;
        query[key] = value;
    }
    return true;
}

}  // namespace sagaflow::http
