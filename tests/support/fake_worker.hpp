// An in-process worker that plays the other end of the engine's WorkerChannel.
//
// It keeps an inbox keyed by msg id, as the real worker SDK does: a command seen before
// gets the stored reply without running the handler again. `effects()` counts handler
// runs that returned ok, per (saga, step, phase): the exactly-once check.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "command.hpp"
#include "engine.hpp"

namespace sagaflow::testing {

class FakeWorker final : public engine::WorkerChannel {
public:
    using Handler = std::function<engine::Reply(const engine::Command&)>;
    using EffectKey = std::tuple<std::string, int, Phase>;  // saga id, step index, phase

    /// Every action answers ok with {"done": action} unless scripted otherwise.
    FakeWorker();

    /// Joins `engine`'s ledger as one worker serving every queue of `registry`, with room
    /// for any number of commands. Again after each new engine (a restart).
    void Attach(engine::Engine& engine, const WorkflowRegistry& registry);
    bool Deliver(const std::string& worker, const engine::Command& command) override;

    /// Scripts `action` (a step or compensation name).
    void On(const std::string& action, Handler handler);
    /// `action` fails for good with `reason`.
    void FailWith(const std::string& action, const std::string& reason);
    /// `action` answers retry `times` times (then ok), or forever when times < 0.
    void RetryTimes(const std::string& action, int times);
    /// The next `n` commands handed over are lost (never run, never answered).
    void DropNext(int n) { drop_ = n; }
    /// No free capacity while true: the engine hands it nothing.
    void SetRefusing(bool refusing);

    /// Runs every queued command through the inbox and handlers; returns the replies.
    std::vector<engine::Reply> RunQueued();
    /// Runs queued commands and applies their replies to `engine`; returns how many.
    int Pump(engine::Engine& engine);

    [[nodiscard]] const std::deque<engine::Command>& queued() const { return queue_; }
    [[nodiscard]] const std::vector<engine::Command>& received() const { return received_; }
    [[nodiscard]] int effects(const SagaId& saga, int step, Phase phase) const;
    [[nodiscard]] const std::map<EffectKey, int>& all_effects() const { return effects_; }
    /// Actions in the order their handlers ran, for one saga.
    [[nodiscard]] std::vector<std::string> RunOrder(const SagaId& saga) const;
    [[nodiscard]] int handler_runs() const { return handler_runs_; }

private:
    engine::Reply Handle(const engine::Command& command);

    std::unordered_map<std::string, Handler> handlers_;
    std::unordered_map<MsgId, engine::Reply> inbox_;
    std::deque<engine::Command> queue_;
    std::vector<engine::Command> received_;
    std::map<EffectKey, int> effects_;
    std::vector<std::pair<SagaId, std::string>> run_order_;
    std::map<std::string, int> retries_left_;
    int drop_ = 0;
    engine::Dispatcher* ledger_ = nullptr;
    std::vector<std::string> queues_;
    int handler_runs_ = 0;
};

}  // namespace sagaflow::testing
