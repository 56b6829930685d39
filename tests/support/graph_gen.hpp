// Random valid workflow graphs for the seeded property tests (the Plan's and the
// engine's): up to 12 nodes, steps on queue "q", choices on four input bits, parallel
// groups nested two deep; with `waits`, also timers and signal waits, and deadlines on
// steps, groups and waits (a signal wait's sometimes with an `OnDeadline` jump), and with
// a child workflow, child nodes (sometimes with a deadline).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "sagaflow/core/error.hpp"
#include "sagaflow/workflow/workflow.hpp"

namespace sagaflow::testing {

/// `name` from the environment as a number, else `fallback` (seed and case overrides).
inline std::uint64_t EnvOr(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::strtoull(v, nullptr, 10) : fallback;
}

class GraphGen {
public:
    /// `endings`: also Complete/Fail end nodes and a guard that throws (both end the flow
    /// on their own, which an oracle of replies alone cannot foresee).
    /// `child`: also child nodes running a saga of that workflow (which must be registered
    /// wherever the graphs run).
    /// `policies`: also failure policies (park, retry forward) on some steps, and in some
    /// graphs a pivot at the end of the top level followed by steps past it (retriable, or
    /// parking by default); a draw that validation refuses (a deadline around a node that
    /// may park) is drawn again.
    explicit GraphGen(std::mt19937_64& rng, bool endings = true, bool waits = false, std::string child = {},
                      bool policies = false)
        : rng_(rng), endings_(endings), waits_(waits), child_(std::move(child)), policies_(policies) {}

    Workflow Make(int case_no) {
        using nlohmann::json;
        for (;;) {
            budget_ = Pick(1, 12);
            counter_ = 0;
            steps_ = 0;
            std::vector<NodeDef> flow = Sequence(0);
            if (steps_ == 0) continue;
            const NodeKind last = flow.back().kind;
            if (policies_ && last != NodeKind::kComplete && last != NodeKind::kFail && Chance(0.35)) {
                NodeDef pivot = Step();
                pivot.step.compensation.reset();
                pivot.step.kind = StepKind::kPivot;
                pivot.step.on_failure.reset();
                pivot.deadline.reset();
                flow.push_back(std::move(pivot));
                for (int k = Pick(1, 2); k > 0; --k) {
                    NodeDef after = Step();
                    after.step.compensation.reset();
                    after.step.on_failure.reset();
                    after.deadline.reset();
                    if (Chance(0.6)) after.step.kind = StepKind::kRetriable;  // else: parks by default
                    flow.push_back(std::move(after));
                }
            }
            std::map<std::string, Guard, std::less<>> guards;
            for (int k = 0; k < 4; ++k) {
                guards["bit" + std::to_string(k)] = [k](const json& in, const json&) {
                    return in.at("bits").at(static_cast<std::size_t>(k)).get<bool>();
                };
            }
            guards["boom"] = [](const json&, const json&) -> bool { throw std::runtime_error("boom"); };
            if (!policies_) return WorkflowBuilder::FromNodes("prop" + std::to_string(case_no), 1, std::move(flow), std::move(guards));
            try {
                return WorkflowBuilder::FromNodes("prop" + std::to_string(case_no), 1, std::move(flow), std::move(guards));
            } catch (const Error& e) {
                if (e.code() != ErrorCode::kInvalidArgument) throw;
                ++redrawn_;
            }
        }
    }

private:
    int Pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }

    std::vector<NodeDef> Sequence(int depth) {
        std::vector<NodeDef> seq;
        const int len = Pick(1, std::max(1, std::min(4, budget_)));
        std::vector<std::size_t> choices, waits;
        for (int i = 0; i < len && budget_ > 0; ++i) {
            const bool last = i + 1 == len || budget_ == 1;
            NodeDef n;
            n.id = "n" + std::to_string(counter_++);
            --budget_;
            if (!last && depth < 2 && budget_ >= 2 && Chance(0.25)) {
                n.kind = NodeKind::kParallel;
                const int branches = Pick(2, std::min(3, budget_));
                for (int b = 0; b < branches && budget_ > 0; ++b) n.branches.push_back(Sequence(depth + 1));
                if (n.branches.size() < 2) n.branches.push_back({Step()});  // keep it valid
                if (waits_ && Chance(0.15)) n.deadline = std::chrono::minutes(5);
            } else if (!last && Chance(0.2)) {
                n.kind = NodeKind::kChoice;
                choices.push_back(seq.size());
            } else if (endings_ && last && Chance(0.12)) {
                n.kind = Chance(0.5) ? NodeKind::kFail : NodeKind::kComplete;
                n.reason = "rejected at " + n.id;
            } else if (waits_ && Chance(0.2)) {
                const int kind = Pick(0, child_.empty() ? 1 : 2);
                n.kind = kind == 0 ? NodeKind::kTimer : kind == 1 ? NodeKind::kSignal : NodeKind::kChild;
                n.sleep = std::chrono::milliseconds(Pick(1, 1000));
                n.signal = "sig" + std::to_string(Pick(0, 2));
                if (n.kind == NodeKind::kChild) n.child_workflow = child_;
                if (Chance(0.4)) n.deadline = std::chrono::minutes(1);
                if (n.kind == NodeKind::kSignal && n.deadline && !last) waits.push_back(seq.size());
            } else {
                ++budget_;
                --counter_;
                n = Step();
            }
            seq.push_back(std::move(n));
        }
        // A signal wait with a deadline may jump further down when it passes.
        for (std::size_t w : waits) {
            if (w + 1 < seq.size() && Chance(0.5)) {
                seq[w].on_deadline = seq[static_cast<std::size_t>(Pick(static_cast<int>(w) + 1, static_cast<int>(seq.size()) - 1))].id;
            }
        }
        // A choice goes to the node after it by default, or jumps further down.
        for (std::size_t c : choices) {
            if (c + 1 >= seq.size()) {
                seq[c] = Step();  // no node after it: make it a step instead
                continue;
            }
            seq[c].otherwise = seq[c + 1].id;
            const int branches = Pick(1, 2);
            for (int b = 0; b < branches; ++b) {
                const auto target = static_cast<std::size_t>(Pick(static_cast<int>(c) + 1, static_cast<int>(seq.size()) - 1));
                const std::string guard = endings_ && Chance(0.05) ? "boom" : "bit" + std::to_string(Pick(0, 3));
                seq[c].when.push_back({guard, seq[target].id});
            }
        }
        return seq;
    }

    NodeDef Step() {
        NodeDef n;
        n.id = "n" + std::to_string(counter_++);
        --budget_;
        ++steps_;
        n.kind = NodeKind::kStep;
        n.step.name = n.id;
        n.step.queue = "q";
        n.step.retry.max_attempts = Pick(1, 3);
        if (Chance(0.75)) {
            CompensationDef c;
            c.action = "undo_" + n.id;
            c.queue = "q";
            c.retry.max_attempts = Pick(1, 3);
            n.step.compensation = c;
        }
        if (waits_ && Chance(0.1)) n.deadline = std::chrono::minutes(2);
        if (policies_ && Chance(0.2)) {
            n.step.on_failure = Chance(0.5) ? FailurePolicy::kPark : FailurePolicy::kRetryForward;
            n.step.forward_retry.max_attempts = Pick(1, 2);
        }
        return n;
    }

public:
    /// Draws validation refused (`policies`), for the report.
    [[nodiscard]] int redrawn() const { return redrawn_; }

private:

    std::mt19937_64& rng_;
    bool endings_;
    bool waits_;
    std::string child_;
    bool policies_;
    int redrawn_ = 0;
    int budget_ = 0;
    int counter_ = 0;
    int steps_ = 0;
};

// Whether two nodes sit in different branches of one group, from the graph's sequences
// (the oracle's own reading, independent of the Plan's).
inline bool InSiblingBranches(const Workflow& wf, int a, int b) {
    auto chain = [&](int n) {
        std::vector<std::pair<int, int>> out;
        for (int s = wf.nodes()[static_cast<std::size_t>(n)].sequence; wf.sequences()[static_cast<std::size_t>(s)].group >= 0;) {
            const auto& seq = wf.sequences()[static_cast<std::size_t>(s)];
            out.insert(out.begin(), {seq.group, seq.branch});
            s = wf.nodes()[static_cast<std::size_t>(seq.group)].sequence;
        }
        return out;
    };
    const auto ca = chain(a), cb = chain(b);
    for (std::size_t i = 0; i < ca.size() && i < cb.size(); ++i) {
        if (ca[i].first != cb[i].first) return false;
        if (ca[i].second != cb[i].second) return true;
    }
    return false;
}

/// Runs `cases` graphs from `gen` through `one(workflow)`, which plays one case and returns
/// whether its saga ended compensated. Stops at the first failing case, naming it and the
/// seed (`seed_var` replays it); then checks the generator made parallel groups, choices and
/// both endings often enough for the cases to mean something.
template <class One>
void RunCases(const char* what, const char* seed_var, std::uint64_t seed, int cases, GraphGen& gen, One one) {
    int compensated = 0, groups = 0, choices = 0, children = 0;
    for (int i = 0; i < cases; ++i) {
        const Workflow wf = gen.Make(i);
        for (const auto& p : wf.nodes()) {
            groups += p.def->kind == NodeKind::kParallel;
            choices += p.def->kind == NodeKind::kChoice;
            children += p.def->kind == NodeKind::kChild;
        }
        const bool ended_compensated = one(wf);
        if (::testing::Test::HasFailure()) {
            ADD_FAILURE() << "case " << i << " of seed " << seed << " (" << seed_var << "=" << seed << ")";
            return;
        }
        compensated += ended_compensated;
    }
    std::printf("%s property: %d cases, seed %llu, %d compensated, %d parallel groups, %d choices, %d child nodes\n", what,
                cases, static_cast<unsigned long long>(seed), compensated, groups, choices, children);
    EXPECT_GT(groups, cases / 4) << "the generator makes parallel groups";
    EXPECT_GT(choices, cases / 4) << "the generator makes choices";
    EXPECT_GT(compensated, cases / 5) << "both endings are common";
    EXPECT_LT(compensated, cases - cases / 5);
}

}  // namespace sagaflow::testing
