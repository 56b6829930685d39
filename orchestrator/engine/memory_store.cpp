#include "memory_store.hpp"

#include <algorithm>

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

    std::optional<CommandRecord> GetCommand(const MsgId& id) override {
        auto it = work_.commands.find(id);
        if (it == work_.commands.end()) return std::nullopt;
        return it->second;
    }

    std::vector<SagaRecord> ListSagas(const SagaFilter& f) override {
        std::vector<SagaRecord> out;
        for (const auto& [id, s] : work_.sagas) {
            if (f.status && s.status != *f.status) continue;
            if (f.workflow && s.workflow != *f.workflow) continue;
            out.push_back(s);
        }
        std::sort(out.begin(), out.end(), [](const SagaRecord& a, const SagaRecord& b) {
            return a.created_at != b.created_at ? a.created_at > b.created_at : a.id > b.id;
        });
        if (static_cast<int>(out.size()) > f.limit) out.resize(static_cast<std::size_t>(f.limit));
        return out;
    }

    std::vector<CommandRecord> PendingCommands(int limit) override {
        std::vector<CommandRecord> out;
        for (const auto& [id, c] : work_.commands) {
            if (c.state == CommandState::kPending) out.push_back(c);
        }
        std::sort(out.begin(), out.end(), [](const CommandRecord& a, const CommandRecord& b) {
            return a.not_before != b.not_before ? a.not_before < b.not_before
                                                : a.msg_id < b.msg_id;
        });
        if (static_cast<int>(out.size()) > limit) out.resize(static_cast<std::size_t>(limit));
        return out;
    }

    std::vector<AttemptRecord> Attempts(const SagaId& id) override {
        std::vector<AttemptRecord> out;
        for (const auto& a : work_.attempts) {
            if (a.saga_id == id) out.push_back(a);
        }
        return out;
    }

    std::vector<HistoryEvent> History(const SagaId& id) override {
        std::vector<HistoryEvent> out;
        for (const auto& e : work_.history) {
            if (e.saga_id == id) out.push_back(e);
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

    void InsertCommand(const CommandRecord& command) override {
        if (!work_.commands.emplace(command.msg_id, command).second) {
            throw Error(ErrorCode::kAlreadyExists, "command " + command.msg_id.str() + " exists");
        }
    }

    void UpdateCommand(const CommandRecord& command) override {
        auto it = work_.commands.find(command.msg_id);
        if (it == work_.commands.end()) {
            throw Error(ErrorCode::kNotFound, "command " + command.msg_id.str());
        }
        it->second.attempt = command.attempt;
        it->second.not_before = command.not_before;
        it->second.state = command.state;
    }

    void InsertAttempt(const AttemptRecord& attempt) override {
        work_.attempts.push_back(attempt);
    }

    void AppendHistory(const HistoryEvent& event) override {
        HistoryEvent e = event;
        e.seq = work_.next_seq++;
        work_.history.push_back(std::move(e));
    }

    void Commit() override {
        if (store_.fail_commits_ > 0) {
            --store_.fail_commits_;
            throw Error(store_.fail_code_, "injected commit failure");
        }
        store_.data_ = std::move(work_);
        work_ = store_.data_;
        // A committed transaction is over: let the next one in, as a database would.
        lock_.unlock();
    }

private:
    MemorySagaStore& store_;
    std::unique_lock<std::mutex> lock_;
    Data work_;
};

std::unique_ptr<StoreTx> MemorySagaStore::Begin() { return std::make_unique<Tx>(*this); }

void MemorySagaStore::FailNextCommits(int n, ErrorCode code) {
    std::lock_guard lock(mu_);
    fail_commits_ = n;
    fail_code_ = code;
}

}  // namespace sagaflow::engine
