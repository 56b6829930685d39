// A ZeroMQ proxy between workers and sagad that loses, duplicates, delays, reorders and
// cuts messages on purpose. Workers connect to its ROUTER; for each worker it opens a DEALER to sagad
// under the worker's routing id, so sagad sees the worker as if directly connected.
// Faults apply to commands, replies and acks; hellos and heartbeats pass untouched
// unless a worker is cut off entirely.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "socket.hpp"

namespace sagaflow::tools {

struct FaultOptions {
    double drop_to_worker = 0;  ///< probability a command or ack is lost
    double dup_to_worker = 0;   ///< probability it is delivered twice
    double drop_to_sagad = 0;   ///< probability a reply is lost
    double dup_to_sagad = 0;    ///< probability it is delivered twice
    double delay = 0;           ///< probability a message (either way) is held back...
    std::chrono::milliseconds max_delay{0};  ///< ...for a uniform 1..max_delay ms
    /// Probability a message (either way) is held until the next one to the same peer
    /// has gone past it (at most 50 ms): the two arrive swapped.
    double reorder = 0;
    std::uint64_t seed = 1;
    /// Set: toward sagad every worker's connection uses this CURVE pair (a key sagad's
    /// allow-list grants every queue). The proxy sees plain frames, so its side toward the
    /// workers stays plain, on a local endpoint.
    std::optional<transport::CurveClientKeys> upstream_curve;
};

struct FaultCounters {
    std::atomic<std::uint64_t> commands{0}, replies{0}, dropped{0}, duplicated{0}, delayed{0}, reordered{0};
};

class FaultProxy {
public:
    FaultProxy(std::string sagad_endpoint, FaultOptions options);
    ~FaultProxy();

    /// Binds `endpoint` (tcp://127.0.0.1:* by default), starts forwarding; returns the
    /// endpoint workers should connect to.
    std::string Start(const std::string& endpoint = "tcp://127.0.0.1:*");
    void Stop();

    // Deterministic faults, taken before the random ones. Thread-safe.
    void DropNextCommands(int n) { drop_commands_ += n; }
    void DuplicateNextCommands(int n) { dup_commands_ += n; }
    void DropNextReplies(int n) { drop_replies_ += n; }
    /// Everything to and from this worker is lost, as if it died.
    void CutOff(const std::string& worker_id);

    [[nodiscard]] const FaultCounters& counters() const { return counters_; }

private:
    struct Impl;
    struct Held;
    void Loop();
    void Deliver(bool to_sagad, const std::string& peer, const std::string& frame);
    void ReleaseDue(bool all);

    std::string sagad_endpoint_;
    FaultOptions options_;
    std::atomic<int> drop_commands_{0}, dup_commands_{0}, drop_replies_{0};
    std::mutex mu_;
    std::set<std::string> cut_off_;
    FaultCounters counters_;
    std::atomic<bool> stop_{false};
    std::unique_ptr<Impl> impl_;
    std::thread thread_;
};

}  // namespace sagaflow::tools
