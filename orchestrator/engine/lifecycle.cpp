// The Boost.MSM lifecycle machine (classic back-end, functor front-end).
//
// The machine is rebuilt for every decision: `Restore` puts it into the stored state
// through action-less rows, then the real event runs. It has no actions: what a saga does
// next is the Plan's effects; the machine only decides where its status goes.

// The table has more rows than Boost.MPL's default limit of 20 for a vector; raising the
// limit means MPL must generate its headers instead of using its preprocessed ones.
// These come before any Boost header, and this is the one file that includes MSM.
#define BOOST_MPL_CFG_NO_PREPROCESSED_HEADERS
#define BOOST_MPL_LIMIT_VECTOR_SIZE 40
#define BOOST_MPL_LIMIT_MAP_SIZE 40

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

// Events. Only Restore carries data.
struct Restore {
    SagaStatus status;
};
struct Begin {};
struct FlowCompleted {};
struct FlowFailed {};
struct Undone {};
struct Stuck {};
struct ManualCompensate {};
struct ManualRetry {};
struct Park {};
struct OperatorResume {};
struct Cancel {};
struct ResolveCompleted {};
struct ResolveCompensated {};

struct LifecycleDef : msm::front::state_machine_def<LifecycleDef> {
    using no_exception_thrown = int;  // no actions, nothing to throw
    using no_message_queue = int;     // nothing raises events

    bool rejected = false;

    // States. Idle exists only before Begin or Restore; it is never stored.
    struct Idle : msm::front::state<> {};
    struct Running : msm::front::state<> {};
    struct Compensating : msm::front::state<> {};
    struct Completed : msm::front::state<> {};
    struct Compensated : msm::front::state<> {};
    struct Failed : msm::front::state<> {};
    struct Parked : msm::front::state<> {};  // owned by an operator: nothing times it out
    struct Cancelled : msm::front::state<> {};
    using initial_state = Idle;

    template <SagaStatus Code>
    struct Was {
        template <class E, class M, class S, class T>
        bool operator()(const E& e, M&, S&, T&) const {
            return e.status == Code;
        }
    };

    // clang-format off
    struct transition_table : mpl::vector<
        //    Start          Event              Next            Action  Guard
        //   +--------------+------------------+---------------+-------+--------------------------------+
        Row < Idle         , Restore          , Running       , none  , Was<SagaStatus::kRunning>      >,
        Row < Idle         , Restore          , Compensating  , none  , Was<SagaStatus::kCompensating> >,
        Row < Idle         , Restore          , Completed     , none  , Was<SagaStatus::kCompleted>    >,
        Row < Idle         , Restore          , Compensated   , none  , Was<SagaStatus::kCompensated>  >,
        Row < Idle         , Restore          , Failed        , none  , Was<SagaStatus::kFailed>       >,
        Row < Idle         , Restore          , Parked        , none  , Was<SagaStatus::kParked>       >,
        Row < Idle         , Restore          , Cancelled     , none  , Was<SagaStatus::kCancelled>    >,
        Row < Idle         , Begin            , Running       , none  , none                           >,
        //   +--------------+------------------+---------------+-------+--------------------------------+
        Row < Running      , FlowCompleted    , Completed     , none  , none                           >,
        Row < Running      , FlowFailed       , Compensating  , none  , none                           >,
        Row < Running      , ManualCompensate , Compensating  , none  , none                           >,
        Row < Completed    , ManualCompensate , Compensating  , none  , none                           >,
        Row < Running      , Park             , Parked        , none  , none                           >,
        Row < Parked       , OperatorResume   , Running       , none  , none                           >,
        Row < Parked       , ManualCompensate , Compensating  , none  , none                           >,
        //   +--------------+------------------+---------------+-------+--------------------------------+
        Row < Compensating , Undone           , Compensated   , none  , none                           >,
        Row < Compensating , Stuck            , Failed        , none  , none                           >,
        Row < Failed       , ManualRetry      , Compensating  , none  , none                           >,
        //   +--------------+------------------+---------------+-------+--------------------------------+
        // An operator closes a saga that has not ended by itself. (Whether a running one
        // needs --force is the service's rule about the request, not a status.)
        Row < Running      , Cancel             , Cancelled   , none  , none                           >,
        Row < Parked       , Cancel             , Cancelled   , none  , none                           >,
        Row < Compensating , Cancel             , Cancelled   , none  , none                           >,
        Row < Failed       , Cancel             , Cancelled   , none  , none                           >,
        Row < Running      , ResolveCompleted   , Completed   , none  , none                           >,
        Row < Parked       , ResolveCompleted   , Completed   , none  , none                           >,
        Row < Compensating , ResolveCompleted   , Completed   , none  , none                           >,
        Row < Failed       , ResolveCompleted   , Completed   , none  , none                           >,
        Row < Running      , ResolveCompensated , Compensated , none  , none                           >,
        Row < Parked       , ResolveCompensated , Compensated , none  , none                           >,
        Row < Compensating , ResolveCompensated , Compensated , none  , none                           >,
        Row < Failed       , ResolveCompensated , Compensated , none  , none                           >
        //   +--------------+------------------+---------------+-------+--------------------------------+
    > {};
    // clang-format on

    template <class Fsm, class Event>
    void no_transition(const Event&, Fsm&, int) {
        rejected = true;
    }
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
        case kStateId<LifecycleDef::Parked>: return SagaStatus::kParked;
        case kStateId<LifecycleDef::Cancelled>: return SagaStatus::kCancelled;
        default: return std::nullopt;
    }
}

void Fire(Machine& m, LifecycleEvent event) {
    switch (event) {
        case LifecycleEvent::kBegin: m.process_event(Begin{}); return;
        case LifecycleEvent::kFlowCompleted: m.process_event(FlowCompleted{}); return;
        case LifecycleEvent::kFlowFailed: m.process_event(FlowFailed{}); return;
        case LifecycleEvent::kUndone: m.process_event(Undone{}); return;
        case LifecycleEvent::kStuck: m.process_event(Stuck{}); return;
        case LifecycleEvent::kManualCompensate: m.process_event(ManualCompensate{}); return;
        case LifecycleEvent::kManualRetry: m.process_event(ManualRetry{}); return;
        case LifecycleEvent::kPark: m.process_event(Park{}); return;
        case LifecycleEvent::kOperatorResume: m.process_event(OperatorResume{}); return;
        case LifecycleEvent::kCancel: m.process_event(Cancel{}); return;
        case LifecycleEvent::kResolveCompleted: m.process_event(ResolveCompleted{}); return;
        case LifecycleEvent::kResolveCompensated: m.process_event(ResolveCompensated{}); return;
    }
}

void RestoreInto(Machine& m, SagaStatus status) {
    m.process_event(Restore{status});
    if (m.rejected || CurrentStatus(m) != status) {
        throw Error(ErrorCode::kInternal,
                    "lifecycle cannot restore state code " + std::to_string(static_cast<int>(status)));
    }
}

}  // namespace

Decision Decide(const std::optional<SagaStatus>& current, LifecycleEvent event) {
    Machine m;
    m.start();
    if (current) RestoreInto(m, *current);
    Fire(m, event);
    Decision d;
    if (m.rejected) {
        if (current) d.status = *current;
        return d;
    }
    const auto status = CurrentStatus(m);
    if (!status) throw Error(ErrorCode::kInternal, "lifecycle ended in no stored state");
    d.accepted = true;
    d.status = *status;
    return d;
}

SagaStatus RestoreAndRead(SagaStatus status) {
    Machine m;
    m.start();
    RestoreInto(m, status);
    return *CurrentStatus(m);
}

}  // namespace sagaflow::engine
