// One active sagad per database (per schema): a session-level advisory lock held on a
// connection of its own. A second sagad on the same database waits as a hot standby
// until the lock frees, which PostgreSQL does the moment the holder's session ends (a
// crash, kill -9, or a lost connection).
//
// Fencing: the store calls `Confirm` before it uses a new connection (PgStoreOptions::
// on_connect). After a database restart every connection is new, so nothing commits
// until this node holds the lock again; if another node took it meanwhile, `Confirm`
// says so and the node stops (the caller exits; the outbox keeps everything).
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "connection.hpp"

namespace sagaflow::store {

class LeaderLock {
public:
    enum class State {
        kHeld,     ///< this node holds the lock
        kTaken,    ///< another node holds it
        kUnknown,  ///< the database cannot be reached to tell
    };

    explicit LeaderLock(std::string dsn, std::string schema = {});

    /// Takes the lock if it is free. Never blocks on another holder. Thread-safe.
    State TryAcquire();
    /// Whether this node still holds it: a round trip on the lock's session, and after a
    /// lost session an attempt to take it again. Thread-safe.
    State Confirm();

private:
    State AcquireLocked();

    std::string dsn_;
    std::string schema_;
    std::mutex mu_;
    std::unique_ptr<pg::Connection> conn_;
    bool held_ = false;
};

}  // namespace sagaflow::store
