#include "sagaflow/core/ids.hpp"

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>

namespace sagaflow {
namespace {

std::uint64_t NextRandom() {
    // One generator per thread, seeded from the OS; UUIDs need uniqueness, not secrecy.
    thread_local std::mt19937_64 gen{[] {
        std::random_device rd;
        std::seed_seq seq{rd(), rd(), rd(), rd()};
        return std::mt19937_64(seq);
    }()};
    return gen();
}

}  // namespace

std::string NewUuid() {
    // RFC 9562 version 7: 48 bits of Unix milliseconds, then 74 random bits. Ids made
    // close in time sort close together, so the indexes keyed on them (sagas, outbox,
    // history, inbox) take new keys at their right edge instead of on random pages all
    // over an index that outgrows the buffer cache.
    const auto ms = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                   std::chrono::system_clock::now().time_since_epoch())
                                                   .count());
    const std::uint64_t hi = NextRandom();
    const std::uint64_t lo = NextRandom();
    std::array<std::uint8_t, 16> b{};
    for (int i = 0; i < 6; ++i) b[i] = static_cast<std::uint8_t>(ms >> (8 * (5 - i)));
    b[6] = static_cast<std::uint8_t>(0x70 | (hi & 0x0F));  // version 7
    b[7] = static_cast<std::uint8_t>(hi >> 8);
    b[8] = static_cast<std::uint8_t>(0x80 | (lo & 0x3F));  // RFC variant
    for (int i = 9; i < 16; ++i) b[i] = static_cast<std::uint8_t>(lo >> (8 * (i - 8)));
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(36);
    for (int i = 0; i < 16; ++i) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out.push_back('-');
        out.push_back(kHex[b[i] >> 4]);
        out.push_back(kHex[b[i] & 0x0F]);
    }
    return out;
}

bool IsUuid(std::string_view text) noexcept {
    if (text.size() != 36) return false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (c != '-') return false;
        } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
            return false;
        }
    }
    return true;
}

}  // namespace sagaflow
