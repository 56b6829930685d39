// A background loop of sagad's (the alert sender, the retention job): a thread that runs
// `tick` at once, then again after the pause `tick` returns, until Stop(); Wake() cuts a
// pause short. The one place for the thread, its stop flag and its condition variable.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace sagaflow::runtime {

class Periodic {
public:
    /// `tick` runs on the loop's thread and returns how long to pause before the next.
    explicit Periodic(std::function<std::chrono::milliseconds()> tick) : tick_(std::move(tick)) {}
    ~Periodic() { Stop(); }
    Periodic(const Periodic&) = delete;
    Periodic& operator=(const Periodic&) = delete;

    void Start() {
        if (!thread_.joinable()) thread_ = std::thread([this] { Loop(); });
    }
    /// Waits for a running tick to return; idempotent.
    void Stop() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    /// The next tick now rather than at the end of the pause. Any thread.
    void Wake() {
        {
            std::lock_guard lock(mu_);
            woken_ = true;
        }
        cv_.notify_all();
    }
    /// For a long tick to give up early. Any thread.
    [[nodiscard]] bool stopping() const {
        std::lock_guard lock(mu_);
        return stop_;
    }

private:
    void Loop() {
        for (;;) {
            const std::chrono::milliseconds pause = tick_();
            std::unique_lock lock(mu_);
            cv_.wait_for(lock, pause, [this] { return stop_ || woken_; });
            if (stop_) return;
            woken_ = false;
        }
    }

    std::function<std::chrono::milliseconds()> tick_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    bool woken_ = false;
    std::thread thread_;
};

}  // namespace sagaflow::runtime
