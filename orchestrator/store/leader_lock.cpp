#include "leader_lock.hpp"

namespace sagaflow::store {
namespace {

// Two-key form: a class of our own, then the schema, so sagads on different schemas of
// one database do not exclude each other.
constexpr const char* kTryLock =
    "SELECT pg_try_advisory_lock(1397573446, hashtext(current_schema()))";

}  // namespace

LeaderLock::LeaderLock(std::string dsn, std::string schema) : dsn_(std::move(dsn)), schema_(std::move(schema)) {}

LeaderLock::State LeaderLock::AcquireLocked() {
    try {
        if (!conn_ || !conn_->healthy()) {
            conn_.reset();
            held_ = false;
            conn_ = std::make_unique<pg::Connection>(dsn_, schema_);
        }
        held_ = conn_->Exec(kTryLock).Text(0, 0) == "t";
        return held_ ? State::kHeld : State::kTaken;
    } catch (const std::exception&) {
        conn_.reset();
        held_ = false;
        return State::kUnknown;
    }
}

LeaderLock::State LeaderLock::TryAcquire() {
    std::lock_guard lock(mu_);
    if (held_ && conn_ && conn_->healthy()) return State::kHeld;
    return AcquireLocked();
}

LeaderLock::State LeaderLock::Confirm() {
    std::lock_guard lock(mu_);
    if (held_ && conn_ && conn_->healthy()) {
        try {
            conn_->Exec("SELECT 1");
            if (conn_->healthy()) return State::kHeld;
        } catch (const std::exception&) {
            // The session is gone, and the lock with it: try to take it again below.
        }
    }
    return AcquireLocked();
}

}  // namespace sagaflow::store
