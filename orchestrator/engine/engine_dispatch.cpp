// The engine's in-memory half: which commands are due to be sent, which are in flight
// and when their deadlines pass. All of it can be rebuilt from the pending items (`Recover`).
#include <limits>
#include <set>

#include "engine.hpp"

namespace sagaflow::engine {

Engine::Tracked* Engine::Owner(const Timer& timer) {
    auto it = tracked_.find(timer.msg_id);
    return it != tracked_.end() && it->second.generation == timer.generation ? &it->second : nullptr;
}

void Engine::Arm(Tracked& t, Timestamp due) {
    t.due = due;
    t.generation = next_generation_++;
    timers_.push(Timer{due, t.record.msg_id, t.generation});
    // An answered command leaves its deadline timer behind until it would have fired
    // (30 s by default): thousands of them under load. Drop them once they outnumber
    // the live ones, so memory follows the commands in flight, not rate x timeout.
    if (timers_.size() > 2 * tracked_.size() + options_.spare_timers) {
        timers_.DropIf([this](const Timer& timer) { return Owner(timer) == nullptr; });
    }
}

void Engine::Track(const PendingRecord& record, Command command) {
    Tracked& t = tracked_[record.msg_id];
    const std::optional<Timestamp> sent_at = t.sent_at;
    const bool recovered = t.recovered;
    t = Tracked{};
    t.record = record;
    t.command = std::move(command);
    t.sent_at = sent_at;  // kept for the history's "sent" event of a resent command
    t.recovered = recovered;
    Arm(t, std::max(record.not_before, clock_.Now()));
}

bool Engine::SurelyUnsent(const MsgId& id) const {
    auto it = tracked_.find(id);
    return it != tracked_.end() && it->second.stage == Stage::kWaitingToSend && !it->second.sent_at &&
           !it->second.recovered;
}

void Engine::Apply(const AfterCommit& after) {
    for (const MsgId& id : after.forget) tracked_.erase(id);
    for (const auto& [record, command] : after.track) Track(record, command);
}

Duration Engine::TimeoutOf(const Command& c) const {
    const Workflow* wf = registry_.Find(c.workflow, c.workflow_version);
    const int n = wf == nullptr ? -1 : wf->find(c.step);
    if (n < 0 || wf->node(n).kind != NodeKind::kStep) return std::chrono::seconds(30);
    const StepDef& step = wf->node(n).step;
    if (c.phase == Phase::kCompensate && step.compensation) return step.compensation->timeout;
    return step.timeout;
}

int Engine::Tick() {
    if (resync_) {
        resync_ = false;
        Recover();
    }
    const Timestamp now = clock_.Now();
    std::vector<std::pair<MsgId, int>> expired;
    int sent = 0;
    while (!timers_.empty() && timers_.top().due <= now) {
        const Timer timer = timers_.top();
        timers_.pop();
        Tracked* owner = Owner(timer);
        if (owner == nullptr) continue;
        Tracked& t = *owner;
        if (t.stage == Stage::kInFlight) {
            expired.emplace_back(timer.msg_id, t.record.attempt);
            continue;
        }
        Command command = t.command;
        command.deadline = now + TimeoutOf(command);
        if (sink_.Send(command)) {
            t.stage = Stage::kInFlight;
            t.sent_at = now;
            Arm(t, command.deadline);
            ++sent;
        } else {
            Arm(t, now + options_.resend_when_refused);
            refused_.push_back(timer.msg_id);
        }
    }

    const auto batch = static_cast<std::size_t>(options_.max_batch);
    for (std::size_t begin = 0; begin < expired.size(); begin += batch) {
        const std::size_t end = std::min(expired.size(), begin + batch);
        try {
            RunTx([&](StoreTx& tx, AfterCommit& after) {
                for (std::size_t i = begin; i < end; ++i) {
                    ApplyDeadline(tx, expired[i].first, expired[i].second, after);
                }
            });
        } catch (...) {
            // Keep the deadlines: they fire again once the store answers.
            for (std::size_t i = begin; i < expired.size(); ++i) {
                auto it = tracked_.find(expired[i].first);
                if (it != tracked_.end()) Arm(it->second, now + options_.resend_when_refused);
            }
            throw;
        }
    }
    return sent + static_cast<int>(expired.size());
}

void Engine::ApplyDeadline(StoreTx& tx, const MsgId& id, int attempt, AfterCommit& after) {
    auto item = tx.GetPending(id);
    if (!item || item->attempt != attempt) return;  // a reply won the race, or this attempt was handled
    auto saga = tx.GetSaga(item->saga_id);
    if (!saga) return;
    if (registry_.Find(saga->workflow, saga->workflow_version) == nullptr) {
        after.forget.push_back(id);  // left untouched in the store, for a sagad that has it
        return;
    }
    Move move;
    move.event.kind = PlanEvent::Kind::kRetry;
    move.event.node = item->node;
    move.event.phase = item->phase;
    move.event.attempt = item->attempt;
    move.answered = item;
    move.events = SentEvents(*item);
    move.events.push_back(Event(*item, "timed_out"));
    move.reason = CommandLabel(*item) + " got no reply after " + std::to_string(item->attempt) + " attempts";
    if (!Advance(tx, *saga, std::move(move), after)) {
        tx.DeletePending(*item);  // its node no longer waits for it
        after.forget.push_back(id);
    }
}

int Engine::Recover() {
    std::vector<std::pair<PendingRecord, SagaRecord>> work;
    RunTx([&](StoreTx& tx, AfterCommit&) { work = tx.PendingWork(std::numeric_limits<int>::max()); });
    int loaded = 0;
    std::map<std::string, std::set<SagaId>> unregistered;
    for (const auto& [item, saga] : work) {
        const std::string version = saga.workflow + " v" + std::to_string(saga.workflow_version);
        const Workflow* wf = registry_.Find(saga.workflow, saga.workflow_version);
        if (wf == nullptr) {
            unregistered[version].insert(saga.id);
            continue;
        }
        const int n = wf->find(item.node);
        if (n < 0 || wf->node(n).kind != NodeKind::kStep) {
            // Reported and left alone: never walked on a graph it does not belong to.
            unregistered[version + ", unknown node '" + item.node + "'"].insert(saga.id);
            continue;
        }
        auto it = tracked_.find(item.msg_id);
        if (it != tracked_.end() && it->second.record.attempt == item.attempt) continue;
        Track(item, MakeCommand(item, saga, *wf));
        tracked_[item.msg_id].recovered = true;
        ++loaded;
    }
    unregistered_.clear();
    for (const auto& [version, sagas] : unregistered) unregistered_[version] = sagas.size();
    return loaded;
}

void Engine::OfferRefusedNow() {
    const Timestamp now = clock_.Now();
    for (const MsgId& id : refused_) {
        auto it = tracked_.find(id);
        if (it != tracked_.end() && it->second.stage == Stage::kWaitingToSend) Arm(it->second, now);
    }
    refused_.clear();
}

std::optional<Timestamp> Engine::NextWakeup() {
    if (resync_) return clock_.Now();
    // Drop timers whose command was answered or re-armed since.
    while (!timers_.empty()) {
        if (Owner(timers_.top()) != nullptr) return timers_.top().due;
        timers_.pop();
    }
    return std::nullopt;
}

}  // namespace sagaflow::engine
