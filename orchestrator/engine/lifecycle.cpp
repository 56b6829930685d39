// The Boost.MSM lifecycle machine (classic back-end, functor front-end).
//
// Actions only record effects into `Walk`; they do no I/O. The machine is rebuilt for
// every decision: `Restore` puts it into the stored state through action-less rows,
// then the real event runs. Anonymous (`none`) rows finish a saga when the walk runs
// off either end of the step list.

// The transition table has more rows than MPL's default limit of 20.
#define BOOST_MPL_CFG_NO_PREPROCESSED_HEADERS
#define BOOST_MPL_LIMIT_VECTOR_SIZE 30
#define BOOST_MPL_LIMIT_MAP_SIZE 30

#include "lifecycle.hpp"

#include <boost/msm/back/state_machine.hpp>
#include <boost/msm/front/functor_row.hpp>
#include <boost/msm/front/state_machine_def.hpp>
#include <string>

#include "sagaflow/core/error.hpp"

namespace sagaflow::engine {
namespace {

namespace msm = boost::msm;
namespace mpl = boost::mpl;
using msm::front::none;
using msm::front::Row;

/// The data the machine walks, and what its actions record.
struct Walk {
    const std::vector<StepShape>* steps = nullptr;
    int position = 0;
    int attempt = 0;
    std::vector<Effect> effects;
    bool rejected = false;

    [[nodiscard]] int step_count() const { return static_cast<int>(steps->size()); }
    [[nodiscard]] const StepShape& current() const { return steps->at(position); }

    // Walks back from step `from` to the first step that has a compensation and asks
    // for it; position -1 when there is none left.
    void CompensateFrom(int from) {
        int k = std::min(from, step_count() - 1);
        while (k >= 0 && !steps->at(k).has_compensation) --k;
        position = k;
        if (k >= 0) effects.push_back({Effect::Kind::kSend, k, Phase::kCompensate});
    }
};

// Events. Only Restore carries data; the rest of what the machine needs is in Walk.
struct Restore {
    SagaStatus status;
};
struct Begin {};
struct StepOk {};
struct StepFailed {};
struct StepRetry {};
struct StepTimedOut {};
struct CompensationOk {};
struct CompensationFailed {};
struct CompensationRetry {};
struct CompensationTimedOut {};
struct ManualCompensate {};
struct ManualCompensateUnsent {};
struct ManualRetry {};

struct LifecycleDef : msm::front::state_machine_def<LifecycleDef> {
    using no_exception_thrown = int;  // actions do not throw; no try/catch around them
    using no_message_queue = int;     // actions never raise events

    Walk* walk = nullptr;

    // States. Idle exists only before Begin or Restore; it is never stored.
    struct Idle : msm::front::state<> {};
    struct Running : msm::front::state<> {};
    struct Compensating : msm::front::state<> {};
    struct Completed : msm::front::state<> {};
    struct Compensated : msm::front::state<> {};
    struct Failed : msm::front::state<> {};
    using initial_state = Idle;

    // Actions.
    struct SendFirst {
        template <class E, class M, class S, class T>
        void operator()(const E&, M& m, S&, T&) const {
            m.walk->position = 0;
            m.walk->effects.push_back({Effect::Kind::kSend, 0, Phase::kForward});
        }
    };
    struct SendNext {
        template <class E, class M, class S, class T>
        void operator()(const E&, M& m, S&, T&) const {
            Walk& w = *m.walk;
            ++w.position;
            if (w.position < w.step_count()) {
                w.effects.push_back({Effect::Kind::kSend, w.position, Phase::kForward});
            }
        }
    };
    template <Phase P>
    struct Resend {
        template <class E, class M, class S, class T>
        void operator()(const E&, M& m, S&, T&) const {
            m.walk->effects.push_back({Effect::Kind::kResend, m.walk->position, P});
        }
    };
    // The current step may have had an effect: it succeeded, or its outcome is unknown.
    // A `retry` answer is unknown too: it says this attempt did not commit, not that no
    // other copy of the command (same msg id, e.g. on a worker that hangs past its
    // deadline and still holds the step's lock) will. Undoing it is always safe: the
    // inbox answers a compensation of a forward action that never ran as done-nothing.
    struct CompensateCurrent {
        template <class E, class M, class S, class T>
        void operator()(const E&, M& m, S&, T&) const {
            m.walk->CompensateFrom(m.walk->position);
        }
    };
    // The current step had no effect: it answered `fail` (final, its writes rolled back),
    // or it was a compensation that finished.
    struct CompensatePrevious {
        template <class E, class M, class S, class T>
        void operator()(const E&, M& m, S&, T&) const {
            m.walk->CompensateFrom(m.walk->position - 1);
        }
    };
    struct CompensateAll {
        template <class E, class M, class S, class T>
        void operator()(const E&, M& m, S&, T&) const {
            m.walk->CompensateFrom(m.walk->step_count() - 1);
        }
    };
    struct RetryCompensation {
        template <class E, class M, class S, class T>
        void operator()(const E&, M& m, S&, T&) const {
            m.walk->effects.push_back({Effect::Kind::kSend, m.walk->position, Phase::kCompensate});
        }
    };

    // Guards.
    template <SagaStatus Code>
    struct Was {
        template <class E, class M, class S, class T>
        bool operator()(const E& e, M&, S&, T&) const {
            return e.status == Code;
        }
    };
    template <bool Left>
    struct ForwardAttempts {
        template <class E, class M, class S, class T>
        bool operator()(const E&, M& m, S&, T&) const {
            return (m.walk->attempt < m.walk->current().max_attempts) == Left;
        }
    };
    template <bool Left>
    struct CompensationAttempts {
        template <class E, class M, class S, class T>
        bool operator()(const E&, M& m, S&, T&) const {
            return (m.walk->attempt < m.walk->current().compensation_max_attempts) == Left;
        }
    };
    struct AllStepsDone {
        template <class E, class M, class S, class T>
        bool operator()(const E&, M& m, S&, T&) const {
            return m.walk->position >= m.walk->step_count();
        }
    };
    struct NothingLeftToCompensate {
        template <class E, class M, class S, class T>
        bool operator()(const E&, M& m, S&, T&) const {
            return m.walk->position < 0;
        }
    };

    using RunningCode = Was<SagaStatus::kRunning>;
    using CompensatingCode = Was<SagaStatus::kCompensating>;
    using CompletedCode = Was<SagaStatus::kCompleted>;
    using CompensatedCode = Was<SagaStatus::kCompensated>;
    using FailedCode = Was<SagaStatus::kFailed>;
    using ForwardLeft = ForwardAttempts<true>;
    using ForwardSpent = ForwardAttempts<false>;
    using CompensationLeft = CompensationAttempts<true>;
    using CompensationSpent = CompensationAttempts<false>;

    // clang-format off
    struct transition_table : mpl::vector<
        //    Start          Event                    Next            Action                           Guard
        //   +--------------+------------------------+---------------+--------------------------------+--------------------------+
        Row < Idle         , Restore                , Running       , none                           , RunningCode              >,
        Row < Idle         , Restore                , Compensating  , none                           , CompensatingCode         >,
        Row < Idle         , Restore                , Completed     , none                           , CompletedCode            >,
        Row < Idle         , Restore                , Compensated   , none                           , CompensatedCode          >,
        Row < Idle         , Restore                , Failed        , none                           , FailedCode               >,
        Row < Idle         , Begin                  , Running       , SendFirst                      , none                     >,
        //   +--------------+------------------------+---------------+--------------------------------+--------------------------+
        Row < Running      , StepOk                 , Running       , SendNext                       , none                     >,
        Row < Running      , none                   , Completed     , none                           , AllStepsDone             >,
        Row < Running      , StepRetry              , Running       , Resend<Phase::kForward>        , ForwardLeft              >,
        Row < Running      , StepRetry              , Compensating  , CompensateCurrent              , ForwardSpent             >,
        Row < Running      , StepTimedOut           , Running       , Resend<Phase::kForward>        , ForwardLeft              >,
        Row < Running      , StepTimedOut           , Compensating  , CompensateCurrent              , ForwardSpent             >,
        Row < Running      , StepFailed             , Compensating  , CompensatePrevious             , none                     >,
        Row < Running      , ManualCompensate       , Compensating  , none                           , none                     >,
        Row < Running      , ManualCompensateUnsent , Compensating  , CompensatePrevious             , none                     >,
        Row < Completed    , ManualCompensate       , Compensating  , CompensateAll                  , none                     >,
        //   +--------------+------------------------+---------------+--------------------------------+--------------------------+
        Row < Compensating , StepOk                 , Compensating  , CompensateCurrent              , none                     >,
        Row < Compensating , StepFailed             , Compensating  , CompensatePrevious             , none                     >,
        Row < Compensating , StepRetry              , Compensating  , CompensateCurrent              , none                     >,
        Row < Compensating , StepTimedOut           , Compensating  , CompensateCurrent              , none                     >,
        Row < Compensating , CompensationOk         , Compensating  , CompensatePrevious             , none                     >,
        Row < Compensating , CompensationRetry      , Compensating  , Resend<Phase::kCompensate>     , CompensationLeft         >,
        Row < Compensating , CompensationRetry      , Failed        , none                           , CompensationSpent        >,
        Row < Compensating , CompensationTimedOut   , Compensating  , Resend<Phase::kCompensate>     , CompensationLeft         >,
        Row < Compensating , CompensationTimedOut   , Failed        , none                           , CompensationSpent        >,
        Row < Compensating , CompensationFailed     , Failed        , none                           , none                     >,
        Row < Compensating , none                   , Compensated   , none                           , NothingLeftToCompensate  >,
        Row < Failed       , ManualRetry            , Compensating  , RetryCompensation              , none                     >
        //   +--------------+------------------------+---------------+--------------------------------+--------------------------+
    > {};
    // clang-format on

    template <class Fsm, class Event>
    void no_transition(const Event&, Fsm&, int) {
        walk->rejected = true;
    }
    template <class Fsm>
    void no_transition(const none&, Fsm&, int) {}  // an unmet completion guard is no rejection
};

using Machine = msm::back::state_machine<LifecycleDef>;

template <class State>
constexpr int kStateId = msm::back::get_state_id<Machine::stt, State>::value;

std::optional<SagaStatus> CurrentStatus(const Machine& m) {
    switch (m.current_state()[0]) {
        case kStateId<LifecycleDef::Running>: return SagaStatus::kRunning;
        case kStateId<LifecycleDef::Compensating>: return SagaStatus::kCompensating;
        case kStateId<LifecycleDef::Completed>: return SagaStatus::kCompleted;
        case kStateId<LifecycleDef::Compensated>: return SagaStatus::kCompensated;
        case kStateId<LifecycleDef::Failed>: return SagaStatus::kFailed;
        default: return std::nullopt;
    }
}

void Fire(Machine& m, LifecycleEvent event) {
    switch (event) {
        case LifecycleEvent::kBegin: m.process_event(Begin{}); return;
        case LifecycleEvent::kStepOk: m.process_event(StepOk{}); return;
        case LifecycleEvent::kStepFailed: m.process_event(StepFailed{}); return;
        case LifecycleEvent::kStepRetry: m.process_event(StepRetry{}); return;
        case LifecycleEvent::kStepTimedOut: m.process_event(StepTimedOut{}); return;
        case LifecycleEvent::kCompensationOk: m.process_event(CompensationOk{}); return;
        case LifecycleEvent::kCompensationFailed: m.process_event(CompensationFailed{}); return;
        case LifecycleEvent::kCompensationRetry: m.process_event(CompensationRetry{}); return;
        case LifecycleEvent::kCompensationTimedOut: m.process_event(CompensationTimedOut{}); return;
        case LifecycleEvent::kManualCompensate: m.process_event(ManualCompensate{}); return;
        case LifecycleEvent::kManualCompensateUnsent: m.process_event(ManualCompensateUnsent{}); return;
        case LifecycleEvent::kManualRetry: m.process_event(ManualRetry{}); return;
    }
}

void RestoreInto(Machine& m, SagaStatus status) {
    m.process_event(Restore{status});
    if (m.walk->rejected || CurrentStatus(m) != status) {
        throw Error(ErrorCode::kInternal,
                    "lifecycle cannot restore state code " + std::to_string(static_cast<int>(status)));
    }
}

}  // namespace

Decision Decide(const std::optional<SagaPoint>& current, int attempt,
                const std::vector<StepShape>& steps, LifecycleEvent event) {
    if (steps.empty()) throw Error(ErrorCode::kInternal, "lifecycle needs at least one step");
    Walk walk;
    walk.steps = &steps;
    walk.position = current ? current->position : 0;
    walk.attempt = attempt;

    Machine m;
    m.walk = &walk;
    m.start();
    if (current) RestoreInto(m, current->status);
    Fire(m, event);

    Decision d;
    if (walk.rejected) {
        d.accepted = false;
        if (current) d.point = *current;
        return d;
    }
    const auto status = CurrentStatus(m);
    if (!status) throw Error(ErrorCode::kInternal, "lifecycle ended in no stored state");
    d.accepted = true;
    d.point = {*status, walk.position};
    d.effects = std::move(walk.effects);
    return d;
}

SagaStatus RestoreAndRead(SagaStatus status) {
    const std::vector<StepShape> one{StepShape{}};
    Walk walk;
    walk.steps = &one;
    Machine m;
    m.walk = &walk;
    m.start();
    RestoreInto(m, status);
    return *CurrentStatus(m);
}

}  // namespace sagaflow::engine
