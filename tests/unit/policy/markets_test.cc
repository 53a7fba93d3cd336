// Markets: validation of the several-markets form (every violation's path),
// the single-currency view, served currencies, goodwill budgets, and the
// engine deciding each order in its own currency.
#include "services/policy/markets.h"

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/policy_config.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::DefaultEngine;
using ::makegood::policy::testing::GroceryOrder;
using ::makegood::policy::testing::kNow;
using ::makegood::policy::testing::LineRatingOf;
using ::makegood::policy::testing::NewBasic;
using ::makegood::policy::testing::OrderRating;
using ::makegood::policy::testing::TrustedPremium;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

std::vector<std::string> ViolatedFields(const PolicyConfig& config) {
  std::vector<std::string> fields;
  for (const Violation& violation : Validate(config)) {
    fields.push_back(violation.field);
  }
  return fields;
}

// Index of `currency` in the default policy's markets.
size_t MarketIndex(const PolicyConfig& config, const std::string& currency) {
  for (size_t i = 0; i < config.markets.size(); ++i) {
    if (config.markets[i].currency == currency) return i;
  }
  ADD_FAILURE() << "no market " << currency;
  return 0;
}

TEST(Markets, TheDefaultPolicyServesFourCurrencies) {
  const PolicyConfig config = DefaultPolicyConfig();
  EXPECT_THAT(Validate(config), IsEmpty());
  EXPECT_THAT(ServedCurrencies(config),
              ElementsAre("CNY", "EUR", "KRW", "USD"));
  EXPECT_TRUE(Serves(config, "KRW"));
  EXPECT_FALSE(Serves(config, "GBP"));
  EXPECT_FALSE(Serves(config, ""));
  EXPECT_EQ(PrimaryCurrency(config), "EUR");
}

TEST(Markets, AOneMarketPolicyServesItsCurrency) {
  const PolicyConfig eur = ForCurrency(DefaultPolicyConfig(), "EUR").value();
  EXPECT_THAT(Validate(eur), IsEmpty());
  EXPECT_THAT(ServedCurrencies(eur), ElementsAre("EUR"));
  EXPECT_TRUE(Serves(eur, "EUR"));
  EXPECT_FALSE(Serves(eur, "KRW"));
  EXPECT_EQ(PrimaryCurrency(eur), "EUR");
  // A one-market policy's view of its own currency is itself.
  EXPECT_TRUE(ForCurrency(eur, "EUR").value() == eur);
}

TEST(MarketConfig, IsTheEnginesViewOfTheCurrency) {
  const PolicyEngine engine = DefaultEngine();
  const absl::StatusOr<const PolicyConfig*> krw = engine.MarketConfig("KRW");
  ASSERT_TRUE(krw.ok()) << krw.status();
  EXPECT_TRUE(**krw == ForCurrency(engine.config(), "KRW").value());
  const absl::StatusOr<const PolicyConfig*> gbp = engine.MarketConfig("GBP");
  EXPECT_EQ(gbp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gbp.status().message(),
            "the policy does not serve GBP (it serves CNY, EUR, KRW, USD)");
}

TEST(ForCurrency, SubstitutesTheMarketsMoney) {
  const PolicyConfig config = DefaultPolicyConfig();
  const absl::StatusOr<PolicyConfig> krw = ForCurrency(config, "KRW");
  ASSERT_TRUE(krw.ok()) << krw.status();
  EXPECT_EQ(krw->currency, "KRW");
  EXPECT_EQ(krw->locale, "ko-KR");
  EXPECT_THAT(krw->markets, IsEmpty());
  EXPECT_THAT(Validate(*krw), IsEmpty());
  ASSERT_EQ(krw->tiers.size(), 3u);
  EXPECT_EQ(krw->tiers[0].name, "basic");
  EXPECT_EQ(krw->tiers[0].max_refund_per_order_minor, 40'000);
  EXPECT_EQ(krw->tiers[0].max_refund_per_period_minor, 80'000);
  EXPECT_EQ(krw->tiers[0].instant_budget,
            (InstantBudgetConfig{.capacity_minor = 40'000,
                                 .initial_minor = 7'000,
                                 .refill_per_day_minor = 700}));
  EXPECT_EQ(krw->tiers[2].max_refund_per_order_minor, 200'000);
  // Everything but money is shared.
  EXPECT_EQ(krw->tiers[2].base_trust, config.tiers[2].base_trust);
  EXPECT_EQ(krw->curve, config.curve);
  EXPECT_EQ(krw->trust.refund_money_step_minor, 70'000);
  EXPECT_EQ(krw->excluded_coupon_minor, 4'000);
  for (const ReasonRule& rule : krw->reason_rules) {
    EXPECT_EQ(rule.coupon_minor,
              rule.effect == RuleEffect::kCoupon ? 7'000 : 0);
  }
}

TEST(ForCurrency, RefusesAnUnservedCurrencyNamingTheServedOnes) {
  const absl::StatusOr<PolicyConfig> gbp =
      ForCurrency(DefaultPolicyConfig(), "GBP");
  EXPECT_EQ(gbp.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(gbp.status().message(),
            "the policy does not serve GBP (it serves CNY, EUR, KRW, USD)");
}

TEST(GoodwillBudgetsFor, ComesFromTheMarket) {
  const PolicyConfig config = DefaultPolicyConfig();
  EXPECT_EQ(GoodwillBudgetsFor(config, "KRW"),
            (GoodwillBudgets{.agent_daily_minor = 150'000,
                             .member_30d_minor = 70'000}));
  EXPECT_EQ(GoodwillBudgetsFor(config, "EUR"), std::nullopt);  // the flags
  EXPECT_EQ(GoodwillBudgetsFor(config, "GBP"), std::nullopt);
  EXPECT_EQ(GoodwillBudgetsFor(ForCurrency(config, "KRW").value(), "KRW"),
            std::nullopt);
}

// ---- Validation of markets -------------------------------------------------

TEST(ValidateMarkets, NamesEveryMoneyFieldOfAMarketByPath) {
  PolicyConfig config = DefaultPolicyConfig();
  const size_t krw = MarketIndex(config, "KRW");
  ASSERT_EQ(krw, 1u);
  MarketConfig& market = config.markets[krw];
  market.tiers[0].instant_budget.capacity_minor = -1;
  market.tiers[1].max_refund_per_order_minor = -1;
  market.tiers[2].max_refund_per_period_minor = -1;
  market.tiers[2].instant_budget.refill_per_day_minor = -1;
  market.coupons[0].coupon_minor = 0;
  market.refund_money_step_minor = 0;
  market.goodwill->agent_daily_minor = -1;
  market.excluded_coupon_minor = 0;
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("markets[1].tiers[0].instant_budget.capacity_minor",
                          "markets[1].tiers[0].instant_budget.initial_minor",
                          "markets[1].tiers[1].max_refund_per_order_minor",
                          "markets[1].tiers[2].max_refund_per_period_minor",
                          "markets[1].tiers[2].instant_budget."
                          "refill_per_day_minor",
                          "markets[1].coupons[0].coupon_minor",
                          "markets[1].refund_money_step_minor",
                          "markets[1].goodwill.agent_daily_minor",
                          "markets[1].excluded_coupon_minor"));
}

TEST(ValidateMarkets, EveryTierHasMoneyInEveryMarket) {
  PolicyConfig config = DefaultPolicyConfig();
  config.markets[2].tiers.pop_back();        // no premium in CNY
  config.markets[3].tiers[0].tier = "gold";  // unknown tier
  config.markets[0].tiers.push_back(config.markets[0].tiers[1]);  // twice
  const std::vector<Violation> violations = Validate(config);
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("markets[0].tiers[3].tier", "markets[2].tiers",
                          "markets[3].tiers[0].tier", "markets[3].tiers"));
  EXPECT_THAT(violations[0].message, HasSubstr("duplicate money for tier"));
  EXPECT_THAT(violations[1].message,
              HasSubstr("no money for tier \"premium\""));
  EXPECT_THAT(violations[2].message, HasSubstr("\"gold\""));
  EXPECT_THAT(violations[3].message, HasSubstr("no money for tier \"basic\""));
}

TEST(ValidateMarkets, CurrenciesAreUniqueRealIsoCodes) {
  PolicyConfig config = DefaultPolicyConfig();
  config.markets[1].currency = "EUR";  // twice
  config.markets[2].currency = "XYZ";  // not ISO 4217
  config.markets[3].currency = "usd";  // not a code
  const std::vector<Violation> violations = Validate(config);
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("markets[1].currency", "markets[2].currency",
                          "markets[3].currency"));
  EXPECT_THAT(violations[0].message, HasSubstr("duplicate market for EUR"));
  EXPECT_THAT(violations[1].message, HasSubstr("ISO 4217"));
}

TEST(ValidateMarkets, EveryCouponRuleHasAValueInEveryMarket) {
  PolicyConfig config = DefaultPolicyConfig();
  config.markets[0].coupons.clear();
  config.markets[1].coupons[0].reason = Reason::kLate;  // not a coupon rule
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("markets[0].coupons", "markets[1].coupons[0].reason",
                          "markets[1].coupons"));
}

TEST(ValidateMarkets, ALocaleMustBeABcp47Tag) {
  PolicyConfig config = DefaultPolicyConfig();
  config.markets[1].locale = "ko_KR!";
  EXPECT_THAT(ViolatedFields(config), ElementsAre("markets[1].locale"));
}

TEST(ValidateMarkets, MixingBothFormsIsRefused) {
  PolicyConfig config = DefaultPolicyConfig();
  config.currency = "EUR";
  config.tiers[1].max_refund_per_order_minor = 60'00;
  config.reason_rules[6].coupon_minor = 5'00;  // the coupon rule
  config.trust.refund_money_step_minor = 50'00;
  config.locale = "en";
  config.excluded_coupon_minor = 3'00;
  const std::vector<Violation> violations = Validate(config);
  EXPECT_THAT(
      ViolatedFields(config),
      ElementsAre("currency", "tiers[1]", "reason_rules[6].coupon_minor",
                  "trust.refund_money_step_minor", "locale",
                  "excluded_coupon_minor"));
  for (const Violation& violation : violations) {
    EXPECT_THAT(violation.message,
                HasSubstr("money is given per market when markets are set"));
  }
}

TEST(ValidateMarkets, AOneMarketPolicyNeedsARealCurrency) {
  PolicyConfig config = ForCurrency(DefaultPolicyConfig(), "EUR").value();
  config.currency = "XYZ";
  EXPECT_THAT(ViolatedFields(config), ElementsAre("currency"));
  config.currency = "";
  EXPECT_THAT(ViolatedFields(config), ElementsAre("currency"));
}

// ---- Validation of excluded answers
// ------------------------------------------

TEST(ValidateExcludedAnswers, NamesEachProblem) {
  PolicyConfig config = DefaultPolicyConfig();
  config.excluded_answers[0].category = "frozen";  // not excluded
  config.excluded_answers[1].explanation = "";
  config.excluded_answers[2].partial_refund_percent = 50;  // a coupon answer
  config.excluded_answers.push_back(config.excluded_answers[3]);  // 2 defaults
  config.excluded_answers.push_back(
      {.category = "gift_card",
       .answer = ExcludedAnswerKind::kPartialRefund,
       .partial_refund_percent = 0,
       .explanation = "Half back."});
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("excluded_answers[0].category",
                          "excluded_answers[1].explanation",
                          "excluded_answers[2].partial_refund_percent",
                          "excluded_answers[4].category",
                          "excluded_answers[5].category",
                          "excluded_answers[5].partial_refund_percent"));
}

TEST(ValidateExcludedAnswers, ACouponAnswerNeedsACouponInEveryMarket) {
  PolicyConfig config = DefaultPolicyConfig();
  config.markets[3].excluded_coupon_minor = 0;
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("markets[3].excluded_coupon_minor"));
  // Without a coupon answer, no market takes one.
  config.excluded_answers.erase(config.excluded_answers.begin() + 2);
  EXPECT_THAT(ViolatedFields(config),
              ElementsAre("markets[0].excluded_coupon_minor",
                          "markets[1].excluded_coupon_minor",
                          "markets[2].excluded_coupon_minor"));
}

// ---- The engine decides each order in its own currency
// -----------------------

// The grocery order in won: ice cream ₩9,000 (frozen), bread ₩4,500, delivery
// ₩3,000.
OrderSnapshot WonOrder() {
  OrderSnapshot order = GroceryOrder();
  order.currency = "KRW";
  order.lines[0].amount_minor = 9'000;
  order.lines[1].amount_minor = 4'500;
  order.delivery_fee_minor = 3'000;
  order.total_minor = 16'500;
  return order;
}

TEST(EngineMarkets, AWonOrderRatedHalfForAMeltedItemIsRefundedInWon) {
  RatingInput rating = OrderRating(50, {Reason::kMeltedOrWarm});
  const absl::StatusOr<Decision> decision =
      DefaultEngine().Decide(TrustedPremium(), WonOrder(), rating, kNow);
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->outcome, Outcome::kRefund);
  ASSERT_TRUE(decision->refund.has_value());
  EXPECT_EQ(decision->refund->currency, "KRW");
  // The melted ice cream in full, the bread half (the curve at 50 %).
  EXPECT_EQ(decision->refund->amount_minor, 9'000 + 2'250);
  EXPECT_EQ(decision->explanation,
            "We have refunded \u20A911,250 to your original payment. Items are "
            "refunded in proportion to your rating. Items reported as melted "
            "or warm are refunded in full.");
}

TEST(EngineMarkets, WonCapsAndBudgetsApplyToWonOrders) {
  // A new basic member's KRW instant budget is ₩7,000 plus two days of ₩700:
  // the rest is reviewed, and the explanation says so in won.
  const absl::StatusOr<Decision> decision = DefaultEngine().Decide(
      NewBasic(), WonOrder(), LineRatingOf("l1", 0, {Reason::kMissingItem}),
      kNow);
  ASSERT_TRUE(decision.ok()) << decision.status();
  EXPECT_EQ(decision->outcome, Outcome::kManualReview);
  EXPECT_EQ(decision->refund->amount_minor, 8'400);
  EXPECT_EQ(decision->review_amount_minor, 600);
  EXPECT_THAT(
      decision->explanation,
      HasSubstr("Your instant-refund budget covers \u20A98,400 at once."));
}

TEST(EngineMarkets, AnOrderInAnUnservedCurrencyIsFailedPrecondition) {
  OrderSnapshot order = GroceryOrder();
  order.currency = "GBP";
  const absl::StatusOr<Decision> decision =
      DefaultEngine().Decide(TrustedPremium(), order, OrderRating(0), kNow);
  EXPECT_EQ(decision.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(decision.status().message(),
            "the policy does not serve GBP (it serves CNY, EUR, KRW, USD)");
}

TEST(EngineMarkets, TrustIsReportedInTheStatedCurrency) {
  const PolicyEngine engine = DefaultEngine();
  const absl::StatusOr<TrustReport> primary = engine.Trust(NewBasic(), kNow);
  ASSERT_TRUE(primary.ok()) << primary.status();
  EXPECT_EQ(primary->currency, "EUR");
  EXPECT_EQ(primary->instant_budget_remaining_minor, 5'00 + 2 * 50);
  const absl::StatusOr<TrustReport> won = engine.Trust(NewBasic(), "KRW", kNow);
  ASSERT_TRUE(won.ok()) << won.status();
  EXPECT_EQ(won->currency, "KRW");
  // Two days old: ₩7,000 plus two days of ₩700.
  EXPECT_EQ(won->instant_budget_remaining_minor, 7'000 + 2 * 700);
  EXPECT_EQ(won->score, primary->score);
  EXPECT_EQ(engine.Trust(NewBasic(), "GBP", kNow).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(EngineMarkets, EachMarketFormatsInItsLocale) {
  const PolicyEngine engine = DefaultEngine();
  const struct {
    const char* currency;
    const char* headline;
  } kCases[] = {
      {"EUR", "We have refunded \u20AC9.00 to your original payment."},
      {"CNY", "We have refunded \u00A59.00 to your original payment."},
      {"USD", "We have refunded $9.00 to your original payment."},
      {"KRW", "We have refunded \u20A9900 to your original payment."},
  };
  for (const auto& c : kCases) {
    OrderSnapshot order = GroceryOrder();
    order.currency = c.currency;
    const absl::StatusOr<Decision> decision =
        engine.Decide(TrustedPremium(), order, OrderRating(0), kNow);
    ASSERT_TRUE(decision.ok()) << decision.status();
    EXPECT_THAT(decision->explanation, ::testing::StartsWith(c.headline))
        << c.currency;
    EXPECT_EQ(decision->refund->currency, c.currency);
  }
}

}  // namespace
}  // namespace makegood::policy
