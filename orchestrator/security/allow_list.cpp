#include "allow_list.hpp"

#include <fstream>
#include <sstream>

#include "curve.hpp"
#include "keys.hpp"

namespace sagaflow::security {

std::vector<Line> WordsByLine(std::string_view text) {
    std::vector<Line> out;
    int number = 0;
    while (!text.empty() || number == 0) {
        ++number;
        const std::size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
        // A comment is a whole line: Z85 keys may contain '#'.
        if (const std::size_t first = line.find_first_not_of(" \t"); first != std::string_view::npos && line[first] == '#') {
            line = {};
        }
        Line l{number, {}};
        std::size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
            std::size_t j = i;
            while (j < line.size() && line[j] != ' ' && line[j] != '\t' && line[j] != '\r') ++j;
            if (j > i) l.words.emplace_back(line.substr(i, j - i));
            i = j;
        }
        if (!l.words.empty()) out.push_back(std::move(l));
        if (text.empty()) break;
    }
    return out;
}

Result<std::string> ReadTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status{ErrorCode::kInvalidArgument, "cannot read " + path};
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

bool IsName(std::string_view name) {
    if (name.empty() || name.size() > 64) return false;
    for (char c : name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                        c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

Result<AllowList> AllowList::Parse(std::string_view text, const std::string& source) {
    AllowList list;
    std::set<std::string> names;
    for (const Line& l : WordsByLine(text)) {
        const std::string at = source + ":" + std::to_string(l.number) + ": ";
        if (l.words.size() != 3) {
            return Status{ErrorCode::kInvalidArgument, at + "expected 'name public-key queue[,queue...]' (or '*' for any queue)"};
        }
        WorkerGrant g;
        g.name = l.words[0];
        g.public_key = l.words[1];
        if (!IsName(g.name)) return Status{ErrorCode::kInvalidArgument, at + "a name is 1 to 64 of A-Z a-z 0-9 . _ -"};
        if (!transport::CurveKeyBytes(g.public_key)) {
            return Status{ErrorCode::kInvalidArgument, at + "not a CURVE public key (40 characters of Z85)"};
        }
        g.fingerprint = Fingerprint(g.public_key);
        if (l.words[2] == "*") {
            g.any_queue = true;
        } else {
            std::string_view qs = l.words[2];
            while (!qs.empty()) {
                const std::size_t comma = qs.find(',');
                const std::string q(qs.substr(0, comma));
                if (q.empty()) return Status{ErrorCode::kInvalidArgument, at + "an empty queue name"};
                g.queues.insert(q);
                qs = comma == std::string_view::npos ? std::string_view{} : qs.substr(comma + 1);
            }
        }
        if (!names.insert(g.name).second) return Status{ErrorCode::kInvalidArgument, at + "the name " + g.name + " twice"};
        if (list.by_key_.contains(g.public_key)) {
            return Status{ErrorCode::kInvalidArgument, at + "the same key twice (" + g.fingerprint + ")"};
        }
        list.by_key_.emplace(g.public_key, std::move(g));
    }
    return list;
}

Result<AllowList> AllowList::Load(const std::string& path) {
    auto text = ReadTextFile(path);
    if (!text.ok()) return text.status();
    return Parse(*text, path);
}

const WorkerGrant* AllowList::Find(const std::string& public_key) const {
    const auto it = by_key_.find(public_key);
    return it == by_key_.end() ? nullptr : &it->second;
}

}  // namespace sagaflow::security
