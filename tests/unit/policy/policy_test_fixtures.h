// Shared inputs for the policy engine's tests and benchmark: a fixed "now", a
// few typical members and a small grocery order, all under the default
// policy. Tests copy these and change only what they are about.
#ifndef MAKEGOOD_TESTS_UNIT_POLICY_POLICY_TEST_FIXTURES_H_
#define MAKEGOOD_TESTS_UNIT_POLICY_POLICY_TEST_FIXTURES_H_

#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/inputs.h"
#include "services/policy/markets.h"
#include "services/policy/percent.h"
#include "services/policy/policy_config.h"

namespace makegood::policy::testing {

inline constexpr absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
inline constexpr absl::Duration kDay = absl::Hours(24);
inline constexpr char kVersion[] = "default@test";

// A percentage known to be in range.
inline Percent Pct(int value) { return Percent::FromInt(value).value(); }

// Premium for three years, 120 orders, no refunds, verified: trust 960 and a
// full instant budget of 100.00 EUR under the default policy.
inline MemberSnapshot TrustedPremium() {
  MemberSnapshot member;
  member.member_id = "m-premium";
  member.tier = "premium";
  member.member_since = kNow - 3 * 365 * kDay;
  member.flags = {"verified"};
  member.history.delivered_orders = 120;
  member.history.spend_90d_minor = 400'00;
  return member;
}

// Basic for two days, no history: trust 500 (the instant band's floor) and
// an instant budget of 6.00 EUR.
inline MemberSnapshot NewBasic() {
  MemberSnapshot member;
  member.member_id = "m-basic";
  member.tier = "basic";
  member.member_since = kNow - 2 * kDay;
  return member;
}

// Ice cream (frozen, 6.00) and bread (bakery, 3.00), delivery fee 2.99, paid
// by card an hour ago: total 11.99 EUR.
inline OrderSnapshot GroceryOrder() {
  OrderSnapshot order;
  order.order_id = "o-1";
  order.store_id = "store-7";
  order.courier_id = "courier-3";
  order.currency = "EUR";
  order.lines = {
      {.line_id = "l1",
       .sku = "ice-cream",
       .category = "frozen",
       .quantity = 1,
       .amount_minor = 6'00},
      {.line_id = "l2",
       .sku = "bread",
       .category = "bakery",
       .quantity = 1,
       .amount_minor = 3'00},
  };
  order.delivery_fee_minor = 2'99;
  order.total_minor = 11'99;
  order.delivered_at = kNow - absl::Hours(1);
  order.payment_method = PaymentMethod::kCard;
  return order;
}

inline void AddLine(OrderSnapshot& order, OrderLine line) {
  order.total_minor += line.amount_minor;
  order.lines.push_back(std::move(line));
}

// A rating of the whole order.
inline RatingInput OrderRating(int satisfaction,
                               std::vector<Reason> reasons = {}) {
  RatingInput rating;
  rating.satisfaction = Pct(satisfaction);
  rating.reasons = std::move(reasons);
  return rating;
}

// A rating of one line (the order is rated the same).
inline RatingInput LineRatingOf(const char* line_id, int satisfaction,
                                std::vector<Reason> reasons = {}) {
  RatingInput rating;
  rating.satisfaction = Pct(satisfaction);
  rating.line_ratings.push_back({.line_id = line_id,
                                 .satisfaction = Pct(satisfaction),
                                 .reasons = std::move(reasons)});
  return rating;
}

inline PolicyEngine EngineFor(PolicyConfig config) {
  return PolicyEngine::Create(std::move(config), kVersion).value();
}

inline PolicyEngine DefaultEngine() { return EngineFor(DefaultPolicyConfig()); }

// The decision on `rating`, at kNow; an engine error fails the test (and
// yields an empty decision).
inline Decision MustDecide(const PolicyEngine& engine,
                           const MemberSnapshot& member,
                           const OrderSnapshot& order,
                           const RatingInput& rating) {
  absl::StatusOr<Decision> decision =
      engine.Decide(member, order, rating, kNow);
  EXPECT_TRUE(decision.ok()) << decision.status();
  return decision.ok() ? *std::move(decision) : Decision{};
}

// The default policy's EUR market as a one-market policy: what tests that
// change tier money or the trust model's money start from.
inline PolicyConfig EurPolicyConfig() {
  return ForCurrency(DefaultPolicyConfig(), "EUR").value();
}

}  // namespace makegood::policy::testing

#endif  // MAKEGOOD_TESTS_UNIT_POLICY_POLICY_TEST_FIXTURES_H_
