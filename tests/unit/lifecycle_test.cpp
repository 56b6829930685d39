// The lifecycle machine: every stored code restores, every allowed transition, and every
// other event refused without change. The walk itself is the Plan's (plan_test.cpp).
#include "lifecycle.hpp"

#include <gtest/gtest.h>

#include <set>

namespace sagaflow::engine {
namespace {

using E = LifecycleEvent;
using S = SagaStatus;

TEST(Lifecycle, RestoringEveryStoredCodeReadsItBack) {
    for (S s : {S::kRunning, S::kCompensating, S::kCompleted, S::kCompensated, S::kFailed, S::kParked, S::kCancelled}) {
        EXPECT_EQ(RestoreAndRead(s), s) << ToString(s);
    }
}

TEST(Lifecycle, EveryAllowedTransition) {
    struct Row {
        std::optional<S> from;
        E event;
        S to;
    };
    const Row rows[] = {
        {std::nullopt, E::kBegin, S::kRunning},
        {S::kRunning, E::kFlowCompleted, S::kCompleted},
        {S::kRunning, E::kFlowFailed, S::kCompensating},
        {S::kRunning, E::kManualCompensate, S::kCompensating},
        {S::kCompleted, E::kManualCompensate, S::kCompensating},
        {S::kCompensating, E::kUndone, S::kCompensated},
        {S::kCompensating, E::kStuck, S::kFailed},
        {S::kFailed, E::kManualRetry, S::kCompensating},
        {S::kRunning, E::kPark, S::kParked},
        {S::kParked, E::kOperatorResume, S::kRunning},
        {S::kParked, E::kManualCompensate, S::kCompensating},
    };
    std::vector<Row> closing;
    for (S from : {S::kRunning, S::kParked, S::kCompensating, S::kFailed}) {
        closing.push_back({from, E::kCancel, S::kCancelled});
        closing.push_back({from, E::kResolveCompleted, S::kCompleted});
        closing.push_back({from, E::kResolveCompensated, S::kCompensated});
    }
    for (const Row& r : closing) {
        const Decision d = Decide(r.from, r.event);
        EXPECT_TRUE(d.accepted) << ToString(*r.from) << " " << static_cast<int>(r.event);
        EXPECT_EQ(d.status, r.to);
    }
    for (const Row& r : rows) {
        const Decision d = Decide(r.from, r.event);
        EXPECT_TRUE(d.accepted) << static_cast<int>(r.event);
        EXPECT_EQ(d.status, r.to) << static_cast<int>(r.event);
    }
}

TEST(Lifecycle, EveryOtherEventIsRefusedWithoutChange) {
    const E all[] = {E::kBegin,  E::kFlowCompleted,    E::kFlowFailed,  E::kUndone, E::kStuck,
                     E::kManualCompensate, E::kManualRetry, E::kPark, E::kOperatorResume,
                     E::kCancel, E::kResolveCompleted, E::kResolveCompensated};
    const std::set<std::pair<int, E>> allowed = {
        {1, E::kFlowCompleted}, {1, E::kFlowFailed}, {1, E::kManualCompensate}, {3, E::kManualCompensate},
        {2, E::kUndone},        {2, E::kStuck},      {5, E::kManualRetry},      {1, E::kPark},
        {6, E::kOperatorResume}, {6, E::kManualCompensate},
    };
    auto closes = [](int s, E e) {  // an operator closes what has not ended: running, compensating, failed, parked
        const bool open = s == 1 || s == 2 || s == 5 || s == 6;
        return open && (e == E::kCancel || e == E::kResolveCompleted || e == E::kResolveCompensated);
    };
    int refused = 0;
    for (S s : {S::kRunning, S::kCompensating, S::kCompleted, S::kCompensated, S::kFailed, S::kParked, S::kCancelled}) {
        for (E e : all) {
            if (allowed.contains({static_cast<int>(s), e}) || closes(static_cast<int>(s), e)) continue;
            const Decision d = Decide(s, e);
            EXPECT_FALSE(d.accepted) << ToString(s) << " " << static_cast<int>(e);
            EXPECT_EQ(d.status, s);
            ++refused;
        }
    }
    EXPECT_EQ(refused, 7 * 12 - 10 - 12);
    for (E e : all) {
        if (e != E::kBegin) {
            EXPECT_FALSE(Decide(std::nullopt, e).accepted) << "no saga yet";
        }
    }
}

TEST(Lifecycle, UndoingMeansCompensatingOrFailed) {
    EXPECT_TRUE(IsUndoing(S::kCompensating));
    EXPECT_TRUE(IsUndoing(S::kFailed));
    EXPECT_FALSE(IsUndoing(S::kRunning));
    EXPECT_FALSE(IsUndoing(S::kCompleted));
    EXPECT_FALSE(IsUndoing(S::kCompensated));
    EXPECT_FALSE(IsUndoing(S::kParked));  // a parked saga walks neither way until an operator acts
}

}  // namespace
}  // namespace sagaflow::engine
