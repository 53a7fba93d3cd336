// Golden tests of the explanations shown to members: the exact text is part
// of the product, so a change here must be deliberate.
#include <string>

#include "absl/status/statusor.h"
#include "gtest/gtest.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/inputs.h"
#include "services/policy/policy_config.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::AddLine;
using ::makegood::policy::testing::DefaultEngine;
using ::makegood::policy::testing::EngineFor;
using ::makegood::policy::testing::GroceryOrder;
using ::makegood::policy::testing::kNow;
using ::makegood::policy::testing::LineRatingOf;
using ::makegood::policy::testing::OrderRating;
using ::makegood::policy::testing::TrustedPremium;

std::string Explain(const PolicyEngine& engine, const MemberSnapshot& member,
                    const OrderSnapshot& order, const RatingInput& rating) {
  absl::StatusOr<Decision> decision =
      engine.Decide(member, order, rating, kNow);
  EXPECT_TRUE(decision.ok()) << decision.status();
  return decision.ok() ? decision->explanation : "";
}

std::string Explain(const RatingInput& rating) {
  return Explain(DefaultEngine(), TrustedPremium(), GroceryOrder(), rating);
}

PolicyEngine EngineWithBands(int instant, int partial, int evidence,
                             int review) {
  PolicyConfig config = DefaultPolicyConfig();
  config.thresholds.instant_min_score = instant;
  config.thresholds.partial_min_score = partial;
  config.thresholds.evidence_min_score = evidence;
  config.thresholds.review_min_score = review;
  return EngineFor(config);
}

RatingInput MissingIceCream() {
  return LineRatingOf("l1", 60, {Reason::kMissingItem});
}

TEST(Explanation, HappyMember) {
  EXPECT_EQ(Explain(OrderRating(90)), "Thank you for your rating.");
}

TEST(Explanation, MeltedIceCream) {
  EXPECT_EQ(Explain(LineRatingOf("l1", 50, {Reason::kMeltedOrWarm})),
            "We have refunded €6.00 to your original payment. Items "
            "reported as melted or warm are refunded in full.");
}

TEST(Explanation, TheMembersLocaleFormatsTheAmounts) {
  RatingInput rating = LineRatingOf("l1", 50, {Reason::kMeltedOrWarm});
  rating.locale = "de-DE";
  const absl::StatusOr<Decision> d =
      DefaultEngine().Decide(TrustedPremium(), GroceryOrder(), rating, kNow);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(d->explanation,
            "We have refunded 6,00 \u20AC to your original payment. "
            "Items reported as melted or warm are refunded in full.");
}

TEST(Explanation, CurveWithExcludedItemsPaidInCash) {
  OrderSnapshot order = GroceryOrder();
  order.payment_method = PaymentMethod::kCash;
  AddLine(order, {.line_id = "l3",
                  .sku = "wine",
                  .category = "alcohol",
                  .quantity = 1,
                  .amount_minor = 12'00});
  AddLine(order, {.line_id = "l4",
                  .sku = "voucher",
                  .category = "gift_card",
                  .quantity = 1,
                  .amount_minor = 10'00});
  // The default policy answers both: half of the alcohol is refunded at
  // once, a gift card asks for evidence; the rest of the claim is paid at
  // once.
  EXPECT_EQ(Explain(DefaultEngine(), TrustedPremium(), order, OrderRating(50)),
            "We have credited €7.50 to your wallet now; our team will review "
            "the remaining €5.00. Items are refunded in proportion to your "
            "rating. Alcohol is not refunded in full automatically; we "
            "refund half at once, and our team will follow up on the rest. "
            "Gift cards "
            "cannot be refunded automatically; please send a photo of the "
            "card so that our team can check it. Cash payments are refunded "
            "as wallet credit. A manager will contact you about this "
            "delivery.");
  // A policy that does not answer them only says so.
  PolicyConfig unanswered = DefaultPolicyConfig();
  unanswered.excluded_answers.clear();
  for (MarketConfig& market : unanswered.markets) {
    market.excluded_coupon_minor = 0;
  }
  EXPECT_EQ(
      Explain(EngineFor(unanswered), TrustedPremium(), order, OrderRating(50)),
      "We have credited €4.50 to your wallet. Items are refunded in "
      "proportion to your rating. Alcohol and gift card items cannot be "
      "refunded. Cash payments are refunded as wallet credit.");
}

TEST(Explanation, LateDelivery) {
  EXPECT_EQ(Explain(OrderRating(40, {Reason::kLate})),
            "We have refunded €2.99 to your original payment. The delivery "
            "fee is refunded because the delivery was reported as late.");
}

TEST(Explanation, CourierBehaviourCoupon) {
  EXPECT_EQ(Explain(OrderRating(30, {Reason::kCourierBehaviour})),
            "We have sent you a coupon worth €5.00. You get a coupon "
            "because the delivery was reported as affected by the courier's "
            "behaviour.");
}

TEST(Explanation, PeriodCap) {
  MemberSnapshot member = TrustedPremium();
  member.history.refunded_30d_minor = 295'00;
  EXPECT_EQ(Explain(DefaultEngine(), member, GroceryOrder(), MissingIceCream()),
            "We have refunded €5.00 to your original payment. Items "
            "reported as missing are refunded in full. The refund is limited "
            "to €300.00 per 30 days for premium members.");
}

TEST(Explanation, InstantBudgetShortfallGoesToReview) {
  MemberSnapshot member = TrustedPremium();
  member.instant_budget =
      InstantBudgetState{.balance_minor = 2'00, .as_of = kNow};
  EXPECT_EQ(Explain(DefaultEngine(), member, GroceryOrder(), MissingIceCream()),
            "We have refunded €2.00 to your original payment now; our team "
            "will review the remaining €4.00. Items reported as missing are "
            "refunded in full. Your instant-refund budget covers €2.00 at "
            "once.");
}

TEST(Explanation, PartialBand) {
  EXPECT_EQ(Explain(EngineWithBands(1000, 900, 300, 150), TrustedPremium(),
                    GroceryOrder(), MissingIceCream()),
            "We have refunded €3.00 to your original payment now; our team "
            "will review the remaining €3.00. Items reported as missing are "
            "refunded in full.");
}

TEST(Explanation, EvidenceBand) {
  EXPECT_EQ(Explain(EngineWithBands(1000, 1000, 900, 150), TrustedPremium(),
                    GroceryOrder(), MissingIceCream()),
            "Please send us a photo of the problem so that we can settle up to "
            "€6.00. Items reported as missing are refunded in full.");
}

TEST(Explanation, ReviewBand) {
  EXPECT_EQ(Explain(EngineWithBands(1000, 1000, 1000, 900), TrustedPremium(),
                    GroceryOrder(), MissingIceCream()),
            "Our team will review your request for €6.00 and get back to "
            "you. Items reported as missing are refunded in full.");
}

TEST(Explanation, DenialNamesNoRuleAndNoTrustDetail) {
  EXPECT_EQ(Explain(EngineWithBands(1000, 1000, 1000, 1000), TrustedPremium(),
                    GroceryOrder(), MissingIceCream()),
            "We cannot settle this request automatically; please contact "
            "support if you need help.");
}

TEST(Explanation, SevereRatingFromPremium) {
  EXPECT_EQ(Explain(OrderRating(10, {Reason::kDamaged})),
            "We have refunded €9.00 to your original payment. Items are "
            "refunded in proportion to your rating. A manager will contact you "
            "about this delivery.");
}

TEST(Explanation, SilentLowRating) {
  MemberSnapshot member = TrustedPremium();
  member.instant_budget =
      InstantBudgetState{.balance_minor = 2'00, .as_of = kNow};
  EXPECT_EQ(Explain(DefaultEngine(), member, GroceryOrder(), OrderRating(30)),
            "We have refunded €2.00 to your original payment. Items are "
            "refunded in proportion to your rating. Your instant-refund budget "
            "covers €2.00 at once. We noticed your low rating and made good "
            "at once, without you having to ask.");
}

TEST(Explanation, Replacement) {
  PolicyConfig config = DefaultPolicyConfig();
  for (ReasonRule& rule : config.reason_rules) {
    if (rule.reason == Reason::kWrongItem) {
      rule.effect = RuleEffect::kReplaceLine;
    }
  }
  EXPECT_EQ(Explain(EngineFor(config), TrustedPremium(), GroceryOrder(),
                    LineRatingOf("l2", 30, {Reason::kWrongItem})),
            "Your replacement is on its way. Items reported as wrong are sent "
            "again.");
}

}  // namespace
}  // namespace makegood::policy
