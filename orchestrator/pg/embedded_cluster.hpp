// A private PostgreSQL cluster from the system's binaries: initdb into a directory
// (once), started on a Unix socket inside it, stopped on request. Used by sagad's
// embedded default and by the test fixture. Runs the server as the `postgres` user when
// the caller is root, since initdb refuses root.
//
// Locked down: the directory and its socket are the owner's alone (0700), there is no
// TCP listener, and every connection authenticates with scram-sha-256 against a
// generated password kept in `<dir>/pgpass` (libpq's passfile format, 0600). No child
// process goes through a shell: a directory named `x y;touch z;$(id)` is just a name.
#pragma once

#include <optional>
#include <string>

#include "os/process.hpp"

namespace sagaflow::pg {

struct EmbeddedOptions {
    std::string dir;           ///< holds data/, the socket, pgpass and server.log
    bool durable = true;       ///< false: fsync=off (throw-away test clusters only)
    int max_connections = 200;
};

class EmbeddedCluster {
public:
    /// Creates the directory (0700). Throws `Error(kFailedPrecondition)` when run as root
    /// without a `postgres` user, or for a directory name PostgreSQL cannot take.
    explicit EmbeddedCluster(EmbeddedOptions options);
    ~EmbeddedCluster();  ///< Stops the server if this object started it.
    EmbeddedCluster(const EmbeddedCluster&) = delete;
    EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

    /// initdb if the directory has no cluster yet, then starts it (waiting until it
    /// accepts connections). A server already running on the directory (left by a
    /// process that was killed) is adopted. A cluster written by an earlier release
    /// (trust authentication, open directory) is tightened first: see `tightened()`.
    /// Throws `Error(kUnavailable)` with the server's log on failure.
    void Start();
    /// Stops it: `fast` shuts down cleanly, otherwise `immediate` (as a crash would).
    void Stop(bool fast = true);
    /// Leaves the server running when this object goes: another process uses it.
    void Detach() { pid_ = 0; }

    /// A libpq connection string for the superuser, with the password file.
    [[nodiscard]] const std::string& dsn() const { return dsn_; }
    /// The password file workers name in their DSN (`passfile=...`).
    [[nodiscard]] const std::string& password_file() const { return pgpass_; }
    [[nodiscard]] int postmaster_pid() const { return pid_; }
    /// True when `Start` found an earlier release's open cluster and locked it down.
    [[nodiscard]] bool tightened() const { return tightened_; }

private:
    void Init();
    void Tighten();
    void WriteHba() const;
    void WritePassword(const std::string& password) const;  ///< the passfile, 0600
    void Launch();
    [[nodiscard]] int RunningPid() const;
    void WaitUntil(bool accepting, int pid) const;

    EmbeddedOptions options_;
    std::string bindir_;
    std::string data_;
    std::string pgpass_;
    std::string dsn_;
    std::optional<os::RunAs> owner_;  ///< the postgres account, when we are root
    int pid_ = 0;
    bool tightened_ = false;
};

/// `value` quoted for a libpq connection string (single quotes, `\` and `'` escaped).
[[nodiscard]] std::string ConninfoQuote(const std::string& value);

}  // namespace sagaflow::pg
