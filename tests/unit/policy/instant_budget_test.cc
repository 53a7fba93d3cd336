#include "services/policy/instant_budget.h"

#include <optional>

#include "gtest/gtest.h"
#include "services/policy/inputs.h"
#include "services/policy/policy_config.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::kDay;
using ::makegood::policy::testing::kNow;

constexpr InstantBudgetConfig kBudget = {.capacity_minor = 100'00,
                                         .initial_minor = 20'00,
                                         .refill_per_day_minor = 4'00};

TEST(InstantBudget, NewMemberStartsAtTheInitialBalanceAsOfJoining) {
  const InstantBudgetState state =
      CurrentInstantBudgetState(kBudget, std::nullopt, kNow - 2 * kDay);
  EXPECT_EQ(state, (InstantBudgetState{.balance_minor = 20'00,
                                       .as_of = kNow - 2 * kDay}));
  EXPECT_EQ(AvailableInstantBudget(kBudget, state, kNow), 28'00);
}

TEST(InstantBudget, StoredStateWins) {
  const InstantBudgetState stored{.balance_minor = 1, .as_of = kNow};
  EXPECT_EQ(CurrentInstantBudgetState(kBudget, stored, kNow - 9 * kDay),
            stored);
}

TEST(InstantBudget, RefillsByTheDayToCapacity) {
  const InstantBudgetState empty{.balance_minor = 0, .as_of = kNow - kDay / 2};
  EXPECT_EQ(AvailableInstantBudget(kBudget, empty, kNow), 2'00);
  const InstantBudgetState old{.balance_minor = 0, .as_of = kNow - 1000 * kDay};
  EXPECT_EQ(AvailableInstantBudget(kBudget, old, kNow), 100'00);
  const InstantBudgetState ancient{.balance_minor = 0,
                                   .as_of = absl::InfinitePast()};
  EXPECT_EQ(AvailableInstantBudget(kBudget, ancient, kNow), 100'00);
}

TEST(InstantBudget, StateFromTheFutureEarnsNoRefill) {
  const InstantBudgetState future{.balance_minor = 3'00, .as_of = kNow + kDay};
  EXPECT_EQ(AvailableInstantBudget(kBudget, future, kNow), 3'00);
}

TEST(InstantBudget, StoredBalanceIsClampedToCapacity) {
  EXPECT_EQ(AvailableInstantBudget(kBudget,
                                   {.balance_minor = -5, .as_of = kNow}, kNow),
            0);
  EXPECT_EQ(AvailableInstantBudget(
                kBudget, {.balance_minor = 500'00, .as_of = kNow}, kNow),
            100'00);
}

}  // namespace
}  // namespace makegood::policy
