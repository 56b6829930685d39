// Which worker keys may connect, and which queues each may serve. The file, one worker
// per line (a line starting with '#' is a comment; Z85 keys may contain '#'):
//
//     # name        public key (Z85, 40 characters)            queues
//     inventory-1   rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7   inventory
//     ops-any       Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID   *
//
// A key serves only its queues; '*' serves any. A line that does not parse, a key twice
// or a name twice is an error naming the line.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "sagaflow/core/error.hpp"

namespace sagaflow::security {

struct WorkerGrant {
    std::string name;
    std::string public_key;   ///< Z85
    std::string fingerprint;  ///< `Fingerprint(public_key)`
    std::set<std::string> queues;
    bool any_queue = false;
    [[nodiscard]] bool Serves(const std::string& queue) const { return any_queue || queues.contains(queue); }
};

class AllowList {
public:
    /// `source` names the text in errors ("keys.list:3: ...").
    [[nodiscard]] static Result<AllowList> Parse(std::string_view text, const std::string& source);
    [[nodiscard]] static Result<AllowList> Load(const std::string& path);

    /// The grant of a Z85 public key; nullptr when it is not on the list.
    [[nodiscard]] const WorkerGrant* Find(const std::string& public_key) const;
    [[nodiscard]] std::size_t size() const { return by_key_.size(); }

private:
    std::map<std::string, WorkerGrant> by_key_;
};

/// A value that a reload replaces while readers hold the one they took. Thread-safe.
template <class T>
class Reloadable {
public:
    explicit Reloadable(T value) : current_(std::make_shared<const T>(std::move(value))) {}
    [[nodiscard]] std::shared_ptr<const T> Get() const {
        std::lock_guard lock(mu_);
        return current_;
    }
    void Set(T value) {
        auto next = std::make_shared<const T>(std::move(value));
        std::lock_guard lock(mu_);
        current_ = std::move(next);
    }

private:
    mutable std::mutex mu_;
    std::shared_ptr<const T> current_;
};

using KeyRing = Reloadable<AllowList>;

/// Splits `text` into lines that are not blank or comments, with their numbers; the
/// words of each, split on spaces and tabs. The tokens file shares it.
struct Line {
    int number = 0;
    std::vector<std::string> words;
};
[[nodiscard]] std::vector<Line> WordsByLine(std::string_view text);
/// Reads a whole file; kInvalidArgument naming it when it cannot.
[[nodiscard]] Result<std::string> ReadTextFile(const std::string& path);
/// A worker or token name: 1 to 64 of [A-Za-z0-9._-].
[[nodiscard]] bool IsName(std::string_view name);

}  // namespace sagaflow::security
