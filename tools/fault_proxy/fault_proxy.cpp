#include "fault_proxy.hpp"

#include <map>
#include <random>

#include "sagaflow/protocol/envelope.hpp"
#include "socket.hpp"

namespace sagaflow::tools {

using transport::Socket;
using transport::SocketKind;

struct FaultProxy::Impl {
    transport::Context ctx;
    std::unique_ptr<Socket> front;
    std::map<std::string, std::unique_ptr<Socket>> backs;  // by worker routing id
    std::mt19937_64 rng;
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
        const auto ready = transport::Poll(sockets, std::chrono::milliseconds(20));
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
                {
                    auto e = protocol::DecodeEnvelope(m->frames[0], std::string::npos);
                    const bool command = e.ok() && e->kind == protocol::Kind::kCommand;
                    const bool reply = e.ok() && e->kind == protocol::Kind::kReply;
                    const bool ack = e.ok() && e->kind == protocol::Kind::kAck;
                    counters_.commands += command;
                    counters_.replies += reply;
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
                if (to_sagad) {
                    auto& back = impl_->backs[peer];
                    if (!back) {
                        transport::SocketOptions o;
                        o.routing_id = peer;
                        back = std::make_unique<Socket>(impl_->ctx, SocketKind::kDealer, o);
                        back->Connect(sagad_endpoint_);
                    }
                    for (int c = 0; c < copies; ++c) (void)back->Send(m->frames[0]);
                } else {
                    for (int c = 0; c < copies; ++c) (void)impl_->front->Send(m->frames[0], peer);
                }
            }
        }
    }
}

}  // namespace sagaflow::tools
