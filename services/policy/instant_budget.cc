#include "services/policy/instant_budget.h"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "services/policy/money.h"

namespace makegood::policy {

InstantBudgetState CurrentInstantBudgetState(
    const InstantBudgetConfig& config,
    const std::optional<InstantBudgetState>& stored, absl::Time member_since) {
  if (stored.has_value()) return *stored;
  return {.balance_minor = config.initial_minor, .as_of = member_since};
}

int64_t AvailableInstantBudget(const InstantBudgetConfig& config,
                               const InstantBudgetState& state,
                               absl::Time now) {
  const int64_t capacity = config.capacity_minor;
  const int64_t balance = std::clamp<int64_t>(state.balance_minor, 0, capacity);
  if (now <= state.as_of) return balance;
  const int64_t refill =
      ScaleMinor(config.refill_per_day_minor,
                 absl::ToInt64Seconds(now - state.as_of), 24 * 60 * 60);
  return refill >= capacity - balance ? capacity : balance + refill;
}

}  // namespace makegood::policy
