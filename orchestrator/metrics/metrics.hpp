// Counters, gauges and histograms in the Prometheus text exposition format (0.0.4).
// Debian 12 packages no C++ Prometheus client, so this is the one small registry the
// project has: families with fixed label names, children created on first use and kept
// for the process's life (labels are bounded by design: workflows, steps, queues,
// outcomes; never a saga id), gauges read by callback at scrape time.
//
//     metrics::Registry r;
//     auto& started = r.AddCounter("sagaflow_sagas_started_total", "Sagas created.", {"workflow"});
//     started.With({"order_fulfilment"}).Inc();
//     std::string text = r.Expose();
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace sagaflow::metrics {

/// Thread-safe.
class Counter {
public:
    void Inc(double by = 1) { value_.fetch_add(by, std::memory_order_relaxed); }
    [[nodiscard]] double Value() const { return value_.load(std::memory_order_relaxed); }

private:
    std::atomic<double> value_{0};
};

/// Cumulative buckets with upper bounds `bounds` (ascending), plus +Inf. Thread-safe.
class Histogram {
public:
    explicit Histogram(std::vector<double> bounds);
    void Observe(double value);
    struct Snapshot {
        std::vector<std::uint64_t> cumulative;  ///< one per bound, then +Inf
        double sum = 0;
        std::uint64_t count = 0;
    };
    [[nodiscard]] Snapshot Read() const;
    [[nodiscard]] const std::vector<double>& bounds() const { return bounds_; }

private:
    std::vector<double> bounds_;
    mutable std::mutex mu_;
    std::vector<std::uint64_t> counts_;
    double sum_ = 0;
};

/// A metric's children by label values. Thread-safe; `With` returns a stable reference.
template <class M>
class Family {
public:
    Family(std::vector<std::string> label_names, std::function<std::unique_ptr<M>()> make)
        : label_names_(std::move(label_names)), make_(std::move(make)) {}

    /// The child for `values` (one per label name, in order), created on first use.
    M& With(const std::vector<std::string>& values) {
        std::lock_guard lock(mu_);
        auto& slot = children_[values];
        if (!slot) slot = make_();
        return *slot;
    }
    template <class Fn>
    void ForEach(Fn&& fn) const {
        std::lock_guard lock(mu_);
        for (const auto& [values, child] : children_) fn(values, *child);
    }
    [[nodiscard]] const std::vector<std::string>& label_names() const { return label_names_; }

private:
    std::vector<std::string> label_names_;
    std::function<std::unique_ptr<M>()> make_;
    mutable std::mutex mu_;
    std::map<std::vector<std::string>, std::unique_ptr<M>> children_;
};

/// One sample a callback reports: label values (one per label name) and the value.
struct Sample {
    std::vector<std::string> labels;
    double value = 0;
};

class Registry {
public:
    /// Names follow Prometheus's rules ([a-zA-Z_:][a-zA-Z0-9_:]*); counters end in _total.
    Family<Counter>& AddCounter(const std::string& name, const std::string& help, std::vector<std::string> labels = {});
    Family<Histogram>& AddHistogram(const std::string& name, const std::string& help, std::vector<std::string> labels,
                                    std::vector<double> bounds);
    /// A gauge (or, with `counter`, a counter kept elsewhere) read at each scrape.
    void AddCallback(const std::string& name, const std::string& help, std::vector<std::string> labels,
                     std::function<std::vector<Sample>()> read, bool counter = false);

    /// Every family in the text format, in the order they were added.
    [[nodiscard]] std::string Expose() const;

private:
    struct Entry {
        std::string name, help, type;
        std::vector<std::string> labels;
        std::unique_ptr<Family<Counter>> counters;
        std::unique_ptr<Family<Histogram>> histograms;
        std::function<std::vector<Sample>()> read;
    };
    Entry& Add(const std::string& name, const std::string& help, const char* type, std::vector<std::string> labels);

    std::vector<std::unique_ptr<Entry>> entries_;  // added at start-up, before any scrape
};

/// The default buckets for latencies in seconds: 1 ms to 60 s.
[[nodiscard]] std::vector<double> LatencyBuckets();

}  // namespace sagaflow::metrics
