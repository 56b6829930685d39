#include "metrics/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace sagaflow::metrics {
namespace {

// Label values escape backslash, double quote and newline; help text backslash and newline.
std::string Escape(const std::string& s, bool quote) {
    std::string out;
    out.reserve(s.size());
    for (char c : s) {
        if (c == '\\') {
            out += "\\\\";
        } else if (c == '\n') {
            out += "\\n";
        } else if (c == '"' && quote) {
            out += "\\\"";
        } else {
            out += c;
        }
    }
    return out;
}

std::string Number(double v) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     const std::string& extra_name = "", const std::string& extra_value = "") {
    std::string out;
    for (std::size_t i = 0; i < names.size() && i < values.size(); ++i) {
        out += (out.empty() ? "" : ",") + names[i] + "=\"" + Escape(values[i], true) + "\"";
    }
    if (!extra_name.empty()) out += (out.empty() ? "" : ",") + extra_name + "=\"" + extra_value + "\"";
    return out.empty() ? out : "{" + out + "}";
}

void CheckName(const std::string& name) {
    const bool ok = !name.empty() && !std::isdigit(static_cast<unsigned char>(name[0])) &&
                    std::all_of(name.begin(), name.end(), [](char c) {
                        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':';
                    });
    if (!ok) throw std::invalid_argument("bad metric name '" + name + "'");
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {
    std::sort(bounds_.begin(), bounds_.end());
}

void Histogram::Observe(double value) {
    const auto at = static_cast<std::size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
    std::lock_guard lock(mu_);
    ++counts_[at];
    sum_ += value;
}

Histogram::Snapshot Histogram::Read() const {
    Snapshot s;
    std::lock_guard lock(mu_);
    std::uint64_t running = 0;
    for (std::uint64_t c : counts_) {
        running += c;
        s.cumulative.push_back(running);
    }
    s.count = running;
    s.sum = sum_;
    return s;
}

Family<Counter>& Registry::AddCounter(const std::string& name, const std::string& help, std::vector<std::string> labels) {
    Entry& e = Add(name, help, "counter", labels);
    e.counters = std::make_unique<Family<Counter>>(std::move(labels), [] { return std::make_unique<Counter>(); });
    return *e.counters;
}

Family<Histogram>& Registry::AddHistogram(const std::string& name, const std::string& help,
                                          std::vector<std::string> labels, std::vector<double> bounds) {
    Entry& e = Add(name, help, "histogram", labels);
    e.histograms = std::make_unique<Family<Histogram>>(
        std::move(labels), [bounds = std::move(bounds)] { return std::make_unique<Histogram>(bounds); });
    return *e.histograms;
}

void Registry::AddCallback(const std::string& name, const std::string& help, std::vector<std::string> labels,
                           std::function<std::vector<Sample>()> read, bool counter) {
    Add(name, help, counter ? "counter" : "gauge", std::move(labels)).read = std::move(read);
}

Registry::Entry& Registry::Add(const std::string& name, const std::string& help, const char* type,
                               std::vector<std::string> labels) {
    CheckName(name);
    auto e = std::make_unique<Entry>();
    e->name = name;
    e->help = help;
    e->type = type;
    e->labels = std::move(labels);
    entries_.push_back(std::move(e));
    return *entries_.back();
}

std::string Registry::Expose() const {
    std::string out;
    for (const auto& e : entries_) {
        out += "# HELP " + e->name + " " + Escape(e->help, false) + "\n";
        out += "# TYPE " + e->name + " " + e->type + "\n";
        if (e->counters) {
            e->counters->ForEach([&](const std::vector<std::string>& values, const Counter& c) {
                out += e->name + LabelSet(e->labels, values) + " " + Number(c.Value()) + "\n";
            });
        } else if (e->histograms) {
            e->histograms->ForEach([&](const std::vector<std::string>& values, const Histogram& h) {
                const auto s = h.Read();
                const std::string base = e->name;
                for (std::size_t i = 0; i < s.cumulative.size(); ++i) {
                    const std::string le = i < h.bounds().size() ? Number(h.bounds()[i]) : "+Inf";
                    out += base + "_bucket" + LabelSet(e->labels, values, "le", le) + " " +
                           std::to_string(s.cumulative[i]) + "\n";
                }
                out += base + "_sum" + LabelSet(e->labels, values) + " " + Number(s.sum) + "\n";
                out += base + "_count" + LabelSet(e->labels, values) + " " + std::to_string(s.count) + "\n";
            });
        } else if (e->read) {
            for (const Sample& s : e->read()) out += e->name + LabelSet(e->labels, s.labels) + " " + Number(s.value) + "\n";
        }
    }
    return out;
}

std::vector<double> LatencyBuckets() {
    return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

}  // namespace sagaflow::metrics
