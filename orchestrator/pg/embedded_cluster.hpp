// A private PostgreSQL cluster from the system's binaries: initdb into a directory
// (once), started on a Unix socket inside it, stopped on request. Used by sagad's
// embedded default and by the test fixture. Runs the server as the `postgres` user when
// the caller is root, since initdb refuses root.
#pragma once

#include <string>

namespace sagaflow::pg {

struct EmbeddedOptions {
    std::string dir;           ///< holds data/, the socket and server.log
    bool durable = true;       ///< false: fsync=off (throw-away test clusters only)
    int max_connections = 200;
};

class EmbeddedCluster {
public:
    explicit EmbeddedCluster(EmbeddedOptions options);
    ~EmbeddedCluster();  ///< Stops the server if this object started it.
    EmbeddedCluster(const EmbeddedCluster&) = delete;
    EmbeddedCluster& operator=(const EmbeddedCluster&) = delete;

    /// initdb if the directory has no cluster yet, then starts it (waiting until it
    /// accepts connections). A server already running on the directory (left by a
    /// process that was killed) is adopted. Throws `Error(kUnavailable)` with the
    /// server's log on failure.
    void Start();
    /// Stops it: `fast` shuts down cleanly, otherwise `immediate` (as a crash would).
    void Stop(bool fast = true);

    [[nodiscard]] const std::string& dsn() const { return dsn_; }
    [[nodiscard]] int postmaster_pid() const { return pid_; }

private:
    void Run(const std::string& command) const;

    EmbeddedOptions options_;
    std::string bindir_;
    std::string as_user_;
    std::string dsn_;
    int pid_ = 0;
};

}  // namespace sagaflow::pg
