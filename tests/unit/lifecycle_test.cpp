#include "lifecycle.hpp"

#include <gtest/gtest.h>

namespace sagaflow::engine {
namespace {

using K = Effect::Kind;
using E = LifecycleEvent;

// Three steps; the middle one has no compensation. Forward 3 attempts, undo 2.
const std::vector<StepShape> kSteps{{true, 3, 2}, {false, 3, 2}, {true, 3, 2}};

Decision From(SagaStatus s, int position, E event, int attempt = 1) {
    return Decide(SagaPoint{s, position}, attempt, kSteps, event);
}

TEST(Lifecycle, RestoringEveryStoredCodeReadsItBack) {
    for (SagaStatus s : {SagaStatus::kRunning, SagaStatus::kCompensating, SagaStatus::kCompleted,
                         SagaStatus::kCompensated, SagaStatus::kFailed}) {
        EXPECT_EQ(RestoreAndRead(s), s) << ToString(s);
    }
}

TEST(Lifecycle, BeginSendsTheFirstStep) {
    const Decision d = Decide(std::nullopt, 0, kSteps, E::kBegin);
    ASSERT_TRUE(d.accepted);
    EXPECT_EQ(d.point.status, SagaStatus::kRunning);
    EXPECT_EQ(d.point.position, 0);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 0, Phase::kForward}}));
    EXPECT_FALSE(From(SagaStatus::kRunning, 0, E::kBegin).accepted) << "an existing saga";
    EXPECT_FALSE(Decide(std::nullopt, 0, kSteps, E::kStepOk).accepted) << "no saga yet";
}

TEST(Lifecycle, StepOkWalksForwardThenCompletes) {
    Decision d = From(SagaStatus::kRunning, 0, E::kStepOk);
    EXPECT_EQ(d.point.status, SagaStatus::kRunning);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 1, Phase::kForward}}));
    d = From(SagaStatus::kRunning, 2, E::kStepOk);
    EXPECT_EQ(d.point.status, SagaStatus::kCompleted);
    EXPECT_EQ(d.point.position, 3);
    EXPECT_TRUE(d.effects.empty());
}

TEST(Lifecycle, FailedStepCompensatesEarlierStepsSkippingThoseWithout) {
    const Decision d = From(SagaStatus::kRunning, 2, E::kStepFailed);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.point.position, 0) << "step 1 has no compensation";
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 0, Phase::kCompensate}}));
}

TEST(Lifecycle, FailedFirstStepEndsCompensatedAtOnce) {
    const Decision d = From(SagaStatus::kRunning, 0, E::kStepFailed);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensated);
    EXPECT_EQ(d.point.position, -1);
    EXPECT_TRUE(d.effects.empty());
}

TEST(Lifecycle, TransientFailuresResendUntilTheAttemptsRunOut) {
    Decision d = From(SagaStatus::kRunning, 1, E::kStepRetry, 2);
    EXPECT_EQ(d.point.status, SagaStatus::kRunning);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kResend, 1, Phase::kForward}}));
    d = From(SagaStatus::kRunning, 2, E::kStepRetry, 3);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 2, Phase::kCompensate}}))
        << "a retry answer does not rule out another copy committing (a hung worker): undo it too";
}

TEST(Lifecycle, TimedOutStepIsItselfCompensatedWhenItsAttemptsRunOut) {
    const Decision d = From(SagaStatus::kRunning, 2, E::kStepTimedOut, 3);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 2, Phase::kCompensate}}))
        << "its outcome is unknown, so it is undone too";
}

TEST(Lifecycle, CompensationWalksBackThenEndsCompensated) {
    Decision d = From(SagaStatus::kCompensating, 2, E::kCompensationOk);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 0, Phase::kCompensate}}));
    d = From(SagaStatus::kCompensating, 0, E::kCompensationOk);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensated);
}

TEST(Lifecycle, CompensationThatCannotFinishEndsFailed) {
    Decision d = From(SagaStatus::kCompensating, 2, E::kCompensationRetry, 1);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kResend, 2, Phase::kCompensate}}));
    d = From(SagaStatus::kCompensating, 2, E::kCompensationTimedOut, 2);
    EXPECT_EQ(d.point.status, SagaStatus::kFailed);
    EXPECT_EQ(d.point.position, 2);
    d = From(SagaStatus::kCompensating, 2, E::kCompensationFailed);
    EXPECT_EQ(d.point.status, SagaStatus::kFailed);
    EXPECT_TRUE(d.effects.empty());
}

TEST(Lifecycle, ManualRetryOfFailedSagaResendsTheFailedCompensation) {
    const Decision d = From(SagaStatus::kFailed, 2, E::kManualRetry);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 2, Phase::kCompensate}}));
}

TEST(Lifecycle, ManualCompensateOfRunningSagaWaitsForTheStepInFlight) {
    Decision d = From(SagaStatus::kRunning, 1, E::kManualCompensate);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.point.position, 1);
    EXPECT_TRUE(d.effects.empty());
    d = From(SagaStatus::kCompensating, 2, E::kStepOk);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 2, Phase::kCompensate}}));
    d = From(SagaStatus::kCompensating, 2, E::kStepFailed);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 0, Phase::kCompensate}}));
    d = From(SagaStatus::kCompensating, 2, E::kStepRetry);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 2, Phase::kCompensate}}))
        << "no more forward attempts once compensating; its outcome is unknown, so undo it";
}

TEST(Lifecycle, ManualCompensateOfCompletedSagaUndoesFromTheLastStep) {
    const Decision d = From(SagaStatus::kCompleted, 3, E::kManualCompensate);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 2, Phase::kCompensate}}));
}

TEST(Lifecycle, EventsOutsideTheTableAreRejectedWithoutChange) {
    for (auto [status, event] : std::vector<std::pair<SagaStatus, E>>{
             {SagaStatus::kCompensated, E::kManualCompensate},
             {SagaStatus::kCompensating, E::kManualCompensate},
             {SagaStatus::kFailed, E::kManualCompensate},
             {SagaStatus::kRunning, E::kManualRetry},
             {SagaStatus::kCompleted, E::kStepOk},
             {SagaStatus::kRunning, E::kCompensationOk},
         }) {
        const Decision d = From(status, 1, event);
        EXPECT_FALSE(d.accepted) << ToString(status);
        EXPECT_EQ(d.point.status, status);
        EXPECT_TRUE(d.effects.empty());
    }
}

// A manual compensation whose awaited step was never sent withdraws it: only the steps
// before it are undone (skipping those without a compensation), and at the first step
// there is nothing to undo.
TEST(Lifecycle, ManualCompensateOfAnUnsentStepUndoesOnlyTheStepsBeforeIt) {
    Decision d = From(SagaStatus::kRunning, 2, E::kManualCompensateUnsent);
    ASSERT_TRUE(d.accepted);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensating);
    EXPECT_EQ(d.effects, (std::vector<Effect>{{K::kSend, 0, Phase::kCompensate}}));
    d = From(SagaStatus::kRunning, 0, E::kManualCompensateUnsent);
    EXPECT_EQ(d.point.status, SagaStatus::kCompensated);
    EXPECT_TRUE(d.effects.empty());
    EXPECT_FALSE(From(SagaStatus::kCompleted, 3, E::kManualCompensateUnsent).accepted);
}

}  // namespace
}  // namespace sagaflow::engine
