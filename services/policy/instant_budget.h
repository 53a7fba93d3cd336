// The instant-refund budget: how much a member can be refunded at once,
// without review.
//
// A token bucket per member: it holds at most the tier's capacity, instant
// refunds draw it down, and it refills at the tier's daily rate from the last
// draw on. Refill therefore accrues only over time without instant refunds --
// a clean history earns the budget back. The caller stores the state; these
// functions only compute it.
#ifndef MAKEGOOD_SERVICES_POLICY_INSTANT_BUDGET_H_
#define MAKEGOOD_SERVICES_POLICY_INSTANT_BUDGET_H_

#include <cstdint>
#include <optional>

#include "absl/time/time.h"
#include "services/policy/inputs.h"
#include "services/policy/policy_config.h"

namespace makegood::policy {

// The member's stored state, or for a member never refunded instantly, the
// tier's initial balance as of `member_since`.
[[nodiscard]] InstantBudgetState CurrentInstantBudgetState(
    const InstantBudgetConfig& config,
    const std::optional<InstantBudgetState>& stored, absl::Time member_since);

// What is available at `now`: the balance plus the refill since `as_of`,
// within [0, capacity]. A state from the future earns no refill.
[[nodiscard]] int64_t AvailableInstantBudget(const InstantBudgetConfig& config,
                                             const InstantBudgetState& state,
                                             absl::Time now);

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_INSTANT_BUDGET_H_
