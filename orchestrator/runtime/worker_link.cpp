#include "worker_link.hpp"

#include <algorithm>

#include "keys.hpp"
#include "sagaflow/log.hpp"

namespace sagaflow::runtime {

using protocol::Envelope;
using protocol::Kind;

namespace {

// A routing id for a log line: as it is when printable, else hex (libzmq's own are binary).
std::string Printable(const std::string& peer) {
    const std::string id = peer.substr(0, 64);
    if (std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c < 0x7f; })) return id;
    return "0x" + security::Hex(id);
}

}  // namespace

WorkerLink::WorkerLink(transport::Socket& router, std::map<std::string, std::set<std::string>> known_actions,
                       const Clock& clock, LinkOptions options, LinkSecurity security)
    : router_(router), known_actions_(std::move(known_actions)), clock_(clock), options_(options),
      security_(security) {}

bool WorkerLink::Deliver(const std::string& worker, const engine::Command& c) {
    const Envelope e = engine::ToEnvelope(c);
    if (!router_.Send(protocol::EncodeEnvelope(e), worker)) {
        RememberGone(worker);  // unroutable: it is gone (the ledger takes it out)
        ++counters_.workers_gone;
        return false;
    }
    ++counters_.commands_sent;
    return true;
}

void WorkerLink::RememberGone(const std::string& peer) {
    if (gone_.size() >= kMaxGoneRemembered) gone_.clear();  // bounded; forgetting only costs a resend
    gone_.insert(peer);
}

std::string WorkerLink::Judge(const transport::Received& m, const Envelope& e) {
    const auto list = security_.keys->Get();
    const security::WorkerGrant* grant = list->Find(m.user_id);
    if (grant == nullptr) return "its key is not on the allow-list (any more)";
    for (const std::string& q : e.queues) {
        if (!grant->Serves(q)) {
            return "key " + grant->fingerprint + " (" + grant->name + ") may not serve queue '" + q + "'";
        }
    }
    auto bound = keys_.find(m.peer);
    if (bound != keys_.end() && bound->second.key != m.user_id) {
        // Another connection took this routing id: what the old one had in flight is
        // not this one's to answer.
        ledger_->Leave(m.peer);
    }
    keys_[m.peer] = {m.user_id, {grant->name, grant->fingerprint}};
    return {};
}

void WorkerLink::Refuse(const transport::Received& m, const Envelope& e, const std::string& why) {
    if (e.kind == Kind::kHello) ++counters_.refused_hellos;  // counted once per hello, not per heartbeat
    if (ledger_->Knows(m.peer)) ledger_->Leave(m.peer);       // e.g. its key left the list on a reload
    keys_.erase(m.peer);
    if (refusals_logged_.size() >= 1024) refusals_logged_.clear();
    if (refusals_logged_.insert(m.peer + "\n" + why).second) {
        log::Warn("worker_refused", {{"worker", e.worker_id}, {"peer", Printable(m.peer)}, {"why", why}});
    }
    Envelope no;
    no.kind = Kind::kRefused;
    no.reason = why;
    (void)router_.Send(protocol::EncodeEnvelope(no), m.peer);
}

void WorkerLink::Register(const transport::Received& m, const Envelope& e) {
    if (security_.keys != nullptr) {
        if (const std::string why = Judge(m, e); !why.empty()) return Refuse(m, e, why);
    }
    const std::string& peer = m.peer;
    gone_.erase(peer);
    std::vector<std::string> queues;
    for (const std::string& q : e.queues) {
        if (known_actions_.contains(q)) {
            queues.push_back(q);
        } else if (e.kind == Kind::kHello) {
            ++counters_.unknown_queue_claims;  // counted once per hello, not per heartbeat
        }
    }
    if (e.kind == Kind::kHello) {
        // A handler for an action no workflow sends: a typo, or a workflow not registered here.
        for (const auto& [queue, names] : e.actions) {
            const auto known = known_actions_.find(queue);
            if (known == known_actions_.end()) continue;  // the queue is counted above
            for (const std::string& action : names) {
                if (known->second.contains(action)) continue;
                ++counters_.unknown_action_claims;
                std::string used;
                for (const std::string& a : known->second) used += (used.empty() ? "" : ", ") + a;
                log::Warn("worker_unknown_action", {{"worker", e.worker_id}, {"queue", queue}, {"action", action},
                                                    {"workflows_send", used}});
            }
        }
    }
    std::map<std::string, std::set<std::string>> actions;
    for (const auto& [queue, names] : e.actions) actions[queue].insert(names.begin(), names.end());
    ledger_->Join(peer, std::move(queues), e.capacity, std::move(actions));
}

std::optional<WorkerIdentity> WorkerLink::IdentityOf(const std::string& peer) const {
    const auto it = keys_.find(peer);
    if (it == keys_.end()) return std::nullopt;
    return it->second.identity;
}

std::optional<IncomingReply> WorkerLink::OnMessage(const transport::Received& m) {
    if (m.frames.size() != 1) {
        ++counters_.malformed_frames;
        return std::nullopt;
    }
    auto decoded = protocol::DecodeEnvelope(m.frames[0], options_.max_frame_bytes);
    if (!decoded.ok()) {
        ++(decoded.code() == ErrorCode::kFailedPrecondition ? counters_.bad_version
                                                            : counters_.malformed_frames);
        return std::nullopt;
    }
    const Envelope& e = *decoded;
    switch (e.kind) {
        case Kind::kHello:
        case Kind::kHeartbeat:
            Register(m, e);
            return std::nullopt;
        case Kind::kReply: {
            ++counters_.replies_received;
            auto incoming = [&](bool late) {
                IncomingReply r;
                r.peer = m.peer;
                r.reply.msg_id = MsgId(e.msg_id);
                r.reply.outcome = e.outcome;
                r.reply.output = e.output;
                r.reply.reason = e.reason;
                r.reply.saga_id = SagaId(e.saga_id);
                r.reply.late = late;
                r.reply.worker = Printable(m.peer);
                if (const auto it = keys_.find(m.peer); it != keys_.end()) r.reply.key = it->second.identity.fingerprint;
                return r;
            };
            if (!ledger_->Seen(m.peer)) {
                // A worker given up on (silent past the heartbeat timeout) is late, never
                // applied; a peer that never said hello is a forger.
                if (gone_.contains(m.peer)) return incoming(/*late=*/true);
                Forged(m.peer, "reply from a peer that is not a registered worker");
                return std::nullopt;
            }
            if (security_.keys != nullptr) {
                // Its messages must carry the key it registered with: a routing id is no
                // credential.
                const auto it = keys_.find(m.peer);
                if (it == keys_.end() || it->second.key != m.user_id) {
                    Forged(m.peer, "reply under a key that is not the one this worker registered with");
                    return std::nullopt;
                }
            }
            return incoming(/*late=*/!ledger_->Answered(MsgId(e.msg_id), m.peer));
        }
        case Kind::kCommand:
        case Kind::kAck:
        case Kind::kRefused:
            ++counters_.unexpected_kind;
            return std::nullopt;
    }
    return std::nullopt;
}

void WorkerLink::Forged(const std::string& peer, const std::string& why) {
    ++counters_.forged_replies;
    if (forgers_logged_.size() < 1024 && forgers_logged_.insert(peer).second) {
        log::Warn("forged_reply_dropped", {{"peer", Printable(peer)}, {"why", why}});
    }
}

void WorkerLink::Ack(const IncomingReply& r, ErrorCode applied) {
    if (applied == ErrorCode::kInvalidArgument) {  // it named another saga: no ack to a forger
        Forged(r.peer, "reply names a saga that is not its command's");
        return;
    }
    if (applied == ErrorCode::kNotFound) ++counters_.unknown_msg_replies;
    if (applied == ErrorCode::kFailedPrecondition) ++counters_.ignored_replies;
    Envelope ack;
    ack.kind = Kind::kAck;
    ack.msg_id = r.reply.msg_id.str();
    (void)router_.Send(protocol::EncodeEnvelope(ack), r.peer);  // lost: the worker resends
}

void WorkerLink::ExpireSilentWorkers() {
    for (const std::string& peer : ledger_->ExpireSilent(clock_.Now() - options_.heartbeat_timeout)) {
        ++counters_.workers_gone;
        keys_.erase(peer);
        RememberGone(peer);
    }
}

}  // namespace sagaflow::runtime
