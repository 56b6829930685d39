#include "saga_service.hpp"

#include <set>

#include "backoff.hpp"

namespace sagaflow::engine {
namespace {

constexpr std::size_t kMaxBusinessKeyBytes = 256;

PlanEvent::Kind KindOf(ReplyOutcome outcome) {
    switch (outcome) {
        case ReplyOutcome::kOk: return PlanEvent::Kind::kOk;
        case ReplyOutcome::kFail: return PlanEvent::Kind::kFail;
        case ReplyOutcome::kRetry: return PlanEvent::Kind::kRetry;
    }
    throw Error(ErrorCode::kInvalidArgument, "unknown reply outcome");
}

LifecycleEvent LifecycleOf(FlowSignal signal) {
    switch (signal) {
        case FlowSignal::kCompleted: return LifecycleEvent::kFlowCompleted;
        case FlowSignal::kFailed: return LifecycleEvent::kFlowFailed;
        case FlowSignal::kUndone: return LifecycleEvent::kUndone;
        case FlowSignal::kStuck: return LifecycleEvent::kStuck;
        case FlowSignal::kParked: return LifecycleEvent::kPark;
        case FlowSignal::kNone: break;
    }
    throw Error(ErrorCode::kInternal, "no lifecycle event for an empty signal");
}

PlanEvent Plain(PlanEvent::Kind kind) {
    PlanEvent e;
    e.kind = kind;
    return e;
}


template <class... Fs>
struct Overloaded : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overloaded(Fs...) -> Overloaded<Fs...>;  // clang 14 does not deduce aggregates on its own

}  // namespace

SagaService::SagaService(const WorkflowRegistry& registry, SagaStore& store, const Clock& clock,
                         const Deliveries& deliveries, EngineOptions options)
    : registry_(registry),
      store_(store),
      clock_(clock),
      deliveries_(deliveries),
      options_(options),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

SagaService::Outcome SagaService::RunTx(const std::function<void(StoreTx&, Effects&)>& fn, Effects& effects) {
    for (int attempt = 1;; ++attempt) {
        Effects after;
        const SteadyTime began = clock_.Monotonic();
        try {
            auto tx = store_.Begin();
            fn(*tx, after);
            tx->Commit();
        } catch (const CommitInDoubt&) {
            // It may have landed: what it armed may be in the store. Never run again here.
            effects.resync = true;
            return Outcome::kInDoubt;
        } catch (const Error& e) {
            if (!IsRetryable(e.code()) || attempt >= options_.max_tx_attempts) throw;
            continue;  // rolled back: nothing of it landed
        }
        effects.track.insert(effects.track.end(), std::make_move_iterator(after.track.begin()),
                             std::make_move_iterator(after.track.end()));
        effects.due.insert(effects.due.end(), after.due.begin(), after.due.end());
        effects.forget.insert(effects.forget.end(), after.forget.begin(), after.forget.end());
        effects.facts.insert(effects.facts.end(), std::make_move_iterator(after.facts.begin()),
                             std::make_move_iterator(after.facts.end()));
        Fact tx_fact;
        tx_fact.kind = Fact::Kind::kStoreTx;
        tx_fact.latency = clock_.Monotonic() - began;
        effects.facts.push_back(std::move(tx_fact));
        return Outcome::kCommitted;
    }
}

std::string UnregisteredReason(const SagaRecord& saga) {
    return "saga " + saga.id.str() + " uses workflow '" + saga.workflow + "' v" +
           std::to_string(saga.workflow_version) +
           ", which this sagad does not register: it is left untouched until one that does runs";
}

void Stamp(HistoryEvent& e, const Actor& by) {
    if (!by.name.empty()) e.detail["by"] = by.name;
    if (!by.remote.empty()) e.detail["from"] = by.remote;
}

std::vector<AttemptRecord> AttemptsFrom(const std::vector<HistoryEvent>& history) {
    std::vector<AttemptRecord> out;
    for (const HistoryEvent& e : history) {
        if ((e.kind != "replied" && e.kind != "timed_out") || !e.msg_id || !e.phase) continue;
        AttemptRecord a;
        a.saga_id = e.saga_id;
        a.node = e.node;
        a.phase = *e.phase;
        a.msg_id = *e.msg_id;
        a.attempt = e.attempt;
        a.outcome = e.kind == "timed_out" ? "timeout" : e.detail.value("outcome", "");
        a.detail = e.kind == "timed_out" ? "no reply by the deadline" : e.detail.value("reason", "");
        a.finished_at = e.at;
        a.worker = e.detail.value("worker", "");
        a.key = e.detail.value("key", "");
        out.push_back(std::move(a));
    }
    return out;
}

const Workflow* SagaService::WorkflowOf(const SagaRecord& saga) const {
    const Workflow* wf = registry_.Find(saga.workflow, saga.workflow_version);
    if (wf == nullptr) throw Error(ErrorCode::kFailedPrecondition, UnregisteredReason(saga));
    return wf;
}

const Plan& SagaService::PlanOf(const Workflow& wf) {
    auto it = plans_.find(&wf);
    if (it == plans_.end()) it = plans_.emplace(&wf, Plan(wf)).first;
    return it->second;
}

HistoryEvent SagaService::Note(const SagaRecord& saga, std::string kind) const {
    HistoryEvent e;
    e.saga_id = saga.id;
    e.at = clock_.Now();
    e.kind = std::move(kind);
    return e;
}

HistoryEvent SagaService::Note(const PendingRecord& c, std::string kind) const {
    HistoryEvent e;
    e.saga_id = c.saga_id;
    e.at = clock_.Now();
    e.kind = std::move(kind);
    e.node = c.node;
    e.msg_id = c.msg_id;
    switch (c.kind) {
        case PendingKind::kCommand:
            e.phase = c.phase;
            e.attempt = c.attempt;
            e.detail = {{"action", c.action}, {"queue", c.queue}};
            break;
        case PendingKind::kTimer:
        case PendingKind::kDeadline:
            e.detail = {{"due", FormatTimestamp(c.not_before)}};
            break;
        case PendingKind::kSignal:
            e.detail = {{"signal", c.action}};
            break;
        case PendingKind::kChild:
            e.phase = c.phase;
            e.detail = {{"workflow", c.action}};
            break;
    }
    return e;
}

PendingRecord SagaService::WaitItem(const SagaRecord& saga, const std::string& node, PendingKind kind) const {
    PendingRecord w;
    w.msg_id = MsgId(NewUuid());
    w.saga_id = saga.id;
    w.kind = kind;
    w.node = node;
    w.not_before = clock_.Now();
    w.created_at = w.not_before;
    return w;
}

std::vector<HistoryEvent> SagaService::SentEvents(const PendingRecord& item) const {
    // When this process sent it; after a restart the send time is unknown and not recorded.
    const std::optional<Timestamp> at = deliveries_.SentAt(item.msg_id);
    if (!at) return {};
    HistoryEvent sent = Note(item, "sent");
    sent.at = *at;
    return {std::move(sent)};
}

// An operator is needed: the saga stopped in `status` (failed or parked).
AlertRecord OperatorAlert(const SagaRecord& saga, SagaStatus status, const std::string& reason, Timestamp now) {
    AlertRecord a;
    a.saga_id = saga.id;
    a.next_at = now;
    a.created_at = now;
    a.event = {{"event", "saga_" + std::string(ToString(status))},
               {"saga_id", saga.id.str()},
               {"workflow", saga.workflow},
               {"version", saga.workflow_version},
               {"status", ToString(status)},
               {"reason", reason},
               {"business_key", saga.business_key ? nlohmann::json(saga.business_key->str()) : nlohmann::json(nullptr)},
               {"trace_id", saga.trace_id.str()},
               {"at", FormatTimestamp(now)}};
    return a;
}

Fact SagaService::FactOf(const SagaRecord& saga, Fact::Kind kind) const {
    Fact f;
    f.kind = kind;
    f.workflow = saga.workflow;
    f.saga_id = saga.id;
    f.trace_id = saga.trace_id;
    f.status = saga.status;
    return f;
}

Fact SagaService::AttemptFact(const SagaRecord& saga, const PendingRecord& item, std::string outcome) const {
    Fact f = FactOf(saga, Fact::Kind::kAttempt);
    f.node = item.node;
    f.phase = item.phase;
    f.msg_id = item.msg_id;
    f.outcome = std::move(outcome);
    if (const auto sent = deliveries_.SentAt(item.msg_id)) f.latency = clock_.Now() - *sent;
    return f;
}

double SagaService::NextUnitRandom() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

bool SagaService::Advance(StoreTx& tx, SagaRecord& saga, Move move, Effects& after) {
    const Workflow& wf = *WorkflowOf(saga);
    const Plan& plan = PlanOf(wf);
    const Timestamp now = clock_.Now();
    const bool is_new = move.first == LifecycleEvent::kBegin;
    std::vector<HistoryEvent> events = std::move(move.events);
    if (is_new) {
        HistoryEvent started = Note(saga, "started");
        if (move.by) Stamp(started, *move.by);
        events.push_back(std::move(started));
        after.facts.push_back(FactOf(saga, Fact::Kind::kStarted));
    }

    std::optional<SagaStatus> status;
    if (!is_new) status = saga.status;
    bool ended_now = false;  // a child saga that ends here moves its parent on
    auto decide = [&](LifecycleEvent event, const std::string& reason) {
        const Decision d = Decide(status, event);
        if (!d.accepted) return false;
        if (status && d.status != *status) {
            ended_now = IsChildOutcome(d.status);
            HistoryEvent e = Note(saga, std::string(ToString(d.status)));
            if (!reason.empty()) e.detail["reason"] = reason;
            events.push_back(std::move(e));
            const bool off_path = d.status != SagaStatus::kRunning && d.status != SagaStatus::kCompleted;
            if (off_path && !reason.empty()) saga.failure_reason = reason;
            const bool needs_operator = d.status == SagaStatus::kFailed || d.status == SagaStatus::kParked;
            if (needs_operator && options_.record_alerts) tx.InsertAlert(OperatorAlert(saga, d.status, reason, now));
            Fact f = FactOf(saga, Fact::Kind::kStatus);
            f.status = d.status;
            f.reason = reason;
            f.latency = now - saga.created_at;
            if (IsEnded(d.status)) {
                f.context = saga.context;
                f.failure_reason = saga.failure_reason;
            }
            after.facts.push_back(std::move(f));
        }
        status = d.status;
        return true;
    };
    if (move.first && !decide(*move.first, move.reason)) return false;

    FlowState nodes = saga.nodes;
    std::vector<PendingRecord> inserts;
    bool resent = false;
    std::set<std::string> disarm;  // nodes that stopped running: what they waited for goes
    std::vector<std::pair<std::string, nlohmann::json>> taken;  // kept signals a new wait took
    std::vector<std::pair<const NodeDef*, Phase>> children;      // child sagas to start or compensate
    auto walk = [&](const PlanEvent& event) {
        PlanResult r = plan.Apply(nodes, event, FlowFacts{saga.input, saga.context, IsUndoing(*status), now});
        if (!r.accepted) return r;
        for (const PlanEffect& effect : r.effects) {
            const NodeDef& node = wf.node(wf.find(effect.node));
            const bool fwd = effect.phase == Phase::kForward;
            switch (effect.kind) {
                case PlanEffect::Kind::kSend: {
                    if (node.kind == NodeKind::kChild) {  // after this saga's own writes
                        children.emplace_back(&node, effect.phase);
                        break;
                    }
                    PendingRecord c;
                    c.msg_id = MsgId(NewUuid());
                    if (effect.same_msg_id) {  // its last command may have run: the inbox must answer for it
                        if (auto last = LastCommandOf(tx, saga.id, node.id)) c.msg_id = *last;
                    }
                    c.saga_id = saga.id;
                    c.node = node.id;
                    c.phase = effect.phase;
                    c.action = fwd ? node.step.name : node.step.compensation->action;
                    c.queue = fwd ? node.step.queue : node.step.compensation->queue;
                    c.attempt = 1;
                    c.not_before = now;
                    c.created_at = now;
                    events.push_back(Note(c, "queued"));
                    inserts.push_back(std::move(c));
                    break;
                }
                case PlanEffect::Kind::kResend: {
                    if (!move.answered || move.answered->node != effect.node) {
                        throw Error(ErrorCode::kInternal, "resend of a command that was not answered");
                    }
                    PendingRecord& again = *move.answered;
                    const int number = wf.find(node.id);
                    const RetryRound round =
                        fwd ? wf.forward_round(number, again.attempt) : wf.compensation_round(number, again.attempt);
                    const Duration delay = BackoffDelay(*round.policy, round.attempt, NextUnitRandom());
                    again.attempt += 1;
                    again.not_before = now + delay;
                    HistoryEvent e = Note(again, "retry_scheduled");
                    e.detail["delay_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
                    events.push_back(std::move(e));
                    resent = true;
                    Fact f = FactOf(saga, Fact::Kind::kRetry);
                    f.node = again.node;
                    f.phase = again.phase;
                    f.msg_id = again.msg_id;
                    f.latency = delay;
                    after.facts.push_back(std::move(f));
                    break;
                }
                case PlanEffect::Kind::kWithdraw:
                    for (const PendingRecord& w : move.withdrawn) {
                        if (w.node == effect.node) events.push_back(Note(w, "withdrawn"));
                    }
                    break;
                case PlanEffect::Kind::kArmTimer:
                case PlanEffect::Kind::kArmDeadline: {
                    const bool timer = effect.kind == PlanEffect::Kind::kArmTimer;
                    PendingRecord t = WaitItem(saga, node.id, timer ? PendingKind::kTimer : PendingKind::kDeadline);
                    t.not_before = effect.due;
                    events.push_back(Note(t, timer ? "timer_armed" : "deadline_armed"));
                    inserts.push_back(std::move(t));
                    break;
                }
                case PlanEffect::Kind::kAwaitSignal: {
                    PendingRecord w = WaitItem(saga, node.id, PendingKind::kSignal);
                    w.action = node.signal;
                    // A signal that came before the wait is taken now (a new saga has none).
                    std::optional<SignalRecord> kept;
                    if (!is_new) kept = tx.WaitingSignal(saga.id, node.signal);
                    if (kept) {
                        kept->consumed_by = node.id;
                        tx.ConsumeSignal(*kept);
                        HistoryEvent e = Note(w, "signal_taken");
                        e.detail["signal_id"] = kept->id;
                        events.push_back(std::move(e));
                        taken.emplace_back(node.id, std::move(kept->payload));
                    } else {
                        events.push_back(Note(w, "awaiting_signal"));
                        inserts.push_back(std::move(w));
                    }
                    break;
                }
                case PlanEffect::Kind::kDisarm:
                    disarm.insert(node.id);
                    break;
            }
        }
        return r;
    };
    // The lifecycle hears the Plan's signals; a failed flow then starts compensating.
    auto settle = [&](PlanResult r) {
        while (r.signal != FlowSignal::kNone) {
            const FlowSignal signal = r.signal;
            const std::string why = !r.reason.empty() ? r.reason : move.reason;
            if (!decide(LifecycleOf(signal), why)) {
                throw Error(ErrorCode::kInternal, "lifecycle refused the Plan's signal for saga " + saga.id.str());
            }
            if (signal != FlowSignal::kFailed) break;
            r = walk(Plain(PlanEvent::Kind::kResume));  // now undoing: start compensating
            if (!r.accepted) throw Error(ErrorCode::kInternal, "the Plan refused to resume saga " + saga.id.str());
        }
    };

    PlanResult r = walk(move.event);
    if (!r.accepted) return false;
    settle(std::move(r));
    for (std::size_t i = 0; i < taken.size(); ++i) {  // a taken signal may reach more waits
        const std::string node = taken[i].first;
        saga.context[node] = std::move(taken[i].second);
        PlanEvent got;
        got.kind = PlanEvent::Kind::kSignal;
        got.node = node;
        // Refused only when the saga stopped its forward walk since: the wait was withdrawn.
        PlanResult t = walk(got);
        if (t.accepted) settle(std::move(t));
    }

    if (move.answered) {
        if (resent) {
            tx.UpdatePending(*move.answered);
        } else {
            tx.DeletePending(*move.answered);
            after.forget.push_back(move.answered->msg_id);
        }
    }
    for (const PendingRecord& w : move.withdrawn) {
        tx.DeletePending(w);
        after.forget.push_back(w.msg_id);
    }
    if (!disarm.empty()) {
        std::erase_if(inserts, [&](const PendingRecord& c) { return c.kind != PendingKind::kCommand && disarm.contains(c.node); });
        // Only the answered item of a wait without a deadline: nothing else to look up.
        const bool alone = move.answered && disarm.size() == 1 && disarm.contains(move.answered->node) &&
                           !wf.node(wf.find(move.answered->node)).deadline;
        if (!is_new && !alone) {
            for (const PendingRecord& p : tx.PendingOf(saga.id)) {
                if (!disarm.contains(p.node) || p.phase != Phase::kForward) continue;
                if (move.answered && move.answered->msg_id == p.msg_id) continue;
                if (p.kind == PendingKind::kCommand) events.push_back(Note(p, "abandoned"));  // its deadline passed
                tx.DeletePending(p);
                after.forget.push_back(p.msg_id);
            }
        }
    }
    saga.nodes = std::move(nodes);
    saga.status = *status;
    saga.updated_at = now;
    if (is_new) {
        saga.version = 1;
        if (!tx.InsertSaga(saga)) throw Error(ErrorCode::kAborted, "business key taken by a concurrent start");
    } else {
        const std::int64_t expected = saga.version;
        saga.version = expected + 1;
        tx.UpdateSaga(saga, expected);
    }
    if (resent) after.track.emplace_back(*move.answered, MakeCommand(*move.answered, saga, wf));
    for (const PendingRecord& c : inserts) {
        tx.InsertPending(c);
        if (c.kind == PendingKind::kCommand) {
            after.track.emplace_back(c, MakeCommand(c, saga, wf));
        } else if (IsDueTime(c.kind)) {
            after.due.push_back(c);
        }
    }
    for (const HistoryEvent& e : events) tx.AppendHistory(e);
    // Other sagas move last, on this one's written state: its children start or are
    // compensated, and its parent is told it ended.
    for (const auto& [node, phase] : children) {
        if (phase == Phase::kForward) {
            StartChild(tx, saga, *node, after);
        } else {
            CompensateChild(tx, saga, *node, after);
        }
    }
    if (ended_now && saga.parent_id) ChildEnded(tx, saga, after);
    return true;
}

BusinessKey SagaService::ChildKey(const SagaRecord& parent, const NodeDef& node) {
    return BusinessKey(parent.id.str() + "/" + node.id);
}

void SagaService::StartChild(StoreTx& tx, const SagaRecord& parent, const NodeDef& node, Effects& after) {
    const Workflow* wf = registry_.Latest(node.child_workflow);
    if (wf == nullptr) {  // registration refuses it; a registry changed under a running saga is a bug
        throw Error(ErrorCode::kInternal, "child workflow '" + node.child_workflow + "' is not registered");
    }
    const BusinessKey key = ChildKey(parent, node);
    std::optional<SagaId> existing = tx.FindByBusinessKey(wf->name(), key);
    SagaRecord child;
    child.id = existing ? *existing : SagaId(NewUuid());
    // The parent waits first, so that a child that ends at once finds it waiting.
    PendingRecord w = WaitItem(parent, node.id, PendingKind::kChild);
    w.msg_id = MsgId(child.id.str());
    w.action = wf->name();
    tx.InsertPending(w);
    HistoryEvent e = Note(w, "child_started");
    e.detail = {{"child", child.id.str()}, {"workflow", wf->name()}, {"version", wf->version()}};
    tx.AppendHistory(e);
    if (existing) return;  // a resend never makes two children
    child.workflow = wf->name();
    child.workflow_version = wf->version();
    child.input = ChildInputOf(node, parent.input, parent.context).value_or(nlohmann::json::object());
    child.business_key = key;
    child.trace_id = parent.trace_id;  // one trace through parent and child
    child.created_at = clock_.Now();
    child.parent_id = parent.id;
    child.parent_node = node.id;
    Move move;
    move.first = LifecycleEvent::kBegin;
    move.event = Plain(PlanEvent::Kind::kBegin);
    move.by = Actor{"saga " + parent.id.str(), {}};
    if (!Advance(tx, child, std::move(move), after)) throw Error(ErrorCode::kInternal, "a child saga was refused");
}

void SagaService::CompensateChild(StoreTx& tx, const SagaRecord& parent, const NodeDef& node, Effects& after) {
    const std::optional<SagaId> child = tx.FindByBusinessKey(node.child_workflow, ChildKey(parent, node));
    if (!child) throw Error(ErrorCode::kInternal, "child node '" + node.id + "' of saga " + parent.id.str() + " has no child");
    PendingRecord w = WaitItem(parent, node.id, PendingKind::kChild);
    w.msg_id = MsgId(child->str());
    w.phase = Phase::kCompensate;
    w.action = node.child_workflow;
    tx.InsertPending(w);
    HistoryEvent e = Note(w, "child_compensation_requested");
    e.detail = {{"child", child->str()}};
    tx.AppendHistory(e);
    // A child stopped in failed (its own compensation stuck) is retried: the parent's
    // retry of its undo reaches into the child.
    const auto now = tx.GetSaga(*child);
    const bool stuck = now && now->status == SagaStatus::kFailed;
    OperatorAction undo;
    undo.kind = stuck ? OperatorAction::Kind::kRetry : OperatorAction::Kind::kCompensate;
    undo.saga_id = *child;
    undo.reason = "its parent saga " + parent.id.str() + " compensates";
    undo.by = Actor{"saga " + parent.id.str(), {}};
    // Not forced: a child past its pivot is refused, so the parent's undo of it fails and the
    // parent stops in failed for an operator, rather than half-undoing the child.
    if (ApplyOperator(tx, undo, after).ok()) return;
    // Refused (nothing written): it ended already (compensated), so tell the parent now.
    if (now && IsChildOutcome(now->status)) ChildEnded(tx, *now, after);
}

void SagaService::ChildEnded(StoreTx& tx, const SagaRecord& child, Effects& after) {
    auto item = tx.GetPending(MsgId(child.id.str()));
    if (!item || item->kind != PendingKind::kChild) return;  // the parent waits for it no more
    auto parent = tx.GetSaga(*child.parent_id);
    if (!parent || registry_.Find(parent->workflow, parent->workflow_version) == nullptr) return;
    const bool forward = item->phase == Phase::kForward;
    const bool ok = child.status == (forward ? SagaStatus::kCompleted : SagaStatus::kCompensated);
    HistoryEvent e = Note(*item, "child_ended");
    e.detail = {{"child", child.id.str()}, {"status", ToString(child.status)}};
    if (!child.failure_reason.empty()) e.detail["reason"] = child.failure_reason;
    Move move;
    move.event.kind = ok ? PlanEvent::Kind::kOk : PlanEvent::Kind::kFail;
    move.event.node = item->node;
    move.event.phase = item->phase;
    move.answered = item;
    move.events.push_back(std::move(e));
    if (!ok) {
        move.reason = "child saga " + child.id.str() + " (" + child.workflow + ") ended " +
                      std::string(ToString(child.status)) + (child.failure_reason.empty() ? "" : ": " + child.failure_reason);
    }
    SagaRecord next = *parent;
    if (ok && forward) next.context[item->node] = child.context;
    if (!Advance(tx, next, std::move(move), after)) {
        tx.DeletePending(*item);  // its node no longer waits for it
        after.forget.push_back(item->msg_id);
    }
}

std::vector<Result<StartResult>> SagaService::Start(std::span<const StartRequest> requests, Effects& effects) {
    std::vector<Result<StartResult>> results;
    std::vector<const Workflow*> workflows;
    std::vector<SagaId> ids;  // chosen once, outside the retry loop: a rerun after a commit in doubt finds them
    for (const StartRequest& req : requests) {
        const Workflow* wf = req.version ? registry_.Find(req.workflow, *req.version)
                                         : registry_.Latest(req.workflow);
        workflows.push_back(wf);
        ids.emplace_back(NewUuid());
        if (wf == nullptr) {
            std::string what = "unknown workflow '" + req.workflow + "'";
            if (req.version) what += " v" + std::to_string(*req.version);
            results.emplace_back(Status{ErrorCode::kNotFound, what});
        } else if (!req.input.is_object()) {
            results.emplace_back(Status{ErrorCode::kInvalidArgument, "saga input must be a JSON object"});
        } else if (req.business_key &&
                   (req.business_key->empty() || req.business_key->str().size() > kMaxBusinessKeyBytes)) {
            results.emplace_back(Status{ErrorCode::kInvalidArgument, "business key must be 1 to 256 bytes"});
        } else {
            results.emplace_back(StartResult{ids.back(), true});
        }
    }
    const auto run = [&](StoreTx& tx, Effects& after) {
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (!results[i].ok()) continue;
            const StartRequest& req = requests[i];
            const SagaId& id = ids[i];
            // Never there already: RunTx runs this again only after a rollback, and the rerun
            // below only when none of the batch landed.
            if (req.business_key) {
                if (auto existing = tx.FindByBusinessKey(workflows[i]->name(), *req.business_key)) {
                    // As payment APIs treat idempotency keys: the same request gets the same
                    // saga; another request under a used key is refused, naming the saga.
                    const auto saga = tx.GetSaga(*existing);
                    if (saga && saga->input != req.input) {
                        results[i] = Status{ErrorCode::kAlreadyExists,
                                            "business key '" + req.business_key->str() + "' already names saga " +
                                                existing->str() + ", started with a different input"};
                    } else {
                        results[i] = StartResult{*existing, false};
                    }
                    continue;
                }
            }
            SagaRecord saga;
            saga.id = id;
            saga.workflow = workflows[i]->name();
            saga.workflow_version = workflows[i]->version();
            saga.input = req.input;
            saga.business_key = req.business_key;
            saga.trace_id = req.trace_id ? *req.trace_id : TraceId(NewUuid());
            saga.created_at = clock_.Now();
            Move move;
            move.first = LifecycleEvent::kBegin;
            move.event = Plain(PlanEvent::Kind::kBegin);
            move.by = req.by;
            if (!Advance(tx, saga, std::move(move), after)) {
                throw Error(ErrorCode::kInternal, "a new saga was refused");
            }
            results[i] = StartResult{id, true};
        }
    };
    if (RunTx(run, effects) == Outcome::kCommitted) return results;
    // In doubt: the sagas this batch would have created are read back. Found, they were
    // created; none found, nothing landed, and the batch runs as it would have the first
    // time (its ids were chosen before, so a saga is never created twice).
    bool landed = false;
    ReadTx(store_, options_.max_tx_attempts, [&](StoreTx& tx) {
        landed = false;
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (results[i].ok() && results[i].value().created && tx.GetSaga(ids[i])) landed = true;
        }
    });
    if (!landed && RunTx(run, effects) == Outcome::kInDoubt) {
        for (auto& r : results) {
            if (r.ok()) r = Status{ErrorCode::kUnavailable, "the store's commit was in doubt twice; look the saga up by its business key"};
        }
    }
    return results;
}

std::vector<Status> SagaService::ApplyEvents(std::span<const engine::Event> events, Effects& effects) {
    std::vector<Status> out;
    out.reserve(events.size());
    const auto batch = static_cast<std::size_t>(options_.max_batch);
    for (std::size_t begin = 0; begin < events.size(); begin += batch) {
        const auto chunk = events.subspan(begin, std::min(batch, events.size() - begin));
        std::vector<MsgId> ids;
        for (const engine::Event& e : chunk) {
            if (const auto* r = std::get_if<Reply>(&e)) ids.push_back(r->msg_id);
            if (const auto* d = std::get_if<DeadlinePassed>(&e)) ids.push_back(d->msg_id);
            if (const auto* u = std::get_if<Unserved>(&e)) ids.push_back(u->msg_id);
            if (const auto* w = std::get_if<WaitDue>(&e)) ids.push_back(w->id);
        }
        std::vector<Status> statuses;
        const auto run = [&](StoreTx& tx, Effects& after) {
            statuses.clear();
            if (!ids.empty()) tx.Prefetch(ids);
            for (const engine::Event& e : chunk) statuses.push_back(ApplyOne(tx, e, after));
        };
        if (RunTx(run, effects) == Outcome::kInDoubt) {
            // Resolved by re-reading, not by running it again: the caller reloads the
            // pending items (resync); a reply not acknowledged comes again and is then
            // found applied or not.
            statuses.assign(chunk.size(), Status{ErrorCode::kUnavailable,
                                                 "the store's commit was in doubt; it is re-read, not re-run"});
        }
        out.insert(out.end(), statuses.begin(), statuses.end());
    }
    return out;
}

Status SagaService::ApplyOne(StoreTx& tx, const engine::Event& event, Effects& after) {
    return std::visit(Overloaded{[&](const Reply& r) { return ApplyReply(tx, r, after); },
                                 [&](const DeadlinePassed& d) { return ApplyDeadline(tx, d, after); },
                                 [&](const OperatorAction& a) { return ApplyOperator(tx, a, after); },
                                 [&](const Unserved& u) { return ApplyUnserved(tx, u); },
                                 [&](const WaitDue& w) { return ApplyWaitDue(tx, w, after); },
                                 [&](const SignalSent& g) { return ApplySignal(tx, g, after); },
                                 [&](const BulkPage& p) { return ApplyBulkPage(tx, p, after); }},
                      event);
}

Status SagaService::ApplyBulkPage(StoreTx& tx, const BulkPage& page, Effects& after) {
    auto job = tx.GetBulkJob(page.job_id);
    if (!job) return {ErrorCode::kNotFound, "no bulk job " + page.job_id};
    const auto at = [](const std::optional<SagaCursor>& c) { return c ? std::optional(std::pair(c->created_at, c->id)) : std::nullopt; };
    if (job->state != BulkState::kRunning || at(job->filter.after) != at(page.from)) {
        return {ErrorCode::kAborted, "bulk job " + page.job_id + " is not where this page was read from"};
    }
    std::int64_t applied = 0, refused = 0;
    for (const OperatorAction& a : page.actions) {
        // A refusal wrote nothing; a store failure throws, and the whole page runs again.
        if (ApplyOperator(tx, a, after).ok()) {
            ++applied;
        } else {
            ++refused;
        }
    }
    job->done += applied;
    job->refused += refused;
    if (page.last) job->filter.after = page.last;
    if (page.final) job->state = BulkState::kFinished;
    job->updated_at = clock_.Now();
    tx.UpdateBulkJob(*job);
    return {ErrorCode::kOk, "applied " + std::to_string(applied) + ", refused " + std::to_string(refused)};
}

Status SagaService::ApplyReply(StoreTx& tx, const Reply& reply, Effects& after) {
    auto item = tx.GetPending(reply.msg_id);
    std::optional<SagaRecord> saga;
    if (item) {
        if (reply.saga_id && *reply.saga_id != item->saga_id) {
            return {ErrorCode::kInvalidArgument, "reply for msg " + reply.msg_id.str() + " names saga " +
                                                     reply.saga_id->str() + ", not its command's: forged"};
        }
        saga = tx.GetSaga(item->saga_id);
    } else if (reply.saga_id && IsUuid(reply.saga_id->str())) {
        saga = tx.GetSaga(*reply.saga_id);  // a late or duplicate reply: recorded on its saga
    }
    if (!saga) return {ErrorCode::kNotFound, "no pending command with msg id " + reply.msg_id.str()};
    if (registry_.Find(saga->workflow, saga->workflow_version) == nullptr) {
        // Left untouched: the worker's inbox keeps the outcome for a sagad that has it.
        return {ErrorCode::kFailedPrecondition, UnregisteredReason(*saga)};
    }

    HistoryEvent replied = item ? Note(*item, "replied") : Note(*saga, "replied");
    replied.msg_id = reply.msg_id;
    replied.detail["outcome"] = ToString(reply.outcome);
    if (!reply.reason.empty()) replied.detail["reason"] = reply.reason;
    if (!reply.worker.empty()) replied.detail["worker"] = reply.worker;
    if (!reply.key.empty()) replied.detail["key"] = reply.key;
    auto ignore = [&](const char* why) {
        replied.kind = "reply_ignored";
        replied.detail["why"] = why;
        tx.AppendHistory(replied);
        Fact f = FactOf(*saga, Fact::Kind::kIgnoredReply);
        f.msg_id = reply.msg_id;
        f.reason = why;
        after.facts.push_back(std::move(f));
        return Status{ErrorCode::kFailedPrecondition, "saga " + saga->id.str() + " does not await msg " +
                                                          reply.msg_id.str() + " (duplicate or late reply)"};
    };
    if (!item) return ignore("duplicate or late");
    if (reply.late) return ignore("not from the worker it was last sent to");

    Move move;
    move.event.kind = KindOf(reply.outcome);
    move.event.node = item->node;
    move.event.phase = item->phase;
    move.event.attempt = item->attempt;
    move.answered = item;
    move.events = SentEvents(*item);
    move.events.push_back(replied);
    if (reply.outcome == ReplyOutcome::kFail) {
        move.reason = CommandLabel(*item) + " failed: " + reply.reason;
    } else if (reply.outcome == ReplyOutcome::kRetry) {
        move.reason = CommandLabel(*item) + " failed after " + std::to_string(item->attempt) + " attempts: " + reply.reason;
    }
    SagaRecord next = *saga;
    if (item->phase == Phase::kForward && reply.outcome == ReplyOutcome::kOk) next.context[item->action] = reply.output;
    Fact attempt = AttemptFact(*saga, *item, std::string(ToString(reply.outcome)));
    if (Advance(tx, next, std::move(move), after)) {
        after.facts.push_back(std::move(attempt));
        return {};
    }
    // The item was armed, but its node no longer waits for it (a row from before a repair):
    // resolve it, so it is not offered again, and record why.
    tx.DeletePending(*item);
    after.forget.push_back(item->msg_id);
    return ignore("its node does not await it");
}

Status SagaService::ApplyDeadline(StoreTx& tx, const DeadlinePassed& deadline, Effects& after) {
    auto item = tx.GetPending(deadline.msg_id);
    if (!item) {  // resolved since (a reply won the race): nothing awaits it any more
        after.forget.push_back(deadline.msg_id);
        return {};
    }
    if (item->attempt != deadline.attempt) return {};  // this attempt was handled; the next one is armed
    auto saga = tx.GetSaga(item->saga_id);
    if (!saga) return {};
    if (registry_.Find(saga->workflow, saga->workflow_version) == nullptr) {
        after.forget.push_back(deadline.msg_id);  // left untouched in the store, for a sagad that has it
        return {};
    }
    Move move;
    move.event.kind = PlanEvent::Kind::kRetry;
    move.event.node = item->node;
    move.event.phase = item->phase;
    move.event.attempt = item->attempt;
    move.answered = item;
    move.events = SentEvents(*item);
    move.events.push_back(Note(*item, "timed_out"));
    move.reason = CommandLabel(*item) + " got no reply after " + std::to_string(item->attempt) + " attempts";
    Fact attempt = AttemptFact(*saga, *item, "timeout");
    if (Advance(tx, *saga, std::move(move), after)) {
        after.facts.push_back(std::move(attempt));
    } else {
        tx.DeletePending(*item);  // its node no longer waits for it
        after.forget.push_back(deadline.msg_id);
    }
    return {};
}

Status SagaService::ApplyUnserved(StoreTx& tx, const Unserved& unserved) {
    auto item = tx.GetPending(unserved.msg_id);
    if (!item) return {};  // answered or withdrawn since: nothing waits
    HistoryEvent e = Note(*item, "unserved");
    e.detail["queue"] = unserved.queue;
    e.detail["action"] = unserved.action;
    e.detail["why"] = "no connected worker serves action '" + unserved.action + "' of queue '" + unserved.queue +
                      "'; the command waits for one";
    tx.AppendHistory(e);
    return {};
}

Status SagaService::ApplyWaitDue(StoreTx& tx, const WaitDue& due, Effects& after) {
    auto item = tx.GetPending(due.id);
    if (!item || !IsDueTime(item->kind)) {  // resolved since: its node finished, or the saga moved on
        after.forget.push_back(due.id);
        return {};
    }
    auto saga = tx.GetSaga(item->saga_id);
    if (!saga) return {};
    if (registry_.Find(saga->workflow, saga->workflow_version) == nullptr) {
        after.forget.push_back(due.id);  // left untouched in the store, for a sagad that has it
        return {};
    }
    const bool timer = item->kind == PendingKind::kTimer;
    Move move;
    move.event.kind = timer ? PlanEvent::Kind::kFired : PlanEvent::Kind::kExpired;
    move.event.node = item->node;
    move.answered = item;
    move.events.push_back(Note(*item, timer ? "timer_fired" : "deadline_passed"));
    if (!Advance(tx, *saga, std::move(move), after)) {
        tx.DeletePending(*item);  // its node no longer waits for it
        after.forget.push_back(due.id);
    }
    return {};
}

Status SagaService::ApplySignal(StoreTx& tx, const SignalSent& g, Effects& after) {
    if (!IsValidName(g.name)) return {ErrorCode::kInvalidArgument, "signal name must be 1-128 of [A-Za-z0-9_.-]"};
    if (!IsValidName(g.id)) return {ErrorCode::kInvalidArgument, "signal id must be 1-128 of [A-Za-z0-9_.-]"};
    if (!g.payload.is_object()) return {ErrorCode::kInvalidArgument, "signal payload must be a JSON object"};
    if (g.payload.dump().size() > kMaxSignalPayloadBytes) {
        return {ErrorCode::kInvalidArgument, "signal payload is over 256 KiB"};
    }
    auto saga = tx.GetSaga(g.saga_id);
    if (!saga) return {ErrorCode::kNotFound, "no saga " + g.saga_id.str()};
    const Workflow* wf = registry_.Find(saga->workflow, saga->workflow_version);
    if (wf == nullptr) return {ErrorCode::kFailedPrecondition, UnregisteredReason(*saga)};
    if (tx.GetSignal(saga->id, g.id)) {
        return {ErrorCode::kAlreadyExists, "signal '" + g.name + "' with id " + g.id + " was already applied to saga " +
                                               saga->id.str()};
    }
    HistoryEvent e = Note(*saga, "signal_received");
    e.detail = {{"signal", g.name}, {"signal_id", g.id}};
    Stamp(e, g.by);
    bool named = false;
    for (const Workflow::Place& place : wf->nodes()) {
        if (place.def->kind == NodeKind::kSignal && place.def->signal == g.name) named = true;
    }
    auto refuse = [&](ErrorCode code, std::string why) {
        e.kind = "signal_rejected";
        e.detail["why"] = why;
        tx.AppendHistory(e);
        return Status{code, std::move(why)};
    };
    if (saga->status != SagaStatus::kRunning) {
        return refuse(ErrorCode::kFailedPrecondition, "saga " + saga->id.str() + " is " +
                                                          std::string(ToString(saga->status)) + "; only a running saga takes signals");
    }
    if (!named) {
        return refuse(ErrorCode::kInvalidArgument, "no wait of workflow '" + wf->name() + "' v" +
                                                       std::to_string(wf->version()) + " names signal '" + g.name + "'");
    }
    SignalRecord record{saga->id, g.id, g.name, g.payload, {}, clock_.Now()};
    std::optional<PendingRecord> wait;
    for (const PendingRecord& p : tx.PendingOf(saga->id)) {
        if (p.kind == PendingKind::kSignal && p.action == g.name) {
            wait = p;
            break;
        }
    }
    if (!wait) {  // kept until the saga reaches a wait for it
        tx.InsertSignal(record);
        e.detail["kept"] = true;
        tx.AppendHistory(e);
        return {ErrorCode::kOk, std::string(kSignalKept)};
    }
    record.consumed_by = wait->node;
    tx.InsertSignal(record);
    e.node = wait->node;
    e.msg_id = wait->msg_id;
    SagaRecord next = *saga;
    next.context[wait->node] = g.payload;
    Move move;
    move.event.kind = PlanEvent::Kind::kSignal;
    move.event.node = wait->node;
    move.answered = wait;
    move.events.push_back(e);
    if (!Advance(tx, next, std::move(move), after)) {
        tx.DeletePending(*wait);  // its node no longer waits: the signal is recorded, taken by nothing
        after.forget.push_back(wait->msg_id);
        return {ErrorCode::kFailedPrecondition, "saga " + saga->id.str() + " no longer waits at node '" + wait->node + "'"};
    }
    return {ErrorCode::kOk, std::string(kSignalDelivered)};
}

std::string_view ToString(OperatorAction::Kind kind) noexcept {
    switch (kind) {
        case OperatorAction::Kind::kCompensate: return "compensate";
        case OperatorAction::Kind::kRetry: return "retry";
        case OperatorAction::Kind::kResume: return "resume";
        case OperatorAction::Kind::kSkip: return "skip";
        case OperatorAction::Kind::kCancel: return "cancel";
        case OperatorAction::Kind::kResolve: return "resolve";
    }
    return "unknown";
}

namespace {

// Why the lifecycle (or the Plan) refused `action` on a saga that is `was`.
Status NotNow(const OperatorAction& action, SagaStatus was) {
    using Kind = OperatorAction::Kind;
    const bool parked = was == SagaStatus::kParked;
    std::string why;
    switch (action.kind) {
        case Kind::kCompensate: why = "only running, parked and completed sagas can be compensated"; break;
        case Kind::kRetry:
            why = parked ? "it has no parked node '" + action.node + "'" : "only failed and parked sagas can be retried";
            break;
        case Kind::kResume:
            why = parked ? "it has no parked node '" + action.node + "'" : "only a parked saga can be resumed";
            break;
        case Kind::kSkip: why = "only a parked node, or a running step or wait, can be skipped"; break;
        case Kind::kCancel:
        case Kind::kResolve: why = "it has ended already"; break;
    }
    return {ErrorCode::kFailedPrecondition, "saga " + action.saga_id.str() + " is " + std::string(ToString(was)) + "; " + why};
}

}  // namespace

Status SagaService::CompensationRefused(const SagaRecord& saga, const Workflow& wf, const OperatorAction& action) {
    const SagaId& id = saga.id;
    const Plan& plan = PlanOf(wf);
    // A bad node is a bad request, whatever the saga's state; its state comes after.
    const Status from = action.from_node.empty() ? Status{} : plan.CompensateFrom(saga.nodes, action.from_node);
    if (from.code == ErrorCode::kInvalidArgument) return from;
    if (!Decide(saga.status, LifecycleEvent::kManualCompensate).accepted) return NotNow(action, saga.status);
    if (const auto pivot = plan.PassedPivot(saga.nodes); pivot && !IsUndoing(saga.status)) {
        if (!action.force) {
            return {ErrorCode::kFailedPrecondition,
                    "saga " + id.str() + " has passed its pivot '" + *pivot +
                        "': what it did cannot be undone by compensating (force it with a reason)"};
        }
        if (action.reason.empty()) return {ErrorCode::kInvalidArgument, "a forced compensation needs a reason"};
    }
    // A pivot in flight may pass the point of no return before its outcome comes back.
    for (int m = 0; m < static_cast<int>(wf.nodes().size()) && !action.force && !IsUndoing(saga.status); ++m) {
        const NodeDef& d = wf.node(m);
        if (d.kind == NodeKind::kStep && d.step.kind == StepKind::kPivot && saga.nodes.at(d.id).state == NodeState::kRunning) {
            return {ErrorCode::kFailedPrecondition,
                    "saga " + id.str() + " has its pivot '" + d.id +
                        "' in flight: once it is done nothing can be undone; compensate when it has ended (or force it with a reason)"};
        }
    }
    if (!from.ok()) return {from.code, "saga " + id.str() + ": " + from.message};
    return {};
}

std::vector<PendingRecord> SagaService::Withdrawable(StoreTx& tx, const SagaRecord& saga) const {
    std::vector<PendingRecord> out;
    if (saga.status != SagaStatus::kRunning) return out;
    for (const PendingRecord& p : tx.PendingOf(saga.id)) {
        if (p.kind == PendingKind::kCommand && p.phase == Phase::kForward && deliveries_.SurelyUnsent(p.msg_id)) {
            out.push_back(p);
        }
    }
    return out;
}

Result<CompensationPreview> SagaService::PreviewCompensation(const OperatorAction& action) {
    auto tx = store_.Begin();  // read only: never committed
    auto saga = tx->GetSaga(action.saga_id);
    if (!saga) return Status{ErrorCode::kNotFound, "no saga " + action.saga_id.str()};
    const Workflow* wf = WorkflowOf(*saga);
    if (wf == nullptr) return Status{ErrorCode::kFailedPrecondition, UnregisteredReason(*saga)};
    CompensationPreview out{*saga, std::nullopt, std::nullopt};
    OperatorAction asked = action;
    if (asked.reason.empty()) asked.reason = "preview";  // a forced one needs a reason; a preview writes none
    if (Status refused = CompensationRefused(*saga, *wf, asked); !refused.ok()) {
        if (refused.code == ErrorCode::kInvalidArgument) return refused;
        out.refused = std::move(refused);
        return out;
    }
    std::vector<std::string> withdrawn;
    for (const PendingRecord& p : Withdrawable(*tx, *saga)) withdrawn.push_back(p.node);
    out.plan = PlanOf(*wf).PreviewCompensation(saga->nodes, withdrawn, action.from_node,
                                               FlowFacts{saga->input, saga->context, true, clock_.Now()});
    if (!out.plan) out.refused = NotNow(action, saga->status);
    return out;
}

Status SagaService::ApplyOperator(StoreTx& tx, const OperatorAction& action, Effects& after) {
    using Kind = OperatorAction::Kind;
    const SagaId& id = action.saga_id;
    auto saga = tx.GetSaga(id);
    if (!saga) return {ErrorCode::kNotFound, "no saga " + id.str()};
    const Workflow* wf = registry_.Find(saga->workflow, saga->workflow_version);
    if (wf == nullptr) return {ErrorCode::kFailedPrecondition, UnregisteredReason(*saga)};
    const SagaStatus was = saga->status;
    const bool parked = was == SagaStatus::kParked;
    const std::string word(ToString(action.kind));
    const bool needs_reason = action.kind == Kind::kSkip || action.kind == Kind::kCancel || action.kind == Kind::kResolve;
    if (needs_reason && action.reason.empty()) return {ErrorCode::kInvalidArgument, "a " + word + " needs a reason"};
    Move move;
    switch (action.kind) {
        case Kind::kCompensate: {
            if (Status refused = CompensationRefused(*saga, *wf, action); !refused.ok()) return refused;
            move.first = LifecycleEvent::kManualCompensate;
            move.event.kind = PlanEvent::Kind::kCompensate;
            move.event.node = action.from_node;
            move.reason = "manual compensation: " + (action.reason.empty() ? "no reason given" : action.reason);
            move.withdrawn = Withdrawable(tx, *saga);
            for (const PendingRecord& p : move.withdrawn) move.event.withdrawn.push_back(p.node);
            break;
        }
        case Kind::kResume:
            if (!parked) return NotNow(action, was);
            [[fallthrough]];
        case Kind::kRetry:
            if (parked) {
                move.first = LifecycleEvent::kOperatorResume;
                move.event.kind = PlanEvent::Kind::kRetryNode;
                move.event.node = action.node;
            } else {
                move.first = LifecycleEvent::kManualRetry;
                move.event.kind = PlanEvent::Kind::kRetryUndo;
                move.reason = CompensationCause(tx, id);
            }
            break;
        case Kind::kSkip: {
            const int n = wf->find(action.node);
            if (n < 0) return {ErrorCode::kInvalidArgument, "workflow " + saga->workflow + " has no node '" + action.node + "'"};
            nlohmann::json output = action.output;
            if (output.is_null()) {
                if (const auto readers = wf->readers_of(n); !readers.empty()) {
                    return {ErrorCode::kInvalidArgument, "node '" + action.node + "''s output is read by '" + readers.front() +
                                                             "': a skip of it needs an output"};
                }
                output = nlohmann::json::object();
            }
            if (!output.is_object()) return {ErrorCode::kInvalidArgument, "a skipped node's output must be a JSON object"};
            if (parked) move.first = LifecycleEvent::kOperatorResume;
            move.event.kind = PlanEvent::Kind::kSkipNode;
            move.event.node = action.node;
            const NodeDef& d = wf->node(n);
            saga->context[d.kind == NodeKind::kStep ? d.step.name : d.id] = output;
            for (const PendingRecord& p : tx.PendingOf(id)) {  // what the node awaited goes
                if (p.node == action.node && p.phase == Phase::kForward && p.kind == PendingKind::kCommand) {
                    move.withdrawn.push_back(p);
                }
            }
            break;
        }
        case Kind::kCancel:
        case Kind::kResolve: {
            const bool cancel = action.kind == Kind::kCancel;
            if (!cancel && action.resolve_to != SagaStatus::kCompleted && action.resolve_to != SagaStatus::kCompensated) {
                return {ErrorCode::kInvalidArgument, "a saga is resolved as completed or compensated"};
            }
            const bool moving = was == SagaStatus::kRunning || was == SagaStatus::kCompensating;
            if (!cancel && moving && !action.force) {
                return {ErrorCode::kFailedPrecondition, "saga " + id.str() + " is " + std::string(ToString(was)) +
                                                            "; resolving a saga that still moves needs force"};
            }
            move.first = cancel ? LifecycleEvent::kCancel
                                : action.resolve_to == SagaStatus::kCompleted ? LifecycleEvent::kResolveCompleted
                                                                              : LifecycleEvent::kResolveCompensated;
            move.event.kind = PlanEvent::Kind::kClose;
            move.reason = (cancel ? "cancelled by an operator: " : "resolved by an operator: ") + action.reason;
            move.withdrawn = tx.PendingOf(id);  // nothing of it runs any more
            for (const PendingRecord& p : move.withdrawn) {
                if (p.kind == PendingKind::kCommand) move.events.push_back(Note(p, "abandoned"));
            }
            break;
        }
    }
    HistoryEvent requested = Note(*saga, std::string(word) + "_requested");
    if (action.kind == Kind::kCompensate) requested.kind = "compensation_requested";
    if (!action.reason.empty() || action.kind == Kind::kCompensate) requested.detail["reason"] = action.reason;
    if (!action.node.empty()) requested.node = action.node;
    if (action.kind == Kind::kSkip) requested.detail["output"] = saga->context[action.node];
    if (!action.from_node.empty()) requested.detail["from_node"] = action.from_node;
    if (!action.bulk_job.empty()) requested.detail["bulk"] = action.bulk_job;
    if (action.kind == Kind::kResolve) requested.detail["status"] = ToString(action.resolve_to);
    if (action.force) requested.detail["force"] = true;
    Stamp(requested, action.by);
    move.events.insert(move.events.begin(), requested);
    if (action.kind == Kind::kSkip) {
        for (const PendingRecord& p : move.withdrawn) move.events.push_back(Note(p, "abandoned"));
    }
    Fact op = FactOf(*saga, Fact::Kind::kOperator);
    op.outcome = word;
    op.reason = action.reason;
    if (Advance(tx, *saga, std::move(move), after)) {
        after.facts.push_back(std::move(op));
        return {};
    }
    return NotNow(action, was);
}

std::optional<MsgId> SagaService::LastCommandOf(StoreTx& tx, const SagaId& id, const std::string& node) {
    const auto history = tx.History(id);
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
        if (it->kind == "queued" && it->node == node && it->phase == Phase::kForward && it->msg_id) return it->msg_id;
    }
    return std::nullopt;
}

std::string SagaService::CompensationCause(StoreTx& tx, const SagaId& id) {
    // The history keeps every reason; the saga row shows the one of its current state. A
    // retried saga compensates again for the reason it first did, not for the failure
    // the operator just fixed.
    const auto history = tx.History(id);
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
        if (it->kind == ToString(SagaStatus::kCompensating) && it->detail.contains("reason")) {
            return it->detail["reason"].get<std::string>();
        }
    }
    return {};
}

}  // namespace sagaflow::engine
