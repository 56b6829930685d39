// libFuzzer target: the envelope decoder must never crash, hang or leak on any frame,
// and whatever it accepts must survive a round trip through the encoder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "sagaflow/protocol/envelope.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view frame(reinterpret_cast<const char*>(data), size);
    auto decoded = sagaflow::protocol::DecodeEnvelope(frame, 64 * 1024);
    if (!decoded.ok()) return 0;
    auto again = sagaflow::protocol::DecodeEnvelope(sagaflow::protocol::EncodeEnvelope(*decoded));
    if (!again.ok() || again->kind != decoded->kind || again->msg_id != decoded->msg_id) std::abort();
    return 0;
}
