// Converting between store records and PostgreSQL rows (text format).
#pragma once

#include <optional>
#include <string>

#include "connection.hpp"
#include "saga_store.hpp"

namespace sagaflow::store {

[[nodiscard]] std::string Micros(Timestamp t);

template <class Id>
[[nodiscard]] pg::Param OptId(const std::optional<Id>& id) {
    return id ? pg::Param(id->str()) : std::nullopt;
}

// Column orders match the SELECT lists in pg_saga_store.cpp.
[[nodiscard]] engine::SagaRecord SagaFromRow(const pg::Result& r, int row);
[[nodiscard]] engine::CommandRecord CommandFromRow(const pg::Result& r, int row);
[[nodiscard]] engine::AttemptRecord AttemptFromRow(const pg::Result& r, int row);
[[nodiscard]] engine::HistoryEvent HistoryFromRow(const pg::Result& r, int row);

}  // namespace sagaflow::store
