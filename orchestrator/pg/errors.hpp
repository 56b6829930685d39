// The one place where PostgreSQL failures become our error vocabulary.
#pragma once

#include <string_view>

#include "sagaflow/core/error.hpp"

namespace sagaflow::pg {

/// Maps a five-character SQLSTATE to an `ErrorCode`. Unknown states are kInternal.
[[nodiscard]] ErrorCode CodeForSqlState(std::string_view sqlstate) noexcept;

}  // namespace sagaflow::pg
