// The shape of a claim (thresholds.large_claim_review_*): a rating claiming
// more whole lines than the policy allows, or more than a share of the
// order's goods, is checked by a person before anything is paid, in every
// band; smaller claims are decided as before, and silent ratings keep what
// can be settled at once.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/policy_config.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::AddLine;
using ::makegood::policy::testing::DefaultEngine;
using ::makegood::policy::testing::EngineFor;
using ::makegood::policy::testing::GroceryOrder;
using ::makegood::policy::testing::kNow;
using ::makegood::policy::testing::MustDecide;
using ::makegood::policy::testing::OrderRating;
using ::makegood::policy::testing::Pct;
using ::makegood::policy::testing::TrustedPremium;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// The grocery order (ice cream 6.00, bread 3.00) plus milk 2.00 and
// strawberries 4.00: four lines, goods 15.00 EUR.
OrderSnapshot FourLines() {
  OrderSnapshot order = GroceryOrder();
  AddLine(order, {.line_id = "l3",
                  .sku = "milk",
                  .category = "chilled",
                  .quantity = 1,
                  .amount_minor = 2'00});
  AddLine(order, {.line_id = "l4",
                  .sku = "strawberries",
                  .category = "produce",
                  .quantity = 1,
                  .amount_minor = 4'00});
  return order;
}

// `lines` of the order rated `satisfaction` % with `reason`.
RatingInput LinesRated(const std::vector<std::string>& lines, int satisfaction,
                       Reason reason) {
  RatingInput rating = OrderRating(satisfaction);
  for (const std::string& line : lines) {
    rating.line_ratings.push_back({.line_id = line,
                                   .satisfaction = Pct(satisfaction),
                                   .reasons = {reason}});
  }
  return rating;
}

int64_t PaidNow(const Decision& d) {
  return d.refund.has_value() ? d.refund->amount_minor : 0;
}

TEST(LargeClaim, TwoMissingLinesArePaidAtOnce) {
  const Decision d =
      MustDecide(DefaultEngine(), TrustedPremium(), FourLines(),
                 LinesRated({"l1", "l4"}, 0, Reason::kMissingItem));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  EXPECT_EQ(PaidNow(d), 10'00);
  EXPECT_THAT(d.reason_codes, Not(Contains("large_claim_review")));
}

TEST(LargeClaim, ThreeMissingLinesAreCheckedByAPersonFirst) {
  // The trusted premium member with a full budget would be paid at once;
  // more than two whole lines are reviewed instead, nothing paid now.
  const Decision d =
      MustDecide(DefaultEngine(), TrustedPremium(), FourLines(),
                 LinesRated({"l1", "l2", "l4"}, 0, Reason::kMissingItem));
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(PaidNow(d), 0);
  EXPECT_EQ(d.review_amount_minor, 13'00);
  EXPECT_EQ(d.instant_budget_used_minor, 0);
  EXPECT_THAT(d.reason_codes, Contains("large_claim_review"));
  EXPECT_THAT(d.explanation,
              HasSubstr("A claim for most of the order is checked by our "
                        "team before it is paid."));
}

TEST(LargeClaim, AWholeOrderRatedSevereClaimsEveryLine) {
  // No line ratings, 5 % and "damaged": every line is claimed whole.
  const Decision d = MustDecide(DefaultEngine(), TrustedPremium(), FourLines(),
                                OrderRating(5, {Reason::kDamaged}));
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(PaidNow(d), 0);
  EXPECT_GT(d.review_amount_minor, 0);
  EXPECT_THAT(d.reason_codes, Contains("large_claim_review"));
}

TEST(LargeClaim, AWholeOrderRatedLowButNotSevereIsPaidAtOnce) {
  // 40 % with "poor quality": part of every line, no line claimed whole.
  const Decision d = MustDecide(DefaultEngine(), TrustedPremium(), FourLines(),
                                OrderRating(40, {Reason::kPoorQuality}));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  EXPECT_GT(PaidNow(d), 0);
  EXPECT_THAT(d.reason_codes, Not(Contains("large_claim_review")));
}

TEST(LargeClaim, ASilentLargeRatingIsFollowedUpByAPersonNotPaidAtOnce) {
  // 5 % with no reason anywhere: silent. Paying it at once would be the way
  // around the rule (the same claim, reasons left out); a person follows it
  // up instead.
  const Decision d = MustDecide(DefaultEngine(), TrustedPremium(), FourLines(),
                                OrderRating(5));
  EXPECT_EQ(PaidNow(d), 0);
  EXPECT_EQ(d.review_amount_minor, 0);  // silent members are never reviewed
  EXPECT_THAT(d.reason_codes, Contains("large_claim_review"));
  EXPECT_THAT(d.explanation, HasSubstr("Someone from our team will contact "
                                       "you about this delivery."));
  ASSERT_FALSE(d.follow_ups.empty());
  EXPECT_EQ(d.follow_ups.back().kind, FollowUpKind::kSilentRecovery);
}

TEST(LargeClaim, ASilentRatingOfPartOfTheOrderIsStillPaidAtOnce) {
  // 35 % with no reason: silent, part of every line, no line whole.
  const Decision d = MustDecide(DefaultEngine(), TrustedPremium(), FourLines(),
                                OrderRating(35));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  EXPECT_GT(PaidNow(d), 0);
  EXPECT_THAT(d.reason_codes, Not(Contains("large_claim_review")));
}

TEST(LargeClaim, TheShareOfTheOrderRuleCountsGoodsNotTheFee) {
  PolicyConfig config = DefaultPolicyConfig();
  config.thresholds.large_claim_review_lines = 0;
  config.thresholds.large_claim_review_percent = 50;
  const PolicyEngine engine = EngineFor(config);
  // Ice cream + strawberries: 10.00 of 15.00 goods (67 %) > 50 %.
  Decision d = MustDecide(engine, TrustedPremium(), FourLines(),
                          LinesRated({"l1", "l4"}, 0, Reason::kMissingItem));
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(PaidNow(d), 0);
  EXPECT_THAT(d.reason_codes, Contains("large_claim_review"));
  // Ice cream alone: 6.00 of 15.00 (40 %): paid at once.
  d = MustDecide(engine, TrustedPremium(), FourLines(),
                 LinesRated({"l1"}, 0, Reason::kMissingItem));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  EXPECT_EQ(PaidNow(d), 6'00);
  // Late: the delivery fee is not goods, so it is never a large claim.
  d = MustDecide(engine, TrustedPremium(), FourLines(),
                 OrderRating(30, {Reason::kLate}));
  EXPECT_THAT(d.reason_codes, Not(Contains("large_claim_review")));
}

TEST(LargeClaim, OffMeansDecidedAsBefore) {
  PolicyConfig config = DefaultPolicyConfig();
  config.thresholds.large_claim_review_lines = 0;
  config.thresholds.large_claim_review_percent = 0;
  const Decision d =
      MustDecide(EngineFor(config), TrustedPremium(), FourLines(),
                 LinesRated({"l1", "l2", "l4"}, 0, Reason::kMissingItem));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  EXPECT_EQ(PaidNow(d), 13'00);
}

TEST(LargeClaim, ValidationNamesTheField) {
  PolicyConfig config = DefaultPolicyConfig();
  config.thresholds.large_claim_review_percent = 101;
  config.thresholds.large_claim_review_lines = -1;
  std::vector<std::string> fields;
  for (const Violation& v : Validate(config)) fields.push_back(v.field);
  EXPECT_THAT(fields, Contains("thresholds.large_claim_review_percent"));
  EXPECT_THAT(fields, Contains("thresholds.large_claim_review_lines"));
}

}  // namespace
}  // namespace makegood::policy
