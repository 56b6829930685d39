#include "engine.hpp"

#include "backoff.hpp"
#include "queries.hpp"

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
        case FlowSignal::kNone: break;
    }
    throw Error(ErrorCode::kInternal, "no lifecycle event for an empty signal");
}

PlanEvent Plain(PlanEvent::Kind kind) {
    PlanEvent e;
    e.kind = kind;
    return e;
}

}  // namespace

Engine::Engine(const WorkflowRegistry& registry, SagaStore& store, CommandSink& sink,
               const Clock& clock, EngineOptions options)
    : registry_(registry),
      store_(store),
      sink_(sink),
      clock_(clock),
      options_(options),
      rng_(options.seed != 0 ? options.seed : std::random_device{}()) {}

Engine::~Engine() = default;

void Engine::RunTx(const std::function<void(StoreTx&, AfterCommit&)>& fn) {
    for (int attempt = 1;; ++attempt) {
        AfterCommit after;
        try {
            auto tx = store_.Begin();
            fn(*tx, after);
            tx->Commit();
        } catch (const Error& e) {
            if (!IsRetryable(e.code())) throw;
            // The commit may have landed (in doubt): whatever it armed is in the store,
            // so reload the pending items before trusting the in-memory view again.
            resync_ = true;
            if (attempt >= options_.max_tx_attempts) throw;
            continue;
        }
        Apply(after);
        return;
    }
}

std::string UnregisteredReason(const SagaRecord& saga) {
    return "saga " + saga.id.str() + " uses workflow '" + saga.workflow + "' v" +
           std::to_string(saga.workflow_version) +
           ", which this sagad does not register: it is left untouched until one that does runs";
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
        out.push_back(std::move(a));
    }
    return out;
}

const Workflow* Engine::WorkflowOf(const SagaRecord& saga) const {
    const Workflow* wf = registry_.Find(saga.workflow, saga.workflow_version);
    if (wf == nullptr) throw Error(ErrorCode::kFailedPrecondition, UnregisteredReason(saga));
    return wf;
}

const Plan& Engine::PlanOf(const Workflow& wf) {
    auto it = plans_.find(&wf);
    if (it == plans_.end()) it = plans_.emplace(&wf, Plan(wf)).first;
    return it->second;
}

HistoryEvent Engine::Event(const SagaRecord& saga, std::string kind) const {
    HistoryEvent e;
    e.saga_id = saga.id;
    e.at = clock_.Now();
    e.kind = std::move(kind);
    return e;
}

HistoryEvent Engine::Event(const PendingRecord& c, std::string kind) const {
    HistoryEvent e;
    e.saga_id = c.saga_id;
    e.at = clock_.Now();
    e.kind = std::move(kind);
    e.node = c.node;
    e.phase = c.phase;
    e.attempt = c.attempt;
    e.msg_id = c.msg_id;
    e.detail = {{"action", c.action}, {"queue", c.queue}};
    return e;
}

std::vector<HistoryEvent> Engine::SentEvents(const PendingRecord& item) const {
    // When this engine sent it; after a restart the send time is unknown and not recorded.
    auto it = tracked_.find(item.msg_id);
    if (it == tracked_.end() || !it->second.sent_at) return {};
    HistoryEvent sent = Event(item, "sent");
    sent.at = *it->second.sent_at;
    return {std::move(sent)};
}

double Engine::NextUnitRandom() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

bool Engine::Advance(StoreTx& tx, SagaRecord& saga, Move move, AfterCommit& after) {
    const Workflow& wf = *WorkflowOf(saga);
    const Plan& plan = PlanOf(wf);
    const Timestamp now = clock_.Now();
    const bool is_new = move.first == LifecycleEvent::kBegin;
    std::vector<HistoryEvent> events = std::move(move.events);
    if (is_new) events.push_back(Event(saga, "started"));

    std::optional<SagaStatus> status;
    if (!is_new) status = saga.status;
    auto decide = [&](LifecycleEvent event, const std::string& reason) {
        const Decision d = Decide(status, event);
        if (!d.accepted) return false;
        if (status && d.status != *status) {
            HistoryEvent e = Event(saga, std::string(ToString(d.status)));
            if (!reason.empty()) e.detail["reason"] = reason;
            events.push_back(std::move(e));
            const bool off_path = d.status != SagaStatus::kRunning && d.status != SagaStatus::kCompleted;
            if (off_path && !reason.empty()) saga.failure_reason = reason;
        }
        status = d.status;
        return true;
    };
    if (move.first && !decide(*move.first, move.reason)) return false;

    FlowState nodes = saga.nodes;
    std::vector<PendingRecord> inserts;
    bool resent = false;
    auto walk = [&](const PlanEvent& event) {
        PlanResult r = plan.Apply(nodes, event, FlowFacts{saga.input, saga.context, IsUndoing(*status)});
        if (!r.accepted) return r;
        for (const PlanEffect& effect : r.effects) {
            const NodeDef& node = wf.node(wf.find(effect.node));
            const bool fwd = effect.phase == Phase::kForward;
            switch (effect.kind) {
                case PlanEffect::Kind::kSend: {
                    PendingRecord c;
                    c.msg_id = MsgId(NewUuid());
                    c.saga_id = saga.id;
                    c.node = node.id;
                    c.phase = effect.phase;
                    c.action = fwd ? node.step.name : node.step.compensation->action;
                    c.queue = fwd ? node.step.queue : node.step.compensation->queue;
                    c.attempt = 1;
                    c.not_before = now;
                    c.created_at = now;
                    events.push_back(Event(c, "queued"));
                    inserts.push_back(std::move(c));
                    break;
                }
                case PlanEffect::Kind::kResend: {
                    if (!move.answered || move.answered->node != effect.node) {
                        throw Error(ErrorCode::kInternal, "resend of a command that was not answered");
                    }
                    PendingRecord& again = *move.answered;
                    const RetryPolicy& policy = fwd ? node.step.retry : node.step.compensation->retry;
                    const Duration delay = BackoffDelay(policy, again.attempt, NextUnitRandom());
                    again.attempt += 1;
                    again.not_before = now + delay;
                    HistoryEvent e = Event(again, "retry_scheduled");
                    e.detail["delay_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
                    events.push_back(std::move(e));
                    resent = true;
                    break;
                }
                case PlanEffect::Kind::kWithdraw:
                    for (const PendingRecord& w : move.withdrawn) {
                        if (w.node == effect.node) events.push_back(Event(w, "withdrawn"));
                    }
                    break;
            }
        }
        return r;
    };

    PlanResult r = walk(move.event);
    if (!r.accepted) return false;
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
        after.track.emplace_back(c, MakeCommand(c, saga, wf));
    }
    for (const HistoryEvent& e : events) tx.AppendHistory(e);
    return true;
}

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
    RunTx([&](StoreTx& tx, AfterCommit& after) {
        for (std::size_t i = 0; i < requests.size(); ++i) {
            if (!results[i].ok()) continue;
            const StartRequest& req = requests[i];
            const SagaId& id = ids[i];
            if (tx.GetSaga(id)) continue;  // a rerun: this one committed already
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
            saga.trace_id = TraceId(NewUuid());
            saga.created_at = clock_.Now();
            Move move;
            move.first = LifecycleEvent::kBegin;
            move.event = Plain(PlanEvent::Kind::kBegin);
            if (!Advance(tx, saga, std::move(move), after)) {
                throw Error(ErrorCode::kInternal, "a new saga was refused");
            }
            results[i] = StartResult{id, true};
        }
    });
    return results;
}

Status Engine::ApplyReply(const Reply& reply) {
    return ApplyReplies(std::span<const Reply>(&reply, 1)).front();
}

std::vector<Status> Engine::ApplyReplies(std::span<const Reply> replies) {
    std::vector<Status> out;
    out.reserve(replies.size());
    const auto batch = static_cast<std::size_t>(options_.max_batch);
    for (std::size_t begin = 0; begin < replies.size(); begin += batch) {
        const auto chunk = replies.subspan(begin, std::min(batch, replies.size() - begin));
        std::vector<Status> statuses;
        std::vector<MsgId> ids;
        for (const Reply& r : chunk) ids.push_back(r.msg_id);
        RunTx([&](StoreTx& tx, AfterCommit& after) {
            statuses.clear();
            tx.Prefetch(ids);
            for (const Reply& r : chunk) statuses.push_back(ApplyOneReply(tx, r, after));
        });
        out.insert(out.end(), statuses.begin(), statuses.end());
    }
    return out;
}

Status Engine::ApplyOneReply(StoreTx& tx, const Reply& reply, AfterCommit& after) {
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

    HistoryEvent replied = item ? Event(*item, "replied") : Event(*saga, "replied");
    replied.msg_id = reply.msg_id;
    replied.detail["outcome"] = ToString(reply.outcome);
    if (!reply.reason.empty()) replied.detail["reason"] = reply.reason;
    auto ignore = [&](const char* why) {
        replied.kind = "reply_ignored";
        replied.detail["why"] = why;
        tx.AppendHistory(replied);
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
    if (Advance(tx, next, std::move(move), after)) return {};
    // The item was armed, but its node no longer waits for it (a row from before a repair):
    // resolve it, so it is not offered again, and record why.
    tx.DeletePending(*item);
    after.forget.push_back(item->msg_id);
    return ignore("its node does not await it");
}

Status Engine::Operate(const SagaId& id, LifecycleEvent event, HistoryEvent requested,
                       const std::string& reason, const std::string& allowed) {
    Status status;
    RunTx([&](StoreTx& tx, AfterCommit& after) {
        auto saga = tx.GetSaga(id);
        if (!saga) {
            status = {ErrorCode::kNotFound, "no saga " + id.str()};
            return;
        }
        if (registry_.Find(saga->workflow, saga->workflow_version) == nullptr) {
            status = {ErrorCode::kFailedPrecondition, UnregisteredReason(*saga)};
            return;
        }
        const SagaStatus was = saga->status;
        requested.saga_id = id;
        Move move;
        move.first = event;
        move.events.push_back(requested);
        if (event == LifecycleEvent::kManualCompensate) {
            move.event.kind = PlanEvent::Kind::kCompensate;
            move.reason = reason;
            if (saga->status == SagaStatus::kRunning) {
                for (const PendingRecord& p : tx.PendingOf(id)) {
                    if (p.phase != Phase::kForward || !SurelyUnsent(p.msg_id)) continue;
                    move.event.withdrawn.push_back(p.node);
                    move.withdrawn.push_back(p);
                }
            }
        } else {
            move.event.kind = PlanEvent::Kind::kRetryUndo;
            move.reason = CompensationCause(tx, id);
        }
        if (Advance(tx, *saga, std::move(move), after)) {
            status = {};
        } else {
            status = {ErrorCode::kFailedPrecondition,
                      "saga " + id.str() + " is " + std::string(ToString(was)) + "; " + allowed};
        }
    });
    return status;
}

Status Engine::Compensate(const SagaId& id, const std::string& reason) {
    HistoryEvent requested;
    requested.at = clock_.Now();
    requested.kind = "compensation_requested";
    requested.detail["reason"] = reason;
    return Operate(id, LifecycleEvent::kManualCompensate, std::move(requested),
                   "manual compensation: " + (reason.empty() ? "no reason given" : reason),
                   "only running and completed sagas can be compensated");
}

Status Engine::Retry(const SagaId& id) {
    HistoryEvent requested;
    requested.at = clock_.Now();
    requested.kind = "retry_requested";
    return Operate(id, LifecycleEvent::kManualRetry, std::move(requested), {}, "only failed sagas can be retried");
}

std::string Engine::CompensationCause(StoreTx& tx, const SagaId& id) {
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

std::vector<SagaRecord> Engine::List(const SagaFilter& filter) { return Queries(store_, options_.max_tx_attempts).List(filter); }

Result<SagaView> Engine::Describe(const SagaId& id) { return Queries(store_, options_.max_tx_attempts).Describe(id); }

}  // namespace sagaflow::engine
