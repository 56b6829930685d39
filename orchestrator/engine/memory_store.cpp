#include "memory_store.hpp"

#include <algorithm>
#include <set>

#include "sagaflow/core/error.hpp"

namespace sagaflow::engine {

class MemorySagaStore::Tx final : public StoreTx {
public:
    explicit Tx(MemorySagaStore& store) : store_(store), lock_(store.mu_), work_(store.data_) {}

    std::optional<SagaRecord> GetSaga(const SagaId& id) override {
        auto it = work_.sagas.find(id);
        if (it == work_.sagas.end()) return std::nullopt;
        return it->second;
    }

    std::optional<SagaId> FindByBusinessKey(const std::string& workflow,
                                            const BusinessKey& key) override {
        for (const auto& [id, s] : work_.sagas) {
            if (s.workflow == workflow && s.business_key == key) return id;
        }
        return std::nullopt;
    }

    std::optional<PendingRecord> GetPending(const MsgId& id) override {
        auto it = work_.pending.find(id);
        if (it == work_.pending.end()) return std::nullopt;
        return it->second;
    }

    std::vector<SagaRecord> ListSagas(const SagaFilter& f) override {
        std::vector<SagaRecord> out;
        for (const auto& [id, s] : work_.sagas) {
            if (f.Matches(s)) out.push_back(s);
        }
        std::sort(out.begin(), out.end(), [](const SagaRecord& a, const SagaRecord& b) {
            return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
        });
        if (static_cast<int>(out.size()) > f.limit) out.resize(static_cast<std::size_t>(f.limit));
        return out;
    }

    std::int64_t CountSagas(const SagaFilter& f) override {
        return std::count_if(work_.sagas.begin(), work_.sagas.end(), [&](const auto& s) { return f.Matches(s.second); });
    }

    void InsertBulkJob(const BulkJob& job) override {
        if (!work_.bulk_jobs.emplace(job.id, job).second) throw Error(ErrorCode::kInternal, "bulk job " + job.id + " exists");
    }
    void UpdateBulkJob(const BulkJob& job) override {
        auto it = work_.bulk_jobs.find(job.id);
        if (it == work_.bulk_jobs.end()) throw Error(ErrorCode::kInternal, "no bulk job " + job.id);
        it->second = job;
    }
    std::optional<BulkJob> GetBulkJob(const std::string& id) override {
        auto it = work_.bulk_jobs.find(id);
        if (it == work_.bulk_jobs.end()) return std::nullopt;
        return it->second;
    }
    std::vector<BulkJob> ListBulkJobs(int limit, bool running_only) override {
        std::vector<BulkJob> out;
        for (const auto& [id, j] : work_.bulk_jobs) {
            if (!running_only || j.state == BulkState::kRunning) out.push_back(j);
        }
        std::sort(out.begin(), out.end(), [](const BulkJob& a, const BulkJob& b) {
            return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
        });
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
        return out;
    }

    std::vector<std::pair<PendingRecord, SagaRecord>> PendingWork(int limit) override {
        std::vector<std::pair<PendingRecord, SagaRecord>> out;
        for (const auto& [id, p] : work_.pending) out.emplace_back(p, work_.sagas.at(p.saga_id));
        std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
            return a.first.not_before != b.first.not_before ? a.first.not_before < b.first.not_before
                                                            : a.first.msg_id < b.first.msg_id;
        });
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
        return out;
    }

    std::vector<PendingRecord> PendingOf(const SagaId& id) override {
        std::vector<PendingRecord> out;
        for (const auto& [msg, p] : work_.pending) {
            if (p.saga_id == id) out.push_back(p);
        }
        return out;
    }

    std::vector<HistoryEvent> History(const SagaId& id) override {
        std::vector<HistoryEvent> out;
        for (const auto& row : work_.history) {
            if (row.saga_id != id) continue;
            for (HistoryEvent e : row.events) {
                e.saga_id = row.saga_id;
                e.seq = row.seq;
                out.push_back(std::move(e));
            }
        }
        for (const HistoryEvent& e : staged_) {
            if (e.saga_id == id) out.push_back(e);  // this transaction's own, not yet in a row
        }
        return out;
    }

    bool InsertSaga(const SagaRecord& saga) override {
        if (work_.sagas.contains(saga.id)) {
            throw Error(ErrorCode::kAlreadyExists, "saga " + saga.id.str() + " exists");
        }
        if (saga.business_key && FindByBusinessKey(saga.workflow, *saga.business_key)) {
            return false;
        }
        work_.sagas.emplace(saga.id, saga);
        return true;
    }

    void UpdateSaga(const SagaRecord& saga, std::int64_t expected_version) override {
        auto it = work_.sagas.find(saga.id);
        if (it == work_.sagas.end() || it->second.version != expected_version) {
            throw Error(ErrorCode::kAborted, "saga " + saga.id.str() + " changed concurrently");
        }
        it->second = saga;
    }

    void InsertPending(const PendingRecord& item) override {
        if (!work_.pending.emplace(item.msg_id, item).second) {
            throw Error(ErrorCode::kAlreadyExists, "pending item " + item.msg_id.str() + " exists");
        }
    }

    void UpdatePending(const PendingRecord& item) override {
        auto it = work_.pending.find(item.msg_id);
        if (it == work_.pending.end()) throw Error(ErrorCode::kAborted, "pending item " + item.msg_id.str() + " is gone");
        it->second.attempt = item.attempt;
        it->second.not_before = item.not_before;
    }

    void DeletePending(const PendingRecord& item) override {
        if (work_.pending.erase(item.msg_id) != 1) {
            throw Error(ErrorCode::kAborted, "pending item " + item.msg_id.str() + " was resolved concurrently");
        }
    }

    void AppendHistory(const HistoryEvent& event) override { staged_.push_back(event); }

    std::optional<SignalRecord> GetSignal(const SagaId& saga, const std::string& id) override {
        for (const SignalRecord& s : work_.signals) {
            if (s.saga_id == saga && s.id == id) return s;
        }
        return std::nullopt;
    }

    std::optional<SignalRecord> WaitingSignal(const SagaId& saga, const std::string& name) override {
        for (const SignalRecord& s : work_.signals) {
            if (s.saga_id == saga && s.name == name && s.consumed_by.empty()) return s;
        }
        return std::nullopt;
    }

    std::vector<SignalRecord> SignalsOf(const SagaId& saga) override {
        std::vector<SignalRecord> out;
        for (const SignalRecord& s : work_.signals) {
            if (s.saga_id == saga) out.push_back(s);
        }
        return out;
    }

    void InsertSignal(const SignalRecord& signal) override {
        if (GetSignal(signal.saga_id, signal.id)) {
            throw Error(ErrorCode::kAborted, "signal " + signal.id + " of saga " + signal.saga_id.str() + " exists");
        }
        work_.signals.push_back(signal);
    }

    void ConsumeSignal(const SignalRecord& signal) override {
        for (SignalRecord& s : work_.signals) {
            if (s.saga_id == signal.saga_id && s.id == signal.id) {
                s.consumed_by = signal.consumed_by;
                return;
            }
        }
        throw Error(ErrorCode::kAborted, "signal " + signal.id + " of saga " + signal.saga_id.str() + " is gone");
    }

    void InsertAlert(const AlertRecord& alert) override {
        AlertRecord a = alert;
        a.id = work_.next_alert++;
        work_.alerts.emplace(std::pair(a.saga_id, a.id), std::move(a));
    }

    std::vector<AlertRecord> DueAlerts(Timestamp now, int limit) override {
        std::vector<AlertRecord> out;
        for (const auto& [key, a] : work_.alerts) {
            if (a.next_at <= now) out.push_back(a);
        }
        std::sort(out.begin(), out.end(), [](const AlertRecord& x, const AlertRecord& y) {
            return x.next_at != y.next_at ? x.next_at < y.next_at : x.id < y.id;
        });
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
        return out;
    }

    void DeleteAlert(const AlertRecord& alert) override { work_.alerts.erase(std::pair(alert.saga_id, alert.id)); }

    void DeferAlert(const AlertRecord& alert) override {
        auto it = work_.alerts.find(std::pair(alert.saga_id, alert.id));
        if (it == work_.alerts.end()) return;
        it->second.attempts = alert.attempts;
        it->second.next_at = alert.next_at;
    }

    ExpiredCounts ExpireEnded(SagaStatus status, Timestamp cutoff, int limit) override {
        if (!IsTerminal(status)) {
            throw Error(ErrorCode::kInvalidArgument, "retention removes only ended sagas (completed, compensated, cancelled)");
        }
        std::vector<const SagaRecord*> doomed;
        for (const auto& [id, saga] : work_.sagas) {
            if (saga.status == status && saga.updated_at < cutoff) doomed.push_back(&saga);
        }
        std::sort(doomed.begin(), doomed.end(), [](const SagaRecord* a, const SagaRecord* b) {
            return a->created_at != b->created_at ? a->created_at < b->created_at : a->id < b->id;
        });
        if (static_cast<int>(doomed.size()) > limit) doomed.resize(static_cast<std::size_t>(std::max(0, limit)));
        std::set<SagaId> ids;
        for (const SagaRecord* saga : doomed) ids.insert(saga->id);
        ExpiredCounts out;
        out.history_rows = static_cast<std::int64_t>(
            std::erase_if(work_.history, [&](const MemorySagaStore::HistoryRow& r) { return ids.count(r.saga_id) > 0; }));
        out.pending = static_cast<std::int64_t>(
            std::erase_if(work_.pending, [&](const auto& p) { return ids.count(p.second.saga_id) > 0; }));
        out.signals = static_cast<std::int64_t>(
            std::erase_if(work_.signals, [&](const SignalRecord& x) { return ids.count(x.saga_id) > 0; }));
        out.alerts = static_cast<std::int64_t>(
            std::erase_if(work_.alerts, [&](const auto& a) { return ids.count(a.first.first) > 0; }));
        out.sagas = static_cast<std::int64_t>(ids.size());
        for (const SagaId& id : ids) work_.sagas.erase(id);
        return out;
    }

    void Commit() override {
        if (store_.fail_commits_ > 0) {
            --store_.fail_commits_;
            throw Error(store_.fail_code_, "injected commit failure");
        }
        // One history row per saga of this transaction, its events in order.
        std::vector<SagaId> order;
        std::map<SagaId, std::vector<HistoryEvent>> rows;
        for (const HistoryEvent& e : staged_) {
            auto [it, fresh] = rows.try_emplace(e.saga_id);
            if (fresh) order.push_back(e.saga_id);
            it->second.push_back(e);
        }
        for (const SagaId& id : order) work_.history.push_back({id, work_.next_seq++, std::move(rows[id])});
        staged_.clear();
        store_.data_ = std::move(work_);
        work_ = store_.data_;
        // A committed transaction is over: let the next one in, as a database would.
        lock_.unlock();
    }

private:
    MemorySagaStore& store_;
    std::unique_lock<std::mutex> lock_;
    Data work_;
    std::vector<HistoryEvent> staged_;
};

std::unique_ptr<StoreTx> MemorySagaStore::Begin() { return std::make_unique<Tx>(*this); }

void MemorySagaStore::FailNextCommits(int n, ErrorCode code) {
    std::lock_guard lock(mu_);
    fail_commits_ = n;
    fail_code_ = code;
}

}  // namespace sagaflow::engine
