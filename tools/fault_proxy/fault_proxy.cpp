#include "fault_proxy.hpp"

#include <map>
#include <random>
#include <vector>

#include "sagaflow/protocol/envelope.hpp"
#include "socket.hpp"

namespace sagaflow::tools {

using transport::Socket;
using transport::SocketKind;

using Clock = std::chrono::steady_clock;

// A message held back: until `due` (delay), or until the next message to the same peer
// in the same direction has gone (reorder; `due` is then the 50 ms bound).
struct FaultProxy::Held {
    Clock::time_point due;
    bool to_sagad;
    std::string peer;
    std::string frame;
    bool until_next;
};

struct FaultProxy::Impl {
    transport::Context ctx;
    std::unique_ptr<Socket> front;
    std::map<std::string, std::unique_ptr<Socket>> backs;  // by worker routing id
    std::mt19937_64 rng;
    std::vector<Held> held;
};

FaultProxy::FaultProxy(std::string sagad_endpoint, FaultOptions options)
    : sagad_endpoint_(std::move(sagad_endpoint)), options_(options), impl_(std::make_unique<Impl>()) {
    impl_->rng.seed(options.seed);
}

FaultProxy::~FaultProxy() { Stop(); }

std::string FaultProxy::Start(const std::string& endpoint) {
    impl_->front = std::make_unique<Socket>(impl_->ctx, SocketKind::kRouter);
    const std::string bound = impl_->front->Bind(endpoint);
    thread_ = std::thread([this] { Loop(); });
    return bound;
}

void FaultProxy::Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
}

void FaultProxy::CutOff(const std::string& worker_id) {
    std::lock_guard lock(mu_);
    cut_off_.insert(worker_id);
}

namespace {
// Takes one from a deterministic budget if any is left.
bool Take(std::atomic<int>& budget) {
    int n = budget.load();
    while (n > 0) {
        if (budget.compare_exchange_weak(n, n - 1)) return true;
    }
    return false;
}
}  // namespace

void FaultProxy::Loop() {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    while (!stop_) {
        std::vector<Socket*> sockets{impl_->front.get()};
        std::vector<std::string> peers{""};
        for (auto& [peer, s] : impl_->backs) {
            sockets.push_back(s.get());
            peers.push_back(peer);
        }
        const auto ready = transport::Poll(sockets, impl_->held.empty() ? std::chrono::milliseconds(20)
                                                                           : std::chrono::milliseconds(1));
        for (std::size_t i = 0; i < sockets.size(); ++i) {
            if (!ready[i]) continue;
            while (auto m = sockets[i]->TryReceive()) {
                const bool to_sagad = i == 0;
                const std::string peer = to_sagad ? m->peer : peers[i];
                {
                    std::lock_guard lock(mu_);
                    if (cut_off_.contains(peer)) {
                        ++counters_.dropped;
                        continue;
                    }
                }
                if (m->frames.size() != 1) {
                    ++counters_.dropped;  // never well-formed between sagad and a worker
                    continue;
                }
                int copies = 1;
                bool faultable = false;
                {
                    auto e = protocol::DecodeEnvelope(m->frames[0], std::string::npos);
                    const bool command = e.ok() && e->kind == protocol::Kind::kCommand;
                    const bool reply = e.ok() && e->kind == protocol::Kind::kReply;
                    const bool ack = e.ok() && e->kind == protocol::Kind::kAck;
                    counters_.commands += command;
                    counters_.replies += reply;
                    faultable = command || reply || ack;
                    if (command && Take(drop_commands_)) {
                        copies = 0;
                    } else if (command && Take(dup_commands_)) {
                        copies = 2;
                    } else if (reply && Take(drop_replies_)) {
                        copies = 0;
                    } else if (command || reply || ack) {
                        const double drop = to_sagad ? options_.drop_to_sagad : options_.drop_to_worker;
                        const double dup = to_sagad ? options_.dup_to_sagad : options_.dup_to_worker;
                        const double roll = unit(impl_->rng);
                        copies = roll < drop ? 0 : roll < drop + dup ? 2 : 1;
                    }
                }
                if (copies == 0) ++counters_.dropped;
                if (copies == 2) ++counters_.duplicated;
                for (int c = 0; c < copies; ++c) {
                    const double roll = faultable ? unit(impl_->rng) : 1.0;
                    if (roll < options_.reorder) {
                        ++counters_.reordered;
                        impl_->held.push_back({Clock::now() + std::chrono::milliseconds(50), to_sagad, peer,
                                               m->frames[0], true});
                    } else if (roll < options_.reorder + options_.delay && options_.max_delay.count() > 0) {
                        ++counters_.delayed;
                        std::uniform_int_distribution<long> ms(1, static_cast<long>(options_.max_delay.count()));
                        impl_->held.push_back({Clock::now() + std::chrono::milliseconds(ms(impl_->rng)), to_sagad,
                                               peer, m->frames[0], false});
                    } else {
                        Deliver(to_sagad, peer, m->frames[0]);
                        // Whatever was held for reordering behind this peer goes now, after it.
                        for (auto it = impl_->held.begin(); it != impl_->held.end();) {
                            if (it->until_next && it->to_sagad == to_sagad && it->peer == peer) {
                                Held h = std::move(*it);
                                it = impl_->held.erase(it);
                                Deliver(h.to_sagad, h.peer, h.frame);
                            } else {
                                ++it;
                            }
                        }
                    }
                }
            }
        }
        ReleaseDue(false);
    }
    ReleaseDue(true);
}

void FaultProxy::Deliver(bool to_sagad, const std::string& peer, const std::string& frame) {
    if (to_sagad) {
        auto& back = impl_->backs[peer];
        if (!back) {
            transport::SocketOptions o;
            o.routing_id = peer;
            o.curve_client = options_.upstream_curve;
            back = std::make_unique<Socket>(impl_->ctx, SocketKind::kDealer, o);
            back->Connect(sagad_endpoint_);
        }
        (void)back->Send(frame);
    } else {
        (void)impl_->front->Send(frame, peer);
    }
}

void FaultProxy::ReleaseDue(bool all) {
    const auto now = Clock::now();
    std::vector<Held> due;
    for (auto it = impl_->held.begin(); it != impl_->held.end();) {
        if (all || it->due <= now) {
            due.push_back(std::move(*it));
            it = impl_->held.erase(it);
        } else {
            ++it;
        }
    }
    for (const Held& h : due) Deliver(h.to_sagad, h.peer, h.frame);
}

}  // namespace sagaflow::tools
