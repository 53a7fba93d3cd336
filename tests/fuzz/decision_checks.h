// File: tests/fuzz/decision_checks.h
//
// The money promises as properties of one policy decision, shared by the
// fuzzers that reach the engine: whatever the inputs, a decision never pays
// a negative amount, never takes an order above what the member paid, and
// never passes the tier's per-order or per-period ceiling, now or on review.
// Messages name the outcome (policy::OutcomeName) so a report reads alone.
#pragma once

#include <algorithm>
#include <cstdint>

#include "absl/status/statusor.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/inputs.h"
#include "tests/fuzz/fuzz_check.h"

namespace makegood::fuzz {

inline void CheckDecision(const policy::PolicyEngine& engine,
                          const policy::MemberSnapshot& member,
                          const policy::OrderSnapshot& order,
                          const policy::Decision& decision) {
  // A coupon is value for a future order, not money back: it is bounded by
  // its own rules (once per order), not by what the order paid.
  const bool coupon =
      decision.refund.has_value() &&
      decision.refund->instrument == policy::Instrument::kCoupon;
  if (coupon) {
    FUZZ_CHECK(decision.refund->amount_minor >= 0)
        << decision.refund->amount_minor;
  }
  const int64_t paid_now = decision.refund.has_value() && !coupon
                               ? decision.refund->amount_minor
                               : 0;
  const int64_t review = decision.review_amount_minor;
  FUZZ_CHECK(paid_now >= 0) << paid_now;
  FUZZ_CHECK(review >= 0) << review;
  if (decision.refund.has_value() && paid_now > 0) {
    FUZZ_CHECK(decision.refund->currency == order.currency)
        << decision.refund->currency << " vs " << order.currency;
  }
  // The order ceiling: refunded + paid now (+ under review) <= total.
  const int64_t left = std::max<int64_t>(
      0, order.total_minor - std::max<int64_t>(0, order.refunded_minor));
  FUZZ_CHECK(paid_now <= left)
      << policy::OutcomeName(decision.outcome) << " pays " << paid_now
      << " on an order with " << left << " left (total " << order.total_minor
      << ", refunded " << order.refunded_minor << ")";
  FUZZ_CHECK(paid_now + review <= left)
      << "pays " << paid_now << " + reviews " << review << " on an order with "
      << left << " left";
  // The tier's hard ceilings, in the order's market (a policy with markets
  // gives each currency its own money; its tiers hold none).
  absl::StatusOr<const policy::PolicyConfig*> market =
      engine.MarketConfig(order.currency);
  FUZZ_CHECK(market.ok() || paid_now + review == 0)
      << "money in a currency the policy does not serve: " << order.currency;
  const policy::TierConfig* tier = nullptr;
  if (market.ok()) {
    for (const policy::TierConfig& t : (*market)->tiers) {
      if (t.name == member.tier) tier = &t;
    }
  }
  if (tier != nullptr) {
    FUZZ_CHECK(paid_now + review <= tier->max_refund_per_order_minor)
        << "per-order ceiling " << tier->max_refund_per_order_minor
        << " passed: " << paid_now << " + " << review;
    const int64_t period_left = std::max<int64_t>(
        0, tier->max_refund_per_period_minor -
               std::max<int64_t>(0, member.history.refunded_30d_minor));
    FUZZ_CHECK(paid_now + review <= period_left)
        << "per-period ceiling passed: " << paid_now << " + " << review
        << " with " << period_left << " left";
  }
  FUZZ_CHECK(decision.instant_budget_used_minor >= 0 &&
             decision.instant_budget_used_minor <= paid_now)
      << "instant budget used " << decision.instant_budget_used_minor << " for "
      << paid_now << " paid now";
}

}  // namespace makegood::fuzz
