#include "errors.hpp"

namespace sagaflow::pg {

ErrorCode CodeForSqlState(std::string_view s) noexcept {
    if (s.size() != 5) return ErrorCode::kUnavailable;  // no SQLSTATE: the connection failed
    const std::string_view cls = s.substr(0, 2);
    if (s == "40001" || s == "40P01" || s == "55P03") return ErrorCode::kAborted;  // serialization, deadlock, lock
    if (s == "23505") return ErrorCode::kAlreadyExists;                           // unique_violation
    if (s == "57014") return ErrorCode::kDeadlineExceeded;                        // query_canceled
    if (cls == "08" || cls == "53" || cls == "57" || cls == "58") return ErrorCode::kUnavailable;
    if (cls == "22" || cls == "23") return ErrorCode::kInvalidArgument;  // bad data, constraint
    if (cls == "25") return ErrorCode::kFailedPrecondition;              // invalid transaction state
    return ErrorCode::kInternal;                                         // 42xxx and the rest: our bug
}

}  // namespace sagaflow::pg
