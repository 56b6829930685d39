// The engine's in-memory half: which commands are due to be sent, which are in flight
// and when their deadlines pass. All of it can be rebuilt from the outbox (`Recover`).
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

void Engine::Track(const CommandRecord& record) {
    Tracked& t = tracked_[record.msg_id];
    const std::optional<Timestamp> sent_at = t.sent_at;
    const bool recovered = t.recovered;
    t = Tracked{};
    t.record = record;
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
    for (const CommandRecord& c : after.track) Track(c);
}

Duration Engine::TimeoutOf(const Command& c) const {
    const Workflow* wf = registry_.Find(c.workflow, c.workflow_version);
    if (wf == nullptr || c.step_index < 0 ||
        static_cast<std::size_t>(c.step_index) >= wf->step_count()) {
        return std::chrono::seconds(30);
    }
    const StepDef& step = wf->step(static_cast<std::size_t>(c.step_index));
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
        Command command = CommandFromRecord(t.record);
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
    auto command = tx.GetCommand(id);
    if (!command || command->state != CommandState::kPending || command->attempt != attempt) {
        return;  // a reply won the race, or this attempt was already handled
    }
    auto saga = tx.GetSaga(command->saga_id);
    if (!saga || saga->awaiting != id) return;
    if (registry_.Find(saga->workflow, saga->workflow_version) == nullptr) {
        after.forget.push_back(id);  // left untouched in the outbox, for a sagad that has it
        return;
    }

    std::vector<HistoryEvent> prelude = SentEvents(*command);
    prelude.push_back(Event(*command, "timed_out"));
    tx.InsertAttempt(AttemptRecord{saga->id, command->step_index, command->phase, id,
                                   command->attempt, "timeout", "no reply by the deadline",
                                   clock_.Now()});
    const std::string reason = CommandLabel(*command) + " got no reply after " +
                               std::to_string(command->attempt) + " attempts";
    const LifecycleEvent event = command->phase == Phase::kForward
                                     ? LifecycleEvent::kStepTimedOut
                                     : LifecycleEvent::kCompensationTimedOut;
    Transition(tx, *saga, event, command->attempt, command, reason, prelude, after);
}

int Engine::Recover() {
    std::vector<CommandRecord> pending;
    RunTx([&](StoreTx& tx, AfterCommit&) {
        pending = tx.PendingCommands(std::numeric_limits<int>::max());
    });
    int loaded = 0;
    std::map<std::string, std::set<SagaId>> unregistered;
    for (const CommandRecord& c : pending) {
        const Command command = CommandFromRecord(c);
        if (registry_.Find(command.workflow, command.workflow_version) == nullptr) {
            unregistered[command.workflow + " v" + std::to_string(command.workflow_version)].insert(c.saga_id);
            continue;
        }
        auto it = tracked_.find(c.msg_id);
        if (it != tracked_.end() && it->second.record.attempt == c.attempt) continue;
        Track(c);
        tracked_[c.msg_id].recovered = true;
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
