// An in-memory SagaStore for unit tests of pure logic. Transactions are serialised by a
// mutex and staged on a copy, so rollback and read-your-writes behave like the database.
// Never a stand-in where durability is claimed.
#pragma once

#include <map>
#include <mutex>

#include "sagaflow/core/error.hpp"
#include "saga_store.hpp"

namespace sagaflow::engine {

class MemorySagaStore final : public SagaStore {
public:
    [[nodiscard]] std::unique_ptr<StoreTx> Begin() override;

    /// Knob for fault tests: the next `n` commits throw `Error(code)` and roll back.
    void FailNextCommits(int n, ErrorCode code);

    /// Everything the store holds; copyable, so a transaction can stage on a copy.
    struct HistoryRow {
        SagaId saga_id;
        std::int64_t seq = 0;
        std::vector<HistoryEvent> events;
    };
    struct Data {
        std::map<SagaId, SagaRecord> sagas;
        std::map<MsgId, PendingRecord> pending;
        std::vector<HistoryRow> history;  ///< One row per saga per transaction, as in PostgreSQL.
        std::int64_t next_seq = 1;
        std::map<std::pair<SagaId, std::int64_t>, AlertRecord> alerts;
        std::int64_t next_alert = 1;
        std::vector<SignalRecord> signals;  ///< In the order received.
        std::map<std::string, BulkJob> bulk_jobs;
    };

private:
    class Tx;
    friend class Tx;

    std::mutex mu_;
    Data data_;
    int fail_commits_ = 0;
    ErrorCode fail_code_ = ErrorCode::kUnavailable;
};

}  // namespace sagaflow::engine
