// Child processes without a shell: a program and its arguments as a vector, handed to
// execve. No word splitting, no quoting, no `$(...)`: a path with spaces or semicolons
// is one argument. The only way the tree starts a process (scripts/check-layering
// refuses std::system and popen).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace sagaflow::os {

/// The account a child runs as (set in the child before exec).
struct RunAs {
    uid_t uid = 0;
    gid_t gid = 0;
};

struct SpawnOptions {
    /// Where stdout and stderr go (appended, created 0600); empty: inherited.
    std::string output_file;
    /// The child's working directory; empty: inherited.
    std::string cwd;
    /// Run as this account; requires root.
    std::optional<RunAs> run_as;
};

/// Runs `argv` (argv[0] a path, or a name looked up in PATH) and waits for it. Returns
/// its exit status, or 128 + signal when a signal ended it. Throws `Error(kUnavailable)`
/// when it cannot be started (not found, not executable).
int Run(const std::vector<std::string>& argv, const SpawnOptions& options = {});

/// As `Run`, with stdout captured and returned; stderr goes to `options.output_file`
/// (or is inherited). nullopt when the program exits non-zero.
std::optional<std::string> Capture(const std::vector<std::string>& argv,
                                   const SpawnOptions& options = {});

/// Starts `argv` as a daemon: in a session of its own and not our child (it outlives us,
/// and no zombie is left when it exits). Returns once it has been exec'd. Throws as `Run`.
void SpawnDetached(const std::vector<std::string>& argv, const SpawnOptions& options = {});

/// The account of a user name; nullopt when there is none.
std::optional<RunAs> LookUpUser(const std::string& name);

}  // namespace sagaflow::os
