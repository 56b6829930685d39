#include "engine.hpp"

#include "backoff.hpp"

namespace sagaflow::engine {
namespace {

constexpr std::size_t kMaxBusinessKeyBytes = 256;

LifecycleEvent EventFor(Phase phase, ReplyOutcome outcome) {
    const bool fwd = phase == Phase::kForward;
    switch (outcome) {
        case ReplyOutcome::kOk:
            return fwd ? LifecycleEvent::kStepOk : LifecycleEvent::kCompensationOk;
        case ReplyOutcome::kFail:
            return fwd ? LifecycleEvent::kStepFailed : LifecycleEvent::kCompensationFailed;
        case ReplyOutcome::kRetry:
            return fwd ? LifecycleEvent::kStepRetry : LifecycleEvent::kCompensationRetry;
    }
    throw Error(ErrorCode::kInvalidArgument, "unknown reply outcome");
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
            // The commit may have landed (in doubt): whatever it queued is in the outbox,
            // so reload the outbox before trusting the in-memory view again.
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

const Workflow* Engine::WorkflowOf(const SagaRecord& saga) const {
    const Workflow* wf = registry_.Find(saga.workflow, saga.workflow_version);
    if (wf == nullptr) throw Error(ErrorCode::kFailedPrecondition, UnregisteredReason(saga));
    return wf;
}

const std::vector<StepShape>& Engine::ShapesOf(const Workflow& wf) {
    auto [it, inserted] = shapes_.try_emplace(&wf);
    if (inserted) {
        for (const StepDef& s : wf.steps()) {
            it->second.push_back({s.compensation.has_value(), s.retry.max_attempts,
                                  s.compensation ? s.compensation->retry.max_attempts : 1});
        }
    }
    return it->second;
}

HistoryEvent Engine::Event(const SagaRecord& saga, std::string kind) const {
    HistoryEvent e;
    e.saga_id = saga.id;
    e.at = clock_.Now();
    e.kind = std::move(kind);
    return e;
}

HistoryEvent Engine::Event(const CommandRecord& c, std::string kind) const {
    HistoryEvent e;
    e.saga_id = c.saga_id;
    e.at = clock_.Now();
    e.kind = std::move(kind);
    e.step_index = c.step_index;
    e.phase = c.phase;
    e.attempt = c.attempt;
    e.msg_id = c.msg_id;
    e.detail = {{"action", c.action}, {"queue", c.queue}};
    return e;
}

std::vector<HistoryEvent> Engine::SentEvents(const CommandRecord& command) const {
    // When this engine sent it; after a restart the send time is unknown and not recorded.
    auto it = tracked_.find(command.msg_id);
    if (it == tracked_.end() || !it->second.sent_at) return {};
    HistoryEvent sent = Event(command, "sent");
    sent.at = *it->second.sent_at;
    return {std::move(sent)};
}

double Engine::NextUnitRandom() { return std::uniform_real_distribution<double>(0.0, 1.0)(rng_); }

bool Engine::Transition(StoreTx& tx, SagaRecord& saga, LifecycleEvent event, int attempt,
                        std::optional<CommandRecord> awaited, const std::string& reason,
                        const std::vector<HistoryEvent>& prelude, AfterCommit& after) {
    const Workflow& wf = *WorkflowOf(saga);
    const bool is_new = event == LifecycleEvent::kBegin;
    std::optional<SagaPoint> current;
    if (!is_new) current = SagaPoint{saga.status, saga.position};
    const Decision d = Decide(current, attempt, ShapesOf(wf), event);
    if (!d.accepted) return false;

    const Timestamp now = clock_.Now();
    std::vector<HistoryEvent> events = prelude;
    if (is_new) events.push_back(Event(saga, "started"));
    if (d.point.status != saga.status || is_new) {
        HistoryEvent e = Event(saga, std::string(ToString(d.point.status)));
        if (!reason.empty()) e.detail["reason"] = reason;
        if (!is_new) events.push_back(std::move(e));
        const bool off_path = d.point.status != SagaStatus::kRunning &&
                              d.point.status != SagaStatus::kCompleted;
        if (off_path && !reason.empty()) saga.failure_reason = reason;
    }

    std::vector<CommandRecord> inserts;
    bool resent = false;
    for (const Effect& effect : d.effects) {
        const StepDef& step = wf.step(static_cast<std::size_t>(effect.step));
        const bool fwd = effect.phase == Phase::kForward;
        if (effect.kind == Effect::Kind::kResend) {
            if (!awaited) throw Error(ErrorCode::kInternal, "resend without an awaited command");
            const RetryPolicy& policy = fwd ? step.retry : step.compensation->retry;
            const Duration delay = BackoffDelay(policy, awaited->attempt, NextUnitRandom());
            awaited->attempt += 1;
            awaited->not_before = now + delay;
            HistoryEvent e = Event(*awaited, "retry_scheduled");
            e.detail["delay_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
            events.push_back(std::move(e));
            resent = true;
            continue;
        }
        CommandRecord c;
        c.msg_id = MsgId(NewUuid());
        c.saga_id = saga.id;
        c.step_index = effect.step;
        c.phase = effect.phase;
        c.action = fwd ? step.name : step.compensation->action;
        c.queue = fwd ? step.queue : step.compensation->queue;
        c.attempt = 1;
        c.not_before = now;
        c.state = CommandState::kPending;
        c.payload = CommandPayload(saga, step.name);
        c.created_at = now;
        events.push_back(Event(c, "queued"));
        inserts.push_back(std::move(c));
    }

    if (awaited) {
        if (!resent) awaited->state = CommandState::kDone;
        tx.UpdateCommand(*awaited);
        if (resent) {
            after.track.push_back(*awaited);
        } else {
            after.forget.push_back(awaited->msg_id);
        }
    }
    if (!inserts.empty()) {
        saga.awaiting = inserts.back().msg_id;
    } else if (awaited && !resent) {
        saga.awaiting.reset();
    }
    saga.status = d.point.status;
    saga.position = d.point.position;
    saga.updated_at = now;
    if (is_new) {
        saga.version = 1;
        if (!tx.InsertSaga(saga)) {
            throw Error(ErrorCode::kAborted, "business key taken by a concurrent start");
        }
    } else {
        const std::int64_t expected = saga.version;
        saga.version = expected + 1;
        tx.UpdateSaga(saga, expected);
    }
    for (const CommandRecord& c : inserts) {
        tx.InsertCommand(c);
        after.track.push_back(c);
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
            Transition(tx, saga, LifecycleEvent::kBegin, 0, std::nullopt, {}, {}, after);
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
    auto command = tx.GetCommand(reply.msg_id);
    if (!command) return {ErrorCode::kNotFound, "no command with msg id " + reply.msg_id.str()};
    if (reply.saga_id && *reply.saga_id != command->saga_id) {
        return {ErrorCode::kInvalidArgument, "reply for msg " + reply.msg_id.str() + " names saga " +
                                                 reply.saga_id->str() + ", not its command's: forged"};
    }
    auto saga = tx.GetSaga(command->saga_id);
    if (!saga) return {ErrorCode::kNotFound, "no saga " + command->saga_id.str()};
    if (registry_.Find(saga->workflow, saga->workflow_version) == nullptr) {
        // Left untouched: the worker's inbox keeps the outcome for a sagad that has it.
        return {ErrorCode::kFailedPrecondition, UnregisteredReason(*saga)};
    }

    HistoryEvent replied = Event(*command, "replied");
    replied.detail["outcome"] = ToString(reply.outcome);
    if (!reply.reason.empty()) replied.detail["reason"] = reply.reason;

    if (reply.late || command->state != CommandState::kPending || saga->awaiting != command->msg_id) {
        replied.kind = "reply_ignored";
        replied.detail["why"] = command->state == CommandState::kDone ? "duplicate or late"
                                : reply.late ? "not from the worker it was last sent to"
                                             : "not awaited";
        tx.AppendHistory(replied);
        return {ErrorCode::kFailedPrecondition, "saga " + saga->id.str() + " does not await msg " +
                                                    reply.msg_id.str() + " (duplicate or late reply)"};
    }

    std::vector<HistoryEvent> prelude = SentEvents(*command);
    prelude.push_back(replied);

    AttemptRecord attempt{saga->id,         command->step_index,     command->phase,
                          command->msg_id,   command->attempt,        std::string(ToString(reply.outcome)),
                          reply.reason,      clock_.Now()};
    tx.InsertAttempt(attempt);

    if (command->phase == Phase::kForward && reply.outcome == ReplyOutcome::kOk) {
        saga->context[command->action] = reply.output;
    }
    std::string reason;
    if (reply.outcome == ReplyOutcome::kFail) {
        reason = CommandLabel(*command) + " failed: " + reply.reason;
    } else if (reply.outcome == ReplyOutcome::kRetry) {
        reason = CommandLabel(*command) + " failed after " + std::to_string(command->attempt) +
                 " attempts: " + reply.reason;
    }
    const int attempts = command->attempt;
    if (!Transition(tx, *saga, EventFor(command->phase, reply.outcome), attempts, command, reason,
                    prelude, after)) {
        throw Error(ErrorCode::kInternal, "lifecycle rejected the reply saga " + saga->id.str() +
                                              " awaited");
    }
    return {};
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
        const SagaStatus was = saga->status;
        requested.saga_id = id;
        std::vector<HistoryEvent> prelude{requested};
        std::optional<CommandRecord> withdrawn;
        LifecycleEvent decided = event;
        if (event == LifecycleEvent::kManualCompensate && saga->status == SagaStatus::kRunning &&
            saga->awaiting && SurelyUnsent(*saga->awaiting)) {
            withdrawn = tx.GetCommand(*saga->awaiting);
            if (withdrawn) {
                decided = LifecycleEvent::kManualCompensateUnsent;
                prelude.push_back(Event(*withdrawn, "withdrawn"));
            }
        }
        const std::string why = event == LifecycleEvent::kManualRetry ? CompensationCause(tx, id) : reason;
        if (Transition(tx, *saga, decided, 0, withdrawn, why, prelude, after)) {
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
    return Operate(id, LifecycleEvent::kManualRetry, std::move(requested), {},
                   "only failed sagas can be retried");
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

std::vector<SagaRecord> Engine::List(const SagaFilter& filter) {
    std::vector<SagaRecord> out;
    RunTx([&](StoreTx& tx, AfterCommit&) { out = tx.ListSagas(filter); });
    return out;
}

Result<SagaView> Engine::Describe(const SagaId& id) {
    std::optional<SagaView> view;
    RunTx([&](StoreTx& tx, AfterCommit&) {
        view.reset();
        auto saga = tx.GetSaga(id);
        if (!saga) return;
        view = SagaView{*saga, tx.Attempts(id), tx.History(id)};
    });
    if (!view) return Status{ErrorCode::kNotFound, "no saga " + id.str()};
    return *std::move(view);
}

}  // namespace sagaflow::engine
