// Claims on excluded categories (alcohol, gift cards, tobacco) are never met
// with silence: the policy's answer (evidence, review, coupon or partial
// refund) comes with an explanation and a manager follow-up, while trust
// bands, caps and budgets still apply. Ratings with nothing to act on still
// get no action.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/markets.h"
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
using ::makegood::policy::testing::MustDecide;
using ::makegood::policy::testing::NewBasic;
using ::makegood::policy::testing::OrderRating;
using ::makegood::policy::testing::TrustedPremium;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// The grocery order plus one line of `category` worth `amount_minor` (l3).
OrderSnapshot WithLine(const std::string& category, int64_t amount_minor,
                       OrderSnapshot order = GroceryOrder()) {
  AddLine(order, {.line_id = "l3",
                  .sku = category + "-item",
                  .category = category,
                  .quantity = 1,
                  .amount_minor = amount_minor});
  return order;
}

// Whether the decision asks a manager to act on an excluded-category claim.
bool HasExcludedTask(const Decision& decision) {
  for (const FollowUp& follow_up : decision.follow_ups) {
    if (follow_up.kind == FollowUpKind::kManagerFollowUp &&
        std::find(follow_up.reason_codes.begin(), follow_up.reason_codes.end(),
                  "excluded_category_claim") != follow_up.reason_codes.end()) {
      return true;
    }
  }
  return false;
}

// The default policy with alcohol answered by a review, as its first version
// did (the default now refunds half at once: see below).
PolicyConfig AlcoholReviewed() {
  PolicyConfig config = DefaultPolicyConfig();
  config.excluded_answers[0] = {
      .category = "alcohol",
      .answer = ExcludedAnswerKind::kReview,
      .explanation =
          "Alcohol cannot be refunded automatically because of "
          "licensing rules; our team will review your claim."};
  return config;
}

TEST(ExcludedAnswers, TheDefaultPolicyRefundsHalfAnAlcoholLineAtOnce) {
  const Decision d =
      MustDecide(DefaultEngine(), TrustedPremium(), WithLine("alcohol", 12'00),
                 LineRatingOf("l3", 0, {Reason::kMissingItem}));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  ASSERT_TRUE(d.refund.has_value());
  EXPECT_EQ(d.refund->amount_minor, 6'00);
  EXPECT_EQ(d.review_amount_minor, 0);
  EXPECT_THAT(d.reason_codes, ElementsAre("excluded_category_partial_refund"));
  EXPECT_EQ(d.explanation,
            "We have refunded \u20AC6.00 to your original payment. Alcohol is "
            "not refunded in full automatically; we refund half at once, and "
            "our team will follow up on the rest. A manager will contact you "
            "about this delivery.");
  EXPECT_TRUE(HasExcludedTask(d));
}

TEST(ExcludedAnswers, AlcoholIsReviewedByAPerson) {
  const Decision d = MustDecide(EngineFor(AlcoholReviewed()), TrustedPremium(),
                                WithLine("alcohol", 12'00),
                                LineRatingOf("l3", 0, {Reason::kMissingItem}));
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(d.refund, std::nullopt);  // never paid at once
  EXPECT_EQ(d.review_amount_minor, 12'00);
  EXPECT_THAT(d.reason_codes, ElementsAre("excluded_category_review"));
  EXPECT_EQ(d.explanation,
            "Our team will review your request for \u20AC12.00 and get back to "
            "you. Alcohol cannot be refunded automatically because of "
            "licensing rules; our team will review your claim. A manager will "
            "contact you about this delivery.");
  EXPECT_TRUE(HasExcludedTask(d));
}

TEST(ExcludedAnswers, AGiftCardAsksForEvidence) {
  const Decision d = MustDecide(DefaultEngine(), TrustedPremium(),
                                WithLine("gift_card", 20'00),
                                LineRatingOf("l3", 0, {Reason::kDamaged}));
  EXPECT_EQ(d.outcome, Outcome::kRequestEvidence);
  EXPECT_EQ(d.refund, std::nullopt);
  EXPECT_EQ(d.review_amount_minor, 20'00);
  EXPECT_THAT(d.reason_codes, ElementsAre("excluded_category_evidence"));
  EXPECT_THAT(d.explanation,
              HasSubstr("please send a photo of the card so that our team can "
                        "check it."));
  EXPECT_TRUE(HasExcludedTask(d));
}

TEST(ExcludedAnswers, TobaccoGetsACouponInTheOrdersCurrency) {
  const Decision d =
      MustDecide(DefaultEngine(), TrustedPremium(), WithLine("tobacco", 8'00),
                 LineRatingOf("l3", 0, {Reason::kWrongItem}));
  EXPECT_EQ(d.outcome, Outcome::kCoupon);
  ASSERT_TRUE(d.refund.has_value());
  EXPECT_EQ(d.refund->instrument, Instrument::kCoupon);
  EXPECT_EQ(d.refund->amount_minor, 3'00);  // the EUR market's coupon
  EXPECT_EQ(d.review_amount_minor, 0);
  EXPECT_THAT(d.reason_codes, ElementsAre("excluded_category_coupon",
                                          "excluded_category_coupon_granted"));
  EXPECT_THAT(d.explanation, HasSubstr("coupon worth \u20AC3.00"));
  EXPECT_TRUE(HasExcludedTask(d));

  OrderSnapshot won = WithLine("tobacco", 8'000);
  won.currency = "KRW";
  const Decision k = MustDecide(DefaultEngine(), TrustedPremium(), won,
                                LineRatingOf("l3", 0, {Reason::kWrongItem}));
  EXPECT_EQ(k.outcome, Outcome::kCoupon);
  EXPECT_EQ(k.refund->amount_minor, 4'000);
  EXPECT_EQ(k.refund->currency, "KRW");
  EXPECT_THAT(k.explanation, HasSubstr("coupon worth \u20A94,000"));
}

TEST(ExcludedAnswers, ACategoryWithoutItsOwnAnswerGetsTheDefault) {
  PolicyConfig config = DefaultPolicyConfig();
  config.excluded_categories.push_back("medicine");
  const Decision d = MustDecide(EngineFor(config), TrustedPremium(),
                                WithLine("medicine", 7'00),
                                LineRatingOf("l3", 0, {Reason::kMissingItem}));
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(d.review_amount_minor, 7'00);
  EXPECT_THAT(d.explanation,
              HasSubstr("These items cannot be refunded automatically"));
  EXPECT_TRUE(HasExcludedTask(d));
}

// The default policy with alcohol answered by a partial refund.
PolicyConfig AlcoholPartlyRefunded(int percent) {
  PolicyConfig config = DefaultPolicyConfig();
  config.excluded_answers[0] = {.category = "alcohol",
                                .answer = ExcludedAnswerKind::kPartialRefund,
                                .partial_refund_percent = percent,
                                .explanation = "Alcohol is partly refunded."};
  return config;
}

TEST(ExcludedAnswers, APartialRefundIsPaidLikeAnyRefund) {
  const Decision d = MustDecide(EngineFor(AlcoholPartlyRefunded(50)),
                                TrustedPremium(), WithLine("alcohol", 12'00),
                                LineRatingOf("l3", 0, {Reason::kMissingItem}));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  EXPECT_EQ(d.refund->amount_minor, 6'00);
  EXPECT_THAT(d.reason_codes, ElementsAre("excluded_category_partial_refund"));
  EXPECT_EQ(d.explanation,
            "We have refunded \u20AC6.00 to your original payment. Alcohol is "
            "partly refunded. A manager will contact you about this "
            "delivery.");
  EXPECT_TRUE(HasExcludedTask(d));
}

TEST(ExcludedAnswers, APartialRefundStaysWithinTheInstantBudget) {
  // A new basic member has €6.00 of instant budget: the rest is reviewed.
  const Decision d = MustDecide(EngineFor(AlcoholPartlyRefunded(100)),
                                NewBasic(), WithLine("alcohol", 12'00),
                                LineRatingOf("l3", 0, {Reason::kMissingItem}));
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(d.refund->amount_minor, 6'00);
  EXPECT_EQ(d.review_amount_minor, 6'00);
  EXPECT_THAT(d.reason_codes, Contains("instant_budget_exhausted"));
}

TEST(ExcludedAnswers, AnAbuserIsDeniedWhateverTheCategory) {
  MemberSnapshot abuser = NewBasic();
  abuser.flags = {"confirmed_abuse", "chargeback"};  // trust far below 150
  for (const PolicyConfig& config :
       {DefaultPolicyConfig(), AlcoholPartlyRefunded(100)}) {
    for (const char* category : {"alcohol", "gift_card", "tobacco"}) {
      const Decision d =
          MustDecide(EngineFor(config), abuser, WithLine(category, 12'00),
                     LineRatingOf("l3", 0, {Reason::kMissingItem}));
      EXPECT_EQ(d.outcome, Outcome::kDeny) << category;
      EXPECT_EQ(d.refund, std::nullopt) << category;
      EXPECT_EQ(d.review_amount_minor, 0) << category;
      EXPECT_FALSE(HasExcludedTask(d)) << category;
    }
  }
}

TEST(ExcludedAnswers, ACouponAnswerForAMemberNotTrustedAtOnceIsReviewed) {
  // Bands where the trusted premium member (960) asks for evidence: no coupon
  // at once, a person settles the claim.
  PolicyConfig config = DefaultPolicyConfig();
  config.thresholds = {.instant_min_score = 1000,
                       .partial_min_score = 1000,
                       .evidence_min_score = 900,
                       .review_min_score = 150,
                       .partial_instant_percent = 50};
  const Decision d =
      MustDecide(EngineFor(config), TrustedPremium(), WithLine("tobacco", 8'00),
                 LineRatingOf("l3", 0, {Reason::kWrongItem}));
  EXPECT_EQ(d.outcome, Outcome::kRequestEvidence);
  EXPECT_EQ(d.refund, std::nullopt);
  EXPECT_EQ(d.review_amount_minor, 8'00);
  EXPECT_TRUE(HasExcludedTask(d));
}

TEST(ExcludedAnswers, CapsStillApply) {
  // The premium per-order cap, cut to €5.00 in the EUR market, bounds what
  // goes to review too.
  PolicyConfig config = AlcoholReviewed();
  config.markets[0].tiers[2].max_refund_per_order_minor = 5'00;
  const Decision d = MustDecide(EngineFor(config), TrustedPremium(),
                                WithLine("alcohol", 12'00),
                                LineRatingOf("l3", 0, {Reason::kMissingItem}));
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(d.review_amount_minor, 5'00);
  EXPECT_THAT(d.reason_codes, Contains("order_cap_reached"));
}

TEST(ExcludedAnswers, OtherLinesAreStillPaidAtOnce) {
  // Missing ice cream and wine: the ice cream is refunded now, the wine is
  // reviewed.
  RatingInput rating = OrderRating(50);
  rating.line_ratings = {
      {.line_id = "l1",
       .satisfaction = testing::Pct(0),
       .reasons = {Reason::kMissingItem}},
      {.line_id = "l3",
       .satisfaction = testing::Pct(0),
       .reasons = {Reason::kMissingItem}},
  };
  const Decision d = MustDecide(EngineFor(AlcoholReviewed()), TrustedPremium(),
                                WithLine("alcohol", 12'00), rating);
  EXPECT_EQ(d.outcome, Outcome::kManualReview);
  EXPECT_EQ(d.refund->amount_minor, 6'00);
  EXPECT_EQ(d.review_amount_minor, 12'00);
  EXPECT_THAT(
      d.explanation,
      HasSubstr("We have refunded \u20AC6.00 to your original payment "
                "now; our team will review the remaining \u20AC12.00."));
}

TEST(ExcludedAnswers, ASilentMemberIsNotSentToReview) {
  // 30 % with no reason: a silent complaint. The bread and ice cream are made
  // good at once; the wine is not reviewed (silent members never are), only
  // explained, and the silent-recovery follow-up has a person act.
  const Decision d = MustDecide(EngineFor(AlcoholReviewed()), TrustedPremium(),
                                WithLine("alcohol", 12'00), OrderRating(30));
  EXPECT_EQ(d.outcome, Outcome::kRefund);
  EXPECT_EQ(d.review_amount_minor, 0);
  EXPECT_THAT(d.reason_codes, Contains("excluded_category"));
  EXPECT_THAT(d.reason_codes, Not(Contains("excluded_category_review")));
  EXPECT_THAT(d.explanation, HasSubstr("Alcohol items cannot be refunded."));
  EXPECT_FALSE(HasExcludedTask(d));
  EXPECT_EQ(d.follow_ups.back().kind, FollowUpKind::kSilentRecovery);
}

TEST(ExcludedAnswers, ACouponIsNotGivenTwiceForOneOrder) {
  OrderSnapshot order = WithLine("tobacco", 8'00);
  order.coupon_granted_minor = 3'00;  // an earlier rating's coupon
  const Decision d = MustDecide(DefaultEngine(), TrustedPremium(), order,
                                LineRatingOf("l3", 0, {Reason::kWrongItem}));
  EXPECT_NE(d.outcome, Outcome::kCoupon);
  EXPECT_EQ(d.refund, std::nullopt);
  EXPECT_THAT(d.reason_codes, Contains("earlier_coupon_deducted"));
}

TEST(ExcludedAnswers, ARatingWithNothingToActOnIsStillNoAction) {
  const Decision d = MustDecide(DefaultEngine(), TrustedPremium(),
                                WithLine("alcohol", 12'00), OrderRating(90));
  EXPECT_EQ(d.outcome, Outcome::kNoAction);
  EXPECT_EQ(d.refund, std::nullopt);
  EXPECT_EQ(d.review_amount_minor, 0);
  EXPECT_THAT(d.reason_codes, IsEmpty());
  EXPECT_THAT(d.follow_ups, IsEmpty());
  EXPECT_EQ(d.explanation, "Thank you for your rating.");
  // A high line rating of the excluded line claims nothing either.
  const Decision line =
      MustDecide(DefaultEngine(), TrustedPremium(), WithLine("alcohol", 12'00),
                 LineRatingOf("l3", 100));
  EXPECT_EQ(line.outcome, Outcome::kNoAction);
  EXPECT_FALSE(HasExcludedTask(line));
  EXPECT_THAT(line.reason_codes, Not(Contains("excluded_category_review")));
}

}  // namespace
}  // namespace makegood::policy
