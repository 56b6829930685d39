#include "engine.hpp"

#include <limits>
#include <set>

#include "queries.hpp"

namespace sagaflow::engine {

Engine::Engine(const WorkflowRegistry& registry, SagaStore& store, WorkerChannel& channel,
               const Clock& clock, EngineOptions options)
    : registry_(registry),
      store_(store),
      clock_(clock),
      options_(options),
      dispatcher_(channel, clock),
      scheduler_(clock, options.spare_timers),
      service_(registry, store, clock, dispatcher_, options) {}

Result<StartResult> Engine::Start(std::string_view workflow, std::string_view input_json,
                                  std::optional<BusinessKey> key) {
    StartRequest req;
    req.workflow = std::string(workflow);
    req.business_key = std::move(key);
    req.input = nlohmann::json::parse(input_json, nullptr, /*allow_exceptions=*/false);
    if (req.input.is_discarded()) {
        return Status{ErrorCode::kInvalidArgument, "saga input is not valid JSON"};
    }
    return Start(req);
}

Result<StartResult> Engine::Start(const StartRequest& req) { return StartMany({req}).front(); }

std::vector<Result<StartResult>> Engine::StartMany(const std::vector<StartRequest>& requests) {
    Effects effects;
    auto results = service_.Start(requests, effects);
    Apply(std::move(effects));
    return results;
}

std::vector<Status> Engine::ApplyEvents(std::span<const Event> events) {
    Effects effects;
    auto statuses = service_.ApplyEvents(events, effects);
    Apply(std::move(effects));
    return statuses;
}

Status Engine::ApplyReply(const Reply& reply) { return ApplyReplies(std::span<const Reply>(&reply, 1)).front(); }

std::vector<Status> Engine::ApplyReplies(std::span<const Reply> replies) {
    return ApplyEvents(std::vector<Event>(replies.begin(), replies.end()));
}

Status Engine::Operate(OperatorAction action) {
    const Event e = std::move(action);
    return ApplyEvents(std::span<const Event>(&e, 1)).front();
}

namespace {
OperatorAction ActionOn(OperatorAction::Kind kind, const SagaId& id, const std::string& reason, const Actor& by) {
    OperatorAction a;
    a.kind = kind;
    a.saga_id = id;
    a.reason = reason;
    a.by = by;
    return a;
}
}  // namespace

Status Engine::Compensate(const SagaId& id, const std::string& reason, const Actor& by) {
    return Operate(ActionOn(OperatorAction::Kind::kCompensate, id, reason, by));
}

Status Engine::Retry(const SagaId& id, const std::string& reason, const Actor& by) {
    return Operate(ActionOn(OperatorAction::Kind::kRetry, id, reason, by));
}

Duration Engine::TimeoutOf(const Command& c) const {
    const Workflow* wf = registry_.Find(c.workflow, c.workflow_version);
    const int n = wf == nullptr ? -1 : wf->find(c.step);
    if (n < 0 || wf->node(n).kind != NodeKind::kStep) return std::chrono::seconds(30);
    const StepDef& step = wf->node(n).step;
    if (c.phase == Phase::kCompensate && step.compensation) return step.compensation->timeout;
    return step.timeout;
}

void Engine::Track(const PendingRecord& record, Command command, bool recovered) {
    const Duration timeout = TimeoutOf(command);
    dispatcher_.Hold(record, std::move(command), timeout, recovered);
    if (record.not_before <= clock_.Now()) {
        scheduler_.Cancel(record.msg_id);
        dispatcher_.MakeReady(record.msg_id);
    } else {
        scheduler_.ArmAt(record.msg_id, record.not_before);  // a retry's backoff
    }
}

void Engine::Apply(Effects effects) {
    if (effects.resync) resync_ = true;
    for (const MsgId& id : effects.forget) {
        dispatcher_.Forget(id);
        scheduler_.Cancel(id);
        waits_.erase(id);
    }
    for (auto& [record, command] : effects.track) Track(record, std::move(command), false);
    for (const PendingRecord& item : effects.due) ArmWait(item);
    if (options_.observer != nullptr && !effects.facts.empty()) options_.observer->Observe(effects.facts);
}

int Engine::Tick() {
    if (resync_) {
        resync_ = false;
        Recover();
    }
    std::vector<Event> expired;
    for (const MsgId& id : scheduler_.TakeDue()) {
        if (waits_.erase(id) > 0) {  // a timer or a deadline
            expired.emplace_back(WaitDue{id});
            continue;
        }
        const Dispatcher::Entry* e = dispatcher_.Find(id);
        if (e == nullptr) continue;
        if (e->stage == Dispatcher::Stage::kInFlight) {
            expired.emplace_back(DeadlinePassed{id, e->record.attempt});
        } else {
            dispatcher_.MakeReady(id);
        }
    }
    const std::vector<Delivered> delivered = dispatcher_.Pump();
    for (const Delivered& d : delivered) scheduler_.ArmAt(d.msg_id, d.deadline);
    if (std::vector<Unserved> unserved = dispatcher_.TakeUnserved(); !unserved.empty()) {
        // Into the waiting sagas' histories; a report that did not land is made again.
        std::vector<Event> notes(unserved.begin(), unserved.end());
        std::vector<Status> statuses;
        try {
            statuses = ApplyEvents(notes);
        } catch (...) {
            for (const Unserved& u : unserved) dispatcher_.Unreport(u.msg_id);
            throw;
        }
        for (std::size_t i = 0; i < unserved.size(); ++i) {
            if (statuses[i].code == ErrorCode::kUnavailable) dispatcher_.Unreport(unserved[i].msg_id);
        }
    }
    if (!expired.empty()) {
        // Not applied (the store is down, or the commit was in doubt): due again shortly.
        auto again = [&](const Event& e) {
            if (const auto* w = std::get_if<WaitDue>(&e)) {
                waits_.insert(w->id);
                scheduler_.ArmIn(w->id, options_.retry_after_store_error);
            } else {
                scheduler_.ArmIn(std::get<DeadlinePassed>(e).msg_id, options_.retry_after_store_error);
            }
        };
        std::vector<Status> statuses;
        try {
            statuses = ApplyEvents(expired);
        } catch (...) {
            for (const Event& e : expired) again(e);
            throw;
        }
        for (std::size_t i = 0; i < expired.size(); ++i) {
            if (statuses[i].code == ErrorCode::kUnavailable) again(expired[i]);
        }
    }
    return static_cast<int>(delivered.size() + expired.size());
}

int Engine::Recover() {
    std::vector<std::pair<PendingRecord, SagaRecord>> work;
    ReadTx(store_, options_.max_tx_attempts,
           [&](StoreTx& tx) { work = tx.PendingWork(std::numeric_limits<int>::max()); });
    int loaded = 0;
    std::map<std::string, std::set<SagaId>> unregistered;
    // What memory tracks but the store no longer awaits was resolved by a commit whose
    // answer was lost (in doubt): forgotten, as that commit's effects would have.
    std::set<MsgId> awaited;
    for (const auto& [item, saga] : work) awaited.insert(item.msg_id);
    for (const MsgId& id : dispatcher_.TrackedIds()) {
        if (awaited.contains(id)) continue;
        dispatcher_.Forget(id);
        scheduler_.Cancel(id);
    }
    std::erase_if(waits_, [&](const MsgId& id) {
        if (awaited.contains(id)) return false;
        scheduler_.Cancel(id);
        return true;
    });
    for (const auto& [item, saga] : work) {
        const std::string version = saga.workflow + " v" + std::to_string(saga.workflow_version);
        const Workflow* wf = registry_.Find(saga.workflow, saga.workflow_version);
        if (wf == nullptr) {
            unregistered[version].insert(saga.id);
            continue;
        }
        const int n = wf->find(item.node);
        const bool command = item.kind == PendingKind::kCommand;
        if (n < 0 || (command && wf->node(n).kind != NodeKind::kStep)) {
            // Reported and left alone: never walked on a graph it does not belong to.
            unregistered[version + ", unknown node '" + item.node + "'"].insert(saga.id);
            continue;
        }
        if (!command) {
            if (IsDueTime(item.kind) && !waits_.contains(item.msg_id)) {
                ArmWait(item);  // one that came due while sagad was down fires now
                ++loaded;
            }
            continue;
        }
        const Dispatcher::Entry* known = dispatcher_.Find(item.msg_id);
        if (known != nullptr && known->record.attempt == item.attempt) continue;
        Track(item, MakeCommand(item, saga, *wf), /*recovered=*/true);
        ++loaded;
    }
    unregistered_.clear();
    for (const auto& [version, sagas] : unregistered) unregistered_[version] = sagas.size();
    return loaded;
}

void Engine::ArmWait(const PendingRecord& item) {
    waits_.insert(item.msg_id);
    scheduler_.ArmAt(item.msg_id, item.not_before);
}

Status Engine::Signal(SignalSent signal) {
    const Event e = std::move(signal);
    return ApplyEvents(std::span<const Event>(&e, 1)).front();
}

std::optional<Timestamp> Engine::NextWakeup() {
    if (resync_ || dispatcher_.Deliverable()) return clock_.Now();
    return scheduler_.Next();
}

std::vector<SagaRecord> Engine::List(const SagaFilter& filter) { return Queries(store_, options_.max_tx_attempts).List(filter); }

Result<SagaView> Engine::Describe(const SagaId& id) { return Queries(store_, options_.max_tx_attempts).Describe(id); }

}  // namespace sagaflow::engine
