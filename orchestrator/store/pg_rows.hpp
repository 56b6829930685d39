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

// Column orders match the SELECT lists in pg_saga_store.cpp; `first` is where they start.
[[nodiscard]] engine::SagaRecord SagaFromRow(const pg::Result& r, int row, int first = 0);
[[nodiscard]] engine::PendingRecord PendingFromRow(const pg::Result& r, int row, int first = 0);
/// A row of SF_SIGNAL_COLUMNS.
[[nodiscard]] engine::SignalRecord SignalFromRow(const pg::Result& r, int row);
/// One history row (seq, events) as its events, in order.
void AppendHistoryRow(const pg::Result& r, int row, const SagaId& saga, std::vector<engine::HistoryEvent>& out);

}  // namespace sagaflow::store
