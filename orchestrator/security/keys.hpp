// Key files and fingerprints. A key file holds one Z85 key on a line of its own; other
// lines starting with '#' are comments. `sagactl keygen BASE` writes BASE.pub (shareable) and
// BASE.secret (mode 0600; the public key is derived from it).
#pragma once

#include <string>

#include "curve.hpp"
#include "socket.hpp"
#include "sagaflow/core/error.hpp"

namespace sagaflow::security {

/// Writes a new pair as `base`.pub and `base`.secret (0600, never overwriting either);
/// returns the public key.
[[nodiscard]] Result<transport::CurveKeyPair> WriteKeyPair(const std::string& base, const std::string& comment);
/// kInvalidArgument when anyone but the owner may read or write `path` (a CURVE secret
/// key, a TLS private key): the one rule for secret files.
[[nodiscard]] Status CheckSecretFile(const std::string& path);
/// Reads a secret key file: the pair it makes. Refuses a file others can read.
[[nodiscard]] Result<transport::CurveKeyPair> ReadSecretKeyFile(const std::string& path);
/// Reads a public key file.
[[nodiscard]] Result<std::string> ReadPublicKeyFile(const std::string& path);

/// A CURVE client's keys: its own pair from `key_file` (a .secret) and the server's
/// public key from `server_key_file` (a .pub). The one loader for workers and tools.
[[nodiscard]] Result<transport::CurveClientKeys> LoadClientKeys(const std::string& key_file,
                                                                const std::string& server_key_file);

/// A key's short name for logs and the history: the first 16 hex digits of the SHA-256
/// of its 32 bytes ("sha256:9f86d081884c7d65"). Empty for something that is no key.
[[nodiscard]] std::string Fingerprint(const std::string& z85_public_key);

/// SHA-256 of `data`, 32 raw bytes.
[[nodiscard]] std::string Sha256(std::string_view data);
/// Lower-case hex of `bytes`.
[[nodiscard]] std::string Hex(std::string_view bytes);

}  // namespace sagaflow::security
