#include "dispatcher.hpp"

#include <algorithm>
#include <unordered_set>
#include <utility>

namespace sagaflow::engine {

bool WorkerSlot::Serves(const std::string& queue, const std::string& action) const {
    if (std::find(queues.begin(), queues.end(), queue) == queues.end()) return false;
    const auto named = actions.find(queue);
    return named == actions.end() || named->second.empty() || named->second.contains(action);
}

void Dispatcher::Join(const std::string& id, std::vector<std::string> queues, int capacity,
                      std::map<std::string, std::set<std::string>> actions) {
    WorkerSlot& w = workers_[id];
    w.id = id;
    w.queues = std::move(queues);
    w.actions = std::move(actions);
    w.capacity = std::max(0, capacity);
    w.last_seen = clock_.Now();
    if (!aside_.empty()) Unpark();
}

bool Dispatcher::Seen(const std::string& id) {
    auto it = workers_.find(id);
    if (it == workers_.end()) return false;
    it->second.last_seen = clock_.Now();
    return true;
}

std::vector<std::string> Dispatcher::ExpireSilent(Timestamp cutoff) {
    std::vector<std::string> gone;
    for (const auto& [id, w] : workers_) {
        if (w.last_seen < cutoff) gone.push_back(id);
    }
    for (const std::string& id : gone) Leave(id);
    return gone;
}

void Dispatcher::Leave(const std::string& worker) {
    workers_.erase(worker);
    for (auto& [id, e] : entries_) {
        if (e.stage == Stage::kInFlight && e.worker == worker) e.worker.clear();  // late now; the deadline resends it
    }
}

std::vector<WorkerSlot> Dispatcher::Workers() const {
    std::vector<WorkerSlot> out;
    out.reserve(workers_.size());
    for (const auto& [id, w] : workers_) out.push_back(w);
    return out;
}

void Dispatcher::FreeSlot(Entry& e) {
    if (e.stage == Stage::kReady) --ready_;
    if (e.stage == Stage::kInFlight && !e.worker.empty()) {
        if (auto w = workers_.find(e.worker); w != workers_.end() && w->second.in_flight > 0) --w->second.in_flight;
    }
    e.worker.clear();
}

void Dispatcher::Hold(const PendingRecord& record, Command command, Duration timeout, bool recovered) {
    Entry& e = entries_[record.msg_id];
    FreeSlot(e);
    e.record = record;
    e.command = std::move(command);
    e.timeout = timeout;
    e.stage = Stage::kWaiting;
    e.unserved_reported = false;
    e.recovered = e.recovered || recovered;  // sent_at too is kept: the history's "sent" of a resend
}

void Dispatcher::MakeReady(const MsgId& id) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.stage == Stage::kReady) return;
    Entry& e = it->second;
    FreeSlot(e);
    e.stage = Stage::kReady;
    e.line_ticket = next_ticket_++;
    lines_[e.record.queue].push_back(Ticket{id, e.line_ticket});
    ++ready_;
}

void Dispatcher::Forget(const MsgId& id) {
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    if (!aside_.empty() && it->second.stage == Stage::kReady) {
        // Set aside for want of a worker, then resolved (withdrawn by a compensation): drop it.
        if (auto a = aside_.find({it->second.record.queue, it->second.command.action}); a != aside_.end()) {
            std::erase_if(a->second, [&](const Ticket& t) { return t.msg_id == id; });
            if (a->second.empty()) aside_.erase(a);
        }
    }
    FreeSlot(it->second);
    entries_.erase(it);  // a ticket left in a line is skipped when it comes up
}

bool Dispatcher::Answered(const MsgId& id, const std::string& worker) {
    auto it = entries_.find(id);
    if (it == entries_.end() || it->second.stage != Stage::kInFlight || it->second.worker.empty() ||
        it->second.worker != worker) {
        return false;
    }
    FreeSlot(it->second);  // in flight to nobody now: a second copy of the reply is late
    return true;
}

namespace {

// The least-loaded worker (relative to capacity) serving `action` of `queue` with a free
// slot, or nullptr: the one rule, for the const and the mutable ledger.
template <class Workers>
auto* LeastLoaded(Workers& workers, const std::string& queue, const std::string& action) {
    decltype(&workers.begin()->second) best = nullptr;
    for (auto& [id, w] : workers) {
        if (w.in_flight >= w.capacity || !w.Serves(queue, action)) continue;
        if (best == nullptr || w.in_flight * best->capacity < best->in_flight * w.capacity) best = &w;
    }
    return best;
}

}  // namespace

WorkerSlot* Dispatcher::FreeWorker(const std::string& queue, const std::string& action) {
    return LeastLoaded(workers_, queue, action);
}

bool Dispatcher::HasFreeWorker(const std::string& queue, const std::string& action) const {
    return LeastLoaded(workers_, queue, action) != nullptr;
}

bool Dispatcher::AnyServes(const std::string& queue, const std::string& action) const {
    return std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) { return w.second.Serves(queue, action); });
}

bool Dispatcher::Deliverable() const {
    if (ready_ == 0) return false;
    for (const auto& [queue, tickets] : lines_) {
        // What Pump would do with the line's first live ticket: hand it over, or set it aside.
        for (const Ticket& t : tickets) {
            auto it = entries_.find(t.msg_id);
            if (it == entries_.end() || it->second.stage != Stage::kReady || it->second.line_ticket != t.ticket) continue;
            const std::string& action = it->second.command.action;
            if (HasFreeWorker(queue, action) || (!AnyServes(queue, action) && HasWorkers(queue))) return true;
            break;
        }
    }
    return false;
}

std::vector<Delivered> Dispatcher::Pump() {
    std::vector<Delivered> out;
    if (ready_ == 0) return out;
    const Timestamp now = clock_.Now();
    for (auto line = lines_.begin(); line != lines_.end();) {
        const std::string& queue = line->first;
        auto& tickets = line->second;
        while (!tickets.empty()) {
            const Ticket t = tickets.front();
            auto it = entries_.find(t.msg_id);
            if (it == entries_.end() || it->second.stage != Stage::kReady || it->second.line_ticket != t.ticket) {
                tickets.pop_front();  // forgotten or moved on since it queued
                continue;
            }
            Entry& e = it->second;
            const std::string& action = e.command.action;
            WorkerSlot* w = FreeWorker(queue, action);
            if (w == nullptr) {
                if (AnyServes(queue, action) || !HasWorkers(queue)) break;  // the line waits for a slot
                // The queue's workers serve other actions: it waits aside, reported once, and
                // the commands behind it go on. A worker that serves it puts it back.
                if (!e.unserved_reported) {
                    e.unserved_reported = true;
                    unserved_.push_back({t.msg_id, queue, action});
                }
                aside_[{queue, action}].push_back(t);
                tickets.pop_front();
                continue;
            }
            Command command = e.command;
            command.deadline = now + e.timeout;
            if (!channel_.Deliver(w->id, command)) {
                Leave(std::string(w->id));  // unreachable: gone; the command tries the next one
                continue;
            }
            tickets.pop_front();
            --ready_;
            e.stage = Stage::kInFlight;
            e.worker = w->id;
            e.sent_at = now;
            ++w->in_flight;
            out.push_back(Delivered{t.msg_id, command.deadline});
        }
        line = tickets.empty() ? lines_.erase(line) : std::next(line);
    }
    return out;
}

bool Dispatcher::HasWorkers(const std::string& queue) const {
    return std::any_of(workers_.begin(), workers_.end(), [&](const auto& w) {
        return std::find(w.second.queues.begin(), w.second.queues.end(), queue) != w.second.queues.end();
    });
}

void Dispatcher::Unpark() {
    for (auto it = aside_.begin(); it != aside_.end();) {
        const auto& [queue, action] = it->first;
        if (!AnyServes(queue, action)) {
            ++it;
            continue;
        }
        // Back into its line, in the order the commands became due (tickets increase).
        auto& line = lines_[queue];
        line.insert(line.end(), it->second.begin(), it->second.end());
        std::sort(line.begin(), line.end(), [](const Ticket& a, const Ticket& b) { return a.ticket < b.ticket; });
        it = aside_.erase(it);
    }
}

std::vector<Unserved> Dispatcher::TakeUnserved() { return std::exchange(unserved_, {}); }

void Dispatcher::Unreport(const MsgId& id) {
    if (auto it = entries_.find(id); it != entries_.end()) it->second.unserved_reported = false;
}

const Dispatcher::Entry* Dispatcher::Find(const MsgId& id) const {
    auto it = entries_.find(id);
    return it == entries_.end() ? nullptr : &it->second;
}

std::vector<MsgId> Dispatcher::TrackedIds() const {
    std::vector<MsgId> out;
    out.reserve(entries_.size());
    for (const auto& [id, e] : entries_) out.push_back(id);
    return out;
}

std::optional<Timestamp> Dispatcher::SentAt(const MsgId& id) const {
    const Entry* e = Find(id);
    return e == nullptr ? std::nullopt : e->sent_at;
}

bool Dispatcher::SurelyUnsent(const MsgId& id) const {
    const Entry* e = Find(id);
    return e != nullptr && e->stage != Stage::kInFlight && !e->sent_at && !e->recovered;
}

LedgerGauges Dispatcher::Gauges() const {
    LedgerGauges g;
    g.tracked = entries_.size();
    std::unordered_set<SagaId> sagas;
    for (const auto& [id, e] : entries_) {
        sagas.insert(e.record.saga_id);
        if (e.stage == Stage::kInFlight) ++g.in_flight;
        if (e.stage == Stage::kReady) ++g.queues[e.record.queue].ready;
        if (!g.oldest || e.record.created_at < *g.oldest) g.oldest = e.record.created_at;
    }
    g.sagas = sagas.size();
    std::map<std::pair<std::string, std::string>, UnservedAction> unserved;
    for (const auto& [id, e] : entries_) {
        if (e.stage != Stage::kReady || AnyServes(e.record.queue, e.command.action)) continue;
        UnservedAction& u = unserved[{e.record.queue, e.command.action}];
        u.queue = e.record.queue;
        u.action = e.command.action;
        ++u.commands;
        if (!u.oldest || e.record.created_at < *u.oldest) u.oldest = e.record.created_at;
    }
    for (auto& [key, u] : unserved) g.unserved.push_back(std::move(u));
    for (const auto& [id, w] : workers_) {
        for (const std::string& q : w.queues) {
            auto& queue = g.queues[q];
            ++queue.workers;
            queue.free += std::max(0, w.capacity - w.in_flight);
        }
    }
    return g;
}

}  // namespace sagaflow::engine
