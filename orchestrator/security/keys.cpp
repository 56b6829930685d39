#include "keys.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace sagaflow::security {
namespace {

// The one key line of a key file, or an error naming the file.
Result<std::string> KeyLine(const std::string& path) {
    std::ifstream in(path);
    if (!in) return Status{ErrorCode::kInvalidArgument, "cannot read key file " + path};
    std::string line, key;
    int number = 0;
    while (std::getline(in, line)) {
        ++number;
        if (!line.empty() && line.back() == '\r') line.pop_back();
        // A comment starts with '#'; so may a Z85 key, which is 40 characters without spaces.
        if (line.empty() || (line[0] == '#' && !transport::CurveKeyBytes(line))) continue;
        if (!key.empty()) return Status{ErrorCode::kInvalidArgument, path + ":" + std::to_string(number) + ": more than one key"};
        key = line;
    }
    if (!transport::CurveKeyBytes(key)) {
        return Status{ErrorCode::kInvalidArgument, path + ": not a CURVE key (40 characters of Z85 expected)"};
    }
    return key;
}

Status WriteNew(const std::string& path, const std::string& text, mode_t mode) {
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0) return {ErrorCode::kAlreadyExists, "cannot create " + path + ": " + std::strerror(errno)};
    const bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    const bool closed = close(fd) == 0;
    if (!ok || !closed) return {ErrorCode::kUnavailable, "cannot write " + path};
    return {};
}

}  // namespace

Result<transport::CurveKeyPair> WriteKeyPair(const std::string& base, const std::string& comment) {
    const auto pair = transport::NewCurveKeyPair();
    const std::string head = "# sagaflow CURVE key" + (comment.empty() ? "" : ": " + comment) + "\n";
    if (Status st = WriteNew(base + ".secret", head + "# secret: keep it on this host only\n" + pair.secret_key + "\n", 0600);
        !st.ok()) {
        return st;
    }
    if (Status st = WriteNew(base + ".pub", head + pair.public_key + "\n", 0644); !st.ok()) return st;
    return pair;
}

Status CheckSecretFile(const std::string& path) {
    struct stat st {};
    if (stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
        return Status{ErrorCode::kInvalidArgument,
                      "secret key file " + path + " is readable by others (chmod 600 it)"};
    }
    return {};
}

Result<transport::CurveKeyPair> ReadSecretKeyFile(const std::string& path) {
    if (Status st = CheckSecretFile(path); !st.ok()) return st;
    auto secret = KeyLine(path);
    if (!secret.ok()) return secret.status();
    auto pub = transport::CurvePublicOf(*secret);
    if (!pub) return Status{ErrorCode::kInvalidArgument, path + ": not a CURVE secret key"};
    return transport::CurveKeyPair{*pub, *secret};
}

Result<std::string> ReadPublicKeyFile(const std::string& path) { return KeyLine(path); }

Result<transport::CurveClientKeys> LoadClientKeys(const std::string& key_file, const std::string& server_key_file) {
    auto mine = ReadSecretKeyFile(key_file);
    if (!mine.ok()) return mine.status();
    auto server = ReadPublicKeyFile(server_key_file);
    if (!server.ok()) return server.status();
    return transport::CurveClientKeys{*server, mine->public_key, mine->secret_key};
}

std::string Sha256(std::string_view data) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    (void)EVP_Digest(data.data(), data.size(), out, &n, EVP_sha256(), nullptr);
    return std::string(reinterpret_cast<const char*>(out), n);
}

std::string Hex(std::string_view bytes) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (unsigned char c : bytes) {
        out += kHex[c >> 4];
        out += kHex[c & 15];
    }
    return out;
}

std::string Fingerprint(const std::string& z85_public_key) {
    const auto bytes = transport::CurveKeyBytes(z85_public_key);
    if (!bytes) return {};
    return "sha256:" + Hex(Sha256(*bytes)).substr(0, 16);
}

}  // namespace sagaflow::security
