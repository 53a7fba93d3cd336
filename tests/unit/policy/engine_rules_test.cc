// One test per rule of the decision engine, under the default policy unless a
// test says otherwise.
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
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
using ::makegood::policy::testing::kDay;
using ::makegood::policy::testing::kNow;
using ::makegood::policy::testing::kVersion;
using ::makegood::policy::testing::LineRatingOf;
using ::makegood::policy::testing::NewBasic;
using ::makegood::policy::testing::OrderRating;
using ::makegood::policy::testing::Pct;
using ::makegood::policy::testing::TrustedPremium;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Optional;

MATCHER_P2(PaidNow, amount_minor, instrument, "") {
  return arg.has_value() && arg->amount_minor == amount_minor &&
         arg->instrument == instrument && arg->currency == "EUR";
}

MATCHER_P2(FollowUpIs, kind, target_id, "") {
  return arg.kind == kind && arg.target_id == target_id;
}

class DecideTest : public ::testing::Test {
 protected:
  // Decides with the fixture's engine, member and order; fails the test on
  // an error.
  Decision Decide(const RatingInput& rating) {
    absl::StatusOr<Decision> decision =
        engine_.Decide(member_, order_, rating, kNow);
    EXPECT_TRUE(decision.ok()) << decision.status();
    return decision.ok() ? *decision : Decision{};
  }
  // Replaces the engine with one running `config`.
  void Use(PolicyConfig config) { engine_ = EngineFor(std::move(config)); }
  // Trust bands such that the trusted premium member (960) falls in the one
  // starting at 960.
  void UseBands(int instant, int partial, int evidence, int review) {
    PolicyConfig config = DefaultPolicyConfig();
    config.thresholds.instant_min_score = instant;
    config.thresholds.partial_min_score = partial;
    config.thresholds.evidence_min_score = evidence;
    config.thresholds.review_min_score = review;
    Use(config);
  }

  PolicyEngine engine_ = DefaultEngine();
  MemberSnapshot member_ = TrustedPremium();
  OrderSnapshot order_ = GroceryOrder();
};

TEST_F(DecideTest, CurveRefundsInProportionToDissatisfaction) {
  // 50 % satisfaction earns 50 % of 6.00 + 3.00; the delivery fee is not
  // goods.
  const Decision decision = Decide(OrderRating(50));
  EXPECT_EQ(decision.outcome, Outcome::kRefund);
  EXPECT_THAT(decision.refund, PaidNow(4'50, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes, ElementsAre("curve_proportional"));
}

TEST_F(DecideTest, CurveInterpolatesBetweenPoints) {
  // 60 % lies a third of the way from (50, 50) to (80, 0): 33.3 %.
  EXPECT_THAT(Decide(OrderRating(60)).refund,
              PaidNow(2'00 + 1'00, Instrument::kOriginalPayment));
}

TEST_F(DecideTest, HappyMemberGetsNoAction) {
  const Decision decision = Decide(OrderRating(85));
  EXPECT_EQ(decision.outcome, Outcome::kNoAction);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_THAT(decision.reason_codes, IsEmpty());
  EXPECT_EQ(decision.instant_budget_used_minor, 0);
}

TEST_F(DecideTest, LineRatingsRefundEachLineOnItsOwnCurve) {
  RatingInput rating = OrderRating(50);
  rating.line_ratings = {
      {.line_id = "l1", .satisfaction = Pct(20), .reasons = {}},
      {.line_id = "l2", .satisfaction = Pct(80), .reasons = {}}};
  // l1 in full (<= 20 %), l2 nothing (>= 80 %), whatever the order says.
  EXPECT_THAT(Decide(rating).refund,
              PaidNow(6'00, Instrument::kOriginalPayment));
}

TEST_F(DecideTest, UnratedLinesEarnNothingWhenLinesAreRated) {
  EXPECT_THAT(Decide(LineRatingOf("l2", 0)).refund,
              PaidNow(3'00, Instrument::kOriginalPayment));
}

TEST_F(DecideTest, TierScalesTheCurve) {
  member_ = NewBasic();  // basic receives 80 % of the curve
  EXPECT_THAT(Decide(OrderRating(50)).refund,
              PaidNow(3'60, Instrument::kOriginalPayment));
}

TEST_F(DecideTest, MissingItemRefundsTheLineInFull) {
  const Decision decision =
      Decide(LineRatingOf("l2", 60, {Reason::kMissingItem}));
  EXPECT_THAT(decision.refund, PaidNow(3'00, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes, ElementsAre("missing_item_full_line"));
  EXPECT_THAT(decision.follow_ups,
              ElementsAre(FollowUpIs(FollowUpKind::kStoreFeedback, "store-7")));
  EXPECT_THAT(decision.follow_ups[0].reason_codes, ElementsAre("missing_item"));
}

TEST_F(DecideTest, LineRulesApplyWhateverTheSatisfaction) {
  // A missing item is missing even if the member rated the line 100 %.
  EXPECT_THAT(Decide(LineRatingOf("l2", 100, {Reason::kMissingItem})).refund,
              PaidNow(3'00, Instrument::kOriginalPayment));
}

TEST_F(DecideTest, MeltedFrozenLineFromTrustedPremiumIsRefundedInstantly) {
  // The "done means": 50 % on a melted ice cream.
  const Decision decision =
      Decide(LineRatingOf("l1", 50, {Reason::kMeltedOrWarm}));
  EXPECT_EQ(decision.outcome, Outcome::kRefund);
  EXPECT_THAT(decision.refund, PaidNow(6'00, Instrument::kOriginalPayment));
  EXPECT_EQ(decision.review_amount_minor, 0);
  EXPECT_THAT(decision.reason_codes, ElementsAre("melted_or_warm_full_line"));
  EXPECT_THAT(decision.explanation,
              ::testing::HasSubstr("melted or warm are refunded in full"));
  EXPECT_EQ(decision.trust_score, 960);
}

TEST_F(DecideTest, MeltedRuleCoversOnlyItsCategories) {
  // Melted bread is not a frozen good: the curve decides (60 % -> 1/3).
  const Decision decision =
      Decide(LineRatingOf("l2", 60, {Reason::kMeltedOrWarm}));
  EXPECT_THAT(decision.refund, PaidNow(1'00, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes, ElementsAre("curve_proportional"));
}

TEST_F(DecideTest, MeltedOnTheWholeOrderCoversItsFrozenLines) {
  const Decision decision = Decide(OrderRating(60, {Reason::kMeltedOrWarm}));
  // Ice cream in full, bread on the curve.
  EXPECT_THAT(decision.refund,
              PaidNow(6'00 + 1'00, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("curve_proportional", "melted_or_warm_full_line"));
}

TEST_F(DecideTest, LateRefundsTheDeliveryFeeInsteadOfTheCurve) {
  const Decision decision = Decide(OrderRating(40, {Reason::kLate}));
  EXPECT_THAT(decision.refund, PaidNow(2'99, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes, ElementsAre("late_delivery_fee"));
  EXPECT_THAT(
      decision.follow_ups,
      ElementsAre(FollowUpIs(FollowUpKind::kCourierFeedback, "courier-3")));
}

TEST_F(DecideTest, LateWithAGoodsReasonAlsoEarnsTheCurve) {
  // 40 % -> 66.6 % of the goods, plus the fee.
  const Decision decision =
      Decide(OrderRating(40, {Reason::kLate, Reason::kDamaged}));
  EXPECT_THAT(decision.refund,
              PaidNow(4'00 + 2'00 + 2'99, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("curve_proportional", "late_delivery_fee"));
  EXPECT_THAT(
      decision.follow_ups,
      ElementsAre(FollowUpIs(FollowUpKind::kCourierFeedback, "courier-3"),
                  FollowUpIs(FollowUpKind::kStoreFeedback, "store-7")));
}

TEST_F(DecideTest, CourierBehaviourEarnsACouponAndCourierFeedbackNoRefund) {
  const Decision decision =
      Decide(OrderRating(30, {Reason::kCourierBehaviour}));
  EXPECT_EQ(decision.outcome, Outcome::kCoupon);
  EXPECT_THAT(decision.refund, PaidNow(5'00, Instrument::kCoupon));
  EXPECT_EQ(decision.instant_budget_used_minor, 0);
  EXPECT_THAT(decision.reason_codes, ElementsAre("courier_behaviour_coupon"));
  EXPECT_THAT(
      decision.follow_ups,
      ElementsAre(FollowUpIs(FollowUpKind::kCourierFeedback, "courier-3")));
}

TEST_F(DecideTest, ASecondRatingNeverGrantsTheSameCouponAgain) {
  order_.coupon_granted_minor = 5'00;  // The first rating's coupon.
  const Decision decision =
      Decide(OrderRating(20, {Reason::kCourierBehaviour}));
  EXPECT_EQ(decision.outcome, Outcome::kNoAction);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_THAT(decision.reason_codes, Contains("earlier_coupon_deducted"));
}

TEST_F(DecideTest, ASecondRatingOnlyAddsWhatTheFirstCouponDidNotCover) {
  order_.coupon_granted_minor = 2'00;
  const Decision decision =
      Decide(OrderRating(30, {Reason::kCourierBehaviour}));
  EXPECT_EQ(decision.outcome, Outcome::kCoupon);
  EXPECT_THAT(decision.refund, PaidNow(3'00, Instrument::kCoupon));
}

TEST_F(DecideTest, CouponIsDroppedWhenMoneyIsDue) {
  const Decision decision = Decide(
      OrderRating(30, {Reason::kCourierBehaviour, Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kRefund);
  EXPECT_EQ(decision.refund->instrument, Instrument::kOriginalPayment);
}

// A policy that excludes categories without answering them (an old
// document): the claim is only told it cannot be refunded.
PolicyConfig WithoutExcludedAnswers() {
  PolicyConfig config = DefaultPolicyConfig();
  config.excluded_answers.clear();
  for (MarketConfig& market : config.markets) market.excluded_coupon_minor = 0;
  return config;
}

TEST_F(DecideTest, ExcludedCategoryIsNeverRefunded) {
  Use(WithoutExcludedAnswers());
  AddLine(order_, {.line_id = "l3",
                   .sku = "wine",
                   .category = "alcohol",
                   .quantity = 1,
                   .amount_minor = 12'00});
  const Decision decision =
      Decide(LineRatingOf("l3", 0, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kNoAction);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_EQ(decision.review_amount_minor, 0);
  EXPECT_THAT(decision.reason_codes, ElementsAre("excluded_category"));
}

TEST_F(DecideTest, ExcludedLinesAreLeftOutOfAnOrderRating) {
  Use(WithoutExcludedAnswers());
  AddLine(order_, {.line_id = "l3",
                   .sku = "wine",
                   .category = "alcohol",
                   .quantity = 1,
                   .amount_minor = 12'00});
  const Decision decision = Decide(OrderRating(50));
  EXPECT_THAT(decision.refund, PaidNow(4'50, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("curve_proportional", "excluded_category"));
}

TEST_F(DecideTest, PerOrderCapLimitsTheRefund) {
  PolicyConfig config = testing::EurPolicyConfig();
  config.tiers[2].max_refund_per_order_minor = 5'00;
  Use(config);
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_THAT(decision.refund, PaidNow(5'00, Instrument::kOriginalPayment));
  EXPECT_EQ(decision.review_amount_minor, 0);  // caps are never reviewed
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("missing_item_full_line", "order_cap_reached"));
}

TEST_F(DecideTest, PerPeriodCapCountsRefundsOfTheLast30Days) {
  member_.history.refunded_30d_minor = 295'00;  // of 300.00 for premium
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_THAT(decision.refund, PaidNow(5'00, Instrument::kOriginalPayment));
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("missing_item_full_line", "period_cap_reached"));
}

// Changed by the second-rating rule: an order refunded up to 2.00 below its
// total used to be paid those 2.00; earlier refunds now count against the
// claim itself, and the 9.99 already refunded covers the 6.00 claimed.
TEST_F(DecideTest, EarlierRefundsCoveringTheClaimGetNoAction) {
  order_.refunded_minor = order_.total_minor - 2'00;
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kNoAction);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_EQ(decision.review_amount_minor, 0);
  EXPECT_THAT(decision.reason_codes, ElementsAre("missing_item_full_line",
                                                 "earlier_refunds_deducted"));
}

TEST_F(DecideTest, FullyRefundedOrderGetsNoAction) {
  order_.refunded_minor = order_.total_minor;
  const Decision decision = Decide(OrderRating(0, {Reason::kDamaged}));
  EXPECT_EQ(decision.outcome, Outcome::kNoAction);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("curve_proportional", "earlier_refunds_deducted"));
}

// A second rating of the same order may raise the refund, never duplicate it.
// The bread (3.00, no line rule) is rated alone so that the curve decides.
class SecondRatingTest : public DecideTest {
 protected:
  // Rates the bread at `satisfaction` as of poor quality (so that a low
  // rating is not a silent one) after earlier refunds of `refunded`.
  Decision RateBread(int satisfaction, int64_t refunded) {
    order_.refunded_minor = refunded;
    return Decide(LineRatingOf("l2", satisfaction, {Reason::kPoorQuality}));
  }
};

TEST_F(SecondRatingTest, FirstRatingIsPaidInFull) {
  // 50 % satisfaction earns 50 % of 3.00.
  const Decision first = RateBread(50, 0);
  EXPECT_THAT(first.refund, PaidNow(1'50, Instrument::kOriginalPayment));
  EXPECT_THAT(first.reason_codes, ElementsAre("curve_proportional"));
}

TEST_F(SecondRatingTest, LowerSecondRatingPaysOnlyTheDifference) {
  // 20 % earns 100 % of 3.00; 1.50 was refunded after the first rating.
  const Decision second = RateBread(20, 1'50);
  EXPECT_EQ(second.outcome, Outcome::kRefund);
  EXPECT_THAT(second.refund, PaidNow(1'50, Instrument::kOriginalPayment));
  EXPECT_EQ(second.review_amount_minor, 0);
  EXPECT_EQ(second.instant_budget_used_minor, 1'50);
  EXPECT_THAT(second.reason_codes,
              ElementsAre("curve_proportional", "earlier_refunds_deducted"));
  EXPECT_EQ(second.explanation,
            "We have refunded €1.50 to your original payment. Items are "
            "refunded in proportion to your rating. Earlier refunds of €1.50 "
            "on this order are deducted. A manager will contact you about "
            "this delivery.");
}

TEST_F(SecondRatingTest, HigherSecondRatingPaysNothing) {
  // 80 % earns nothing at all, and certainly not another 1.50.
  const Decision second = RateBread(80, 1'50);
  EXPECT_EQ(second.outcome, Outcome::kNoAction);
  EXPECT_EQ(second.refund, std::nullopt);
  EXPECT_EQ(second.instant_budget_used_minor, 0);
  EXPECT_THAT(second.reason_codes, IsEmpty());
  EXPECT_EQ(second.explanation, "Thank you for your rating.");
}

TEST_F(SecondRatingTest, SmallerClaimThanAlreadyRefundedPaysNothing) {
  // 65 % earns 25 % of 3.00 = 0.75, less than the 1.50 already refunded.
  const Decision second = RateBread(65, 1'50);
  EXPECT_EQ(second.outcome, Outcome::kNoAction);
  EXPECT_EQ(second.refund, std::nullopt);
  EXPECT_EQ(second.review_amount_minor, 0);
  EXPECT_THAT(second.reason_codes,
              ElementsAre("curve_proportional", "earlier_refunds_deducted"));
  EXPECT_EQ(second.explanation,
            "Thank you for your rating. Items are refunded in proportion to "
            "your rating. Earlier refunds of €1.50 on this order already "
            "cover it.");
}

TEST_F(SecondRatingTest, ACoveredClaimIsNotDeniedForLowTrust) {
  member_.flags = {"linked_to_abuser", "chargeback"};  // deny band
  const Decision second = RateBread(65, 1'50);
  EXPECT_EQ(second.outcome, Outcome::kNoAction);
  EXPECT_EQ(second.refund, std::nullopt);
}

TEST_F(SecondRatingTest, PerOrderCapCountsEarlierRefunds) {
  PolicyConfig config = testing::EurPolicyConfig();
  config.tiers[2].max_refund_per_order_minor = 2'00;  // premium
  Use(config);
  // The first rating was capped at 2.00; 20 % now claims 3.00, which is 1.00
  // beyond the earlier refund, but the order's cap leaves nothing.
  const Decision second = RateBread(20, 2'00);
  EXPECT_EQ(second.outcome, Outcome::kNoAction);
  EXPECT_EQ(second.refund, std::nullopt);
  EXPECT_EQ(second.review_amount_minor, 0);
  EXPECT_THAT(second.reason_codes,
              ElementsAre("curve_proportional", "earlier_refunds_deducted",
                          "order_cap_reached"));
}

TEST_F(DecideTest, InstantBudgetLimitsThePartPaidAtOnce) {
  member_.instant_budget =
      InstantBudgetState{.balance_minor = 2'00, .as_of = kNow};
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kManualReview);
  EXPECT_THAT(decision.refund, PaidNow(2'00, Instrument::kOriginalPayment));
  EXPECT_EQ(decision.review_amount_minor, 4'00);
  EXPECT_THAT(decision.reason_codes, ElementsAre("missing_item_full_line",
                                                 "instant_budget_exhausted"));
  EXPECT_EQ(decision.instant_budget_after,
            (InstantBudgetState{.balance_minor = 0, .as_of = kNow}));
}

TEST_F(DecideTest, InstantBudgetRefillsWithCleanHistory) {
  // Empty ten days ago; premium refills 4.00 a day.
  member_.instant_budget =
      InstantBudgetState{.balance_minor = 0, .as_of = kNow - 10 * kDay};
  EXPECT_EQ(engine_.Trust(member_, kNow)->instant_budget_remaining_minor,
            40'00);
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.instant_budget_used_minor, 6'00);
  EXPECT_EQ(decision.instant_budget_after,
            (InstantBudgetState{.balance_minor = 34'00, .as_of = kNow}));
}

TEST_F(DecideTest, DecisionWithoutInstantMoneyKeepsTheBudgetState) {
  const InstantBudgetState state{.balance_minor = 7'00,
                                 .as_of = kNow - absl::Hours(5)};
  member_.instant_budget = state;
  EXPECT_EQ(Decide(OrderRating(100)).instant_budget_after, state);
}

TEST_F(DecideTest, PartialBandSettlesAShareAndReviewsTheRest) {
  UseBands(1000, 900, 300, 150);
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kManualReview);
  EXPECT_THAT(decision.refund, PaidNow(3'00, Instrument::kOriginalPayment));
  EXPECT_EQ(decision.review_amount_minor, 3'00);
  EXPECT_THAT(decision.reason_codes, ElementsAre("missing_item_full_line",
                                                 "partial_instant_settlement"));
}

TEST_F(DecideTest, EvidenceBandAsksForEvidenceAndMovesNothing) {
  UseBands(1000, 1000, 900, 150);
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kRequestEvidence);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_EQ(decision.review_amount_minor, 6'00);
  EXPECT_EQ(decision.instant_budget_used_minor, 0);
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("missing_item_full_line", "evidence_required"));
}

TEST_F(DecideTest, ReviewBandSendsTheClaimToManualReview) {
  UseBands(1000, 1000, 1000, 900);
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kManualReview);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_EQ(decision.review_amount_minor, 6'00);
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("missing_item_full_line", "manual_review_required"));
}

TEST_F(DecideTest, DenyBandDeniesWithoutFeedbackToStoreOrCourier) {
  UseBands(1000, 1000, 1000, 1000);
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_EQ(decision.review_amount_minor, 0);
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("missing_item_full_line", "trust_denied"));
  EXPECT_THAT(decision.follow_ups, IsEmpty());
}

TEST_F(DecideTest, NewAccountWithHighRefundRateIsDeniedWithReasons) {
  member_ = NewBasic();
  member_.history = {.delivered_orders = 3,
                     .spend_90d_minor = 60'00,
                     .refunds_30d = 3,
                     .refunded_30d_minor = 30'00,
                     .refunds_90d = 3,
                     .refunded_90d_minor = 30'00,
                     .low_ratings_30d = 0,
                     .last_low_rating_at = std::nullopt};
  const Decision decision =
      Decide(LineRatingOf("l1", 60, {Reason::kMissingItem}));
  EXPECT_EQ(decision.outcome, Outcome::kDeny);
  EXPECT_THAT(decision.reason_codes, ::testing::Contains("trust_denied"));
  // 500 + 6 (orders) - 40 (one refund too many) - 400 (50 % refund rate).
  EXPECT_EQ(decision.trust_score, 66);
  const absl::StatusOr<TrustReport> trust = engine_.Trust(member_, kNow);
  ASSERT_TRUE(trust.ok()) << trust.status();
  EXPECT_THAT(trust->factors,
              ::testing::Contains(TrustFactor{
                  "refund_rate_90d", -400,
                  "refunds were 50% of spend in 90 days (10% tolerated)"}));
}

TEST_F(DecideTest, ChargebackFlagSendsANewMemberToReview) {
  member_ = NewBasic();
  member_.flags = {"chargeback"};  // 500 - 300 = 200: review band
  EXPECT_EQ(Decide(LineRatingOf("l1", 60, {Reason::kMissingItem})).outcome,
            Outcome::kManualReview);
}

TEST_F(DecideTest, CashOrderIsRefundedAsWalletCredit) {
  order_.payment_method = PaymentMethod::kCash;
  const Decision decision = Decide(OrderRating(50));
  EXPECT_EQ(decision.outcome, Outcome::kWalletCredit);
  EXPECT_THAT(decision.refund, PaidNow(4'50, Instrument::kWallet));
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("curve_proportional", "wallet_for_cash_payment"));
}

TEST_F(DecideTest, PolicyMayPreferWalletCreditForCards) {
  PolicyConfig config = DefaultPolicyConfig();
  config.prefer_wallet = true;
  Use(config);
  const Decision decision = Decide(OrderRating(50));
  EXPECT_EQ(decision.outcome, Outcome::kWalletCredit);
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("curve_proportional", "wallet_preferred_by_policy"));
}

PolicyConfig WrongItemReplaced() {
  PolicyConfig config = DefaultPolicyConfig();
  for (ReasonRule& rule : config.reason_rules) {
    if (rule.reason == Reason::kWrongItem) {
      rule.effect = RuleEffect::kReplaceLine;
    }
  }
  return config;
}

TEST_F(DecideTest, ReplacementRuleSendsTheLineAgain) {
  Use(WrongItemReplaced());
  const Decision decision =
      Decide(LineRatingOf("l2", 30, {Reason::kWrongItem}));
  EXPECT_EQ(decision.outcome, Outcome::kReplacement);
  EXPECT_EQ(decision.refund, std::nullopt);
  EXPECT_THAT(decision.replacement_line_ids, ElementsAre("l2"));
  EXPECT_THAT(decision.reason_codes, ElementsAre("wrong_item_replacement"));
}

TEST_F(DecideTest, ALineIsNeverSentAgainTwice) {
  Use(WrongItemReplaced());
  order_.replaced_line_ids = {"l2"};
  const Decision decision =
      Decide(LineRatingOf("l2", 30, {Reason::kWrongItem}));
  EXPECT_NE(decision.outcome, Outcome::kReplacement);
  EXPECT_THAT(decision.replacement_line_ids, IsEmpty());
  EXPECT_THAT(decision.reason_codes, Contains("earlier_replacement_deducted"));
}

TEST_F(DecideTest, ReplacementNeedsTrustOrTheLineIsClaimedAsMoney) {
  PolicyConfig config = WrongItemReplaced();
  config.thresholds = {.instant_min_score = 1000,
                       .partial_min_score = 1000,
                       .evidence_min_score = 900,
                       .review_min_score = 0,
                       .partial_instant_percent = 50};
  Use(config);
  const Decision decision =
      Decide(LineRatingOf("l2", 30, {Reason::kWrongItem}));
  EXPECT_EQ(decision.outcome, Outcome::kRequestEvidence);
  EXPECT_EQ(decision.review_amount_minor, 3'00);
  EXPECT_THAT(decision.replacement_line_ids, IsEmpty());
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("wrong_item_full_line", "evidence_required"));
}

TEST_F(DecideTest, SevereRatingFromPremiumAsksForManagerFollowUp) {
  const Decision decision = Decide(OrderRating(20, {Reason::kDamaged}));
  ASSERT_THAT(
      decision.follow_ups,
      ElementsAre(FollowUpIs(FollowUpKind::kStoreFeedback, "store-7"),
                  FollowUpIs(FollowUpKind::kManagerFollowUp, "m-premium")));
  EXPECT_THAT(decision.follow_ups[1].reason_codes,
              ElementsAre("severe_rating"));
}

TEST_F(DecideTest, SevereRatingFromBasicNeedsNoManager) {
  member_ = NewBasic();
  EXPECT_THAT(Decide(OrderRating(20, {Reason::kDamaged})).follow_ups,
              ElementsAre(FollowUpIs(FollowUpKind::kStoreFeedback, "store-7")));
}

TEST_F(DecideTest, SecondLowRatingWithin30DaysAsksForManagerFollowUp) {
  member_ = NewBasic();
  member_.history.last_low_rating_at = kNow - 10 * kDay;
  const Decision decision = Decide(OrderRating(45, {Reason::kDamaged}));
  EXPECT_TRUE(decision.low_rating);
  ASSERT_EQ(decision.follow_ups.size(), 2);
  EXPECT_THAT(decision.follow_ups[1],
              FollowUpIs(FollowUpKind::kManagerFollowUp, "m-basic"));
  EXPECT_THAT(decision.follow_ups[1].reason_codes,
              ElementsAre("repeat_low_rating"));
}

TEST_F(DecideTest, LowRatingAfterTheRepeatWindowNeedsNoManager) {
  member_ = NewBasic();
  member_.history.last_low_rating_at = kNow - 31 * kDay;
  EXPECT_THAT(Decide(OrderRating(45, {Reason::kDamaged})).follow_ups,
              ElementsAre(FollowUpIs(FollowUpKind::kStoreFeedback, "store-7")));
}

TEST_F(DecideTest, LowRatingIsAtOrBelowThePolicyThreshold) {
  EXPECT_TRUE(Decide(OrderRating(50)).low_rating);
  EXPECT_FALSE(Decide(OrderRating(51)).low_rating);
}

TEST_F(DecideTest, SilentLowRatingEarnsRecoveryWithinBudgetOnly) {
  member_.instant_budget =
      InstantBudgetState{.balance_minor = 2'00, .as_of = kNow};
  // 30 % with no reason: the curve asks 7.50, the budget allows 2.00, and
  // the rest is dropped rather than reviewed.
  const Decision decision = Decide(OrderRating(30));
  EXPECT_EQ(decision.outcome, Outcome::kRefund);
  EXPECT_THAT(decision.refund, PaidNow(2'00, Instrument::kOriginalPayment));
  EXPECT_EQ(decision.review_amount_minor, 0);
  EXPECT_THAT(decision.reason_codes,
              ElementsAre("curve_proportional", "instant_budget_exhausted",
                          "silent_recovery"));
  EXPECT_THAT(
      decision.follow_ups,
      ElementsAre(FollowUpIs(FollowUpKind::kSilentRecovery, "m-premium")));
}

TEST_F(DecideTest, SilentLowRatingBelowTheInstantBandsIsNotReviewed) {
  UseBands(1000, 1000, 900, 0);
  const Decision decision = Decide(OrderRating(30));
  EXPECT_EQ(decision.outcome, Outcome::kNoAction);
  EXPECT_EQ(decision.review_amount_minor, 0);
  EXPECT_THAT(
      decision.follow_ups,
      ElementsAre(FollowUpIs(FollowUpKind::kSilentRecovery, "m-premium")));
}

TEST_F(DecideTest, RatingAboveTheSilentThresholdIsNotSilent) {
  EXPECT_THAT(Decide(OrderRating(41)).reason_codes,
              ElementsAre("curve_proportional"));
}

TEST_F(DecideTest, PolicyVersionAndTrustScoreArePassedThrough) {
  const Decision decision = Decide(OrderRating(50));
  EXPECT_EQ(decision.policy_version, kVersion);
  EXPECT_EQ(decision.trust_score, 960);
}

TEST_F(DecideTest, EveryOutcomeIsReachable) {
  std::set<Outcome> seen;
  const RatingInput missing = LineRatingOf("l1", 60, {Reason::kMissingItem});
  seen.insert(Decide(OrderRating(100)).outcome);
  seen.insert(Decide(missing).outcome);
  seen.insert(Decide(OrderRating(30, {Reason::kCourierBehaviour})).outcome);
  order_.payment_method = PaymentMethod::kCash;
  seen.insert(Decide(missing).outcome);
  Use(WrongItemReplaced());
  seen.insert(Decide(LineRatingOf("l2", 30, {Reason::kWrongItem})).outcome);
  for (int review : {900, 1000}) {
    UseBands(1000, 1000, 1000, review);
    seen.insert(Decide(missing).outcome);
  }
  UseBands(1000, 1000, 900, 0);
  seen.insert(Decide(missing).outcome);
  EXPECT_EQ(seen.size(), 8);
}

TEST(DecideErrors, ClosedRatingWindowIsFailedPrecondition) {
  OrderSnapshot order = GroceryOrder();
  order.delivered_at = kNow - 8 * kDay;  // the window is 7 days
  EXPECT_EQ(DefaultEngine()
                .Decide(TrustedPremium(), order, OrderRating(0), kNow)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DecideErrors, UnknownTierIsFailedPrecondition) {
  MemberSnapshot member = TrustedPremium();
  member.tier = "gold";
  const PolicyEngine engine = DefaultEngine();
  EXPECT_EQ(engine.Decide(member, GroceryOrder(), OrderRating(0), kNow)
                .status()
                .code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(engine.Trust(member, kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(DecideErrors, InconsistentInputIsInvalidArgument) {
  const PolicyEngine engine = DefaultEngine();
  const auto code = [&](const MemberSnapshot& member,
                        const OrderSnapshot& order, const RatingInput& rating) {
    return engine.Decide(member, order, rating, kNow).status().code();
  };
  const MemberSnapshot member = TrustedPremium();
  const OrderSnapshot order = GroceryOrder();

  EXPECT_EQ(code(member, order, LineRatingOf("nope", 0)),
            absl::StatusCode::kInvalidArgument);
  RatingInput twice = LineRatingOf("l1", 0);
  twice.line_ratings.push_back(twice.line_ratings[0]);
  EXPECT_EQ(code(member, order, twice), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(code(member, order, OrderRating(0, {static_cast<Reason>(99)})),
            absl::StatusCode::kInvalidArgument);

  OrderSnapshot overfull = order;
  overfull.total_minor -= 1;  // lines + fee now exceed the total
  EXPECT_EQ(code(member, overfull, OrderRating(0)),
            absl::StatusCode::kInvalidArgument);
  OrderSnapshot over_refunded = order;
  over_refunded.refunded_minor = order.total_minor + 1;
  EXPECT_EQ(code(member, over_refunded, OrderRating(0)),
            absl::StatusCode::kInvalidArgument);

  MemberSnapshot negative = member;
  negative.history.refunds_30d = -1;
  EXPECT_EQ(code(negative, order, OrderRating(0)),
            absl::StatusCode::kInvalidArgument);
}

TEST(PolicyEngineCreate, InvalidConfigIsRefusedNamingTheField) {
  PolicyConfig config = testing::EurPolicyConfig();
  config.tiers[1].instant_budget.capacity_minor = -1;
  const absl::StatusOr<PolicyEngine> engine =
      PolicyEngine::Create(config, kVersion);
  EXPECT_EQ(engine.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(engine.status().message(),
              ::testing::HasSubstr("tiers[1].instant_budget.capacity_minor"));
}

}  // namespace
}  // namespace makegood::policy
