// Property tests: invariants of every decision over many random cases from a
// seeded generator (so a failure reproduces), under two policies.
#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/algorithm/container.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/inputs.h"
#include "services/policy/instant_budget.h"
#include "services/policy/policy_config.h"
#include "services/policy/trust_score.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::EngineFor;
using ::makegood::policy::testing::EurPolicyConfig;
using ::makegood::policy::testing::GroceryOrder;
using ::makegood::policy::testing::kDay;
using ::makegood::policy::testing::kNow;
using ::makegood::policy::testing::MustDecide;
using ::makegood::policy::testing::Pct;

constexpr int kCases = 3000;

// Random but plausible members, orders and ratings.
class CaseGenerator {
 public:
  explicit CaseGenerator(uint32_t seed) : rng_(seed) {}

  int64_t Uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool Chance(double p) { return std::bernoulli_distribution(p)(rng_); }

  MemberSnapshot Member() {
    static constexpr const char* kTiers[] = {"basic", "plus", "premium"};
    static constexpr const char* kFlags[] = {"verified", "chargeback",
                                             "linked_to_abuser", "vip"};
    MemberSnapshot member;
    member.member_id = "m";
    member.tier = kTiers[Uniform(0, 2)];
    member.member_since = kNow - Uniform(0, 2000) * kDay;
    for (const char* flag : kFlags) {
      if (Chance(0.15)) member.flags.push_back(flag);
    }
    MemberHistory& h = member.history;
    h.delivered_orders = Uniform(0, 300);
    h.spend_90d_minor = Uniform(0, 1000'00);
    h.refunds_30d = Uniform(0, 6);
    h.refunded_30d_minor = Uniform(0, 400'00);
    h.refunds_90d = h.refunds_30d + Uniform(0, 6);
    h.refunded_90d_minor = h.refunded_30d_minor + Uniform(0, 200'00);
    h.low_ratings_30d = Uniform(0, 6);
    if (Chance(0.5)) h.last_low_rating_at = kNow - Uniform(0, 60) * kDay;
    if (Chance(0.5)) {
      member.instant_budget =
          InstantBudgetState{.balance_minor = Uniform(0, 150'00),
                             .as_of = kNow - absl::Hours(Uniform(0, 30 * 24))};
    }
    return member;
  }

  OrderSnapshot Order() {
    static constexpr const char* kCategories[] = {
        "frozen", "chilled", "bakery", "produce", "alcohol", "gift_card", ""};
    OrderSnapshot order = GroceryOrder();
    order.lines.clear();
    const int64_t lines = Uniform(1, 6);
    int64_t sum = 0;
    for (int64_t i = 0; i < lines; ++i) {
      order.lines.push_back({.line_id = absl::StrCat("l", i),
                             .sku = "sku",
                             .category = kCategories[Uniform(0, 6)],
                             .quantity = 1,
                             .amount_minor = Uniform(0, 80'00)});
      sum += order.lines.back().amount_minor;
    }
    order.delivery_fee_minor = Uniform(0, 5'00);
    order.total_minor = sum + order.delivery_fee_minor + Uniform(0, 10'00);
    order.refunded_minor = Chance(0.5) ? 0 : Uniform(0, order.total_minor);
    order.payment_method = static_cast<PaymentMethod>(Uniform(0, 3));
    order.delivered_at = kNow - absl::Hours(Uniform(0, 6 * 24));
    return order;
  }

  std::vector<Reason> Reasons(double p) {
    std::vector<Reason> reasons;
    for (int r = 0; r < kReasonCount; ++r) {
      if (Chance(p)) reasons.push_back(static_cast<Reason>(r));
    }
    return reasons;
  }

  RatingInput Rating(const OrderSnapshot& order) {
    RatingInput rating;
    rating.satisfaction = Pct(static_cast<int>(Uniform(0, 100)));
    rating.reasons = Reasons(0.12);
    if (Chance(0.5)) {
      for (const OrderLine& line : order.lines) {
        if (!Chance(0.6)) continue;
        rating.line_ratings.push_back(
            {.line_id = line.line_id,
             .satisfaction = Pct(static_cast<int>(Uniform(0, 100))),
             .reasons = Reasons(0.15)});
      }
    }
    return rating;
  }

 private:
  std::mt19937 rng_;
};

// The default policy, and one that replaces wrong items, prefers wallet
// credit and spreads members over every trust band.
std::vector<PolicyEngine> Engines() {
  PolicyConfig other = EurPolicyConfig();
  for (ReasonRule& rule : other.reason_rules) {
    if (rule.reason == Reason::kWrongItem) {
      rule.effect = RuleEffect::kReplaceLine;
    }
  }
  other.prefer_wallet = true;
  other.thresholds = {.instant_min_score = 800,
                      .partial_min_score = 650,
                      .evidence_min_score = 500,
                      .review_min_score = 350,
                      .partial_instant_percent = 30};
  return {EngineFor(EurPolicyConfig()), EngineFor(other)};
}

const TierConfig& TierOf(const PolicyEngine& engine,
                         const MemberSnapshot& member) {
  for (const TierConfig& tier : engine.config().tiers) {
    if (tier.name == member.tier) return tier;
  }
  return engine.config().tiers.front();
}

// Money paid now (coupons are not money).
int64_t MoneyNow(const Decision& decision) {
  return decision.refund.has_value() &&
                 decision.refund->instrument != Instrument::kCoupon
             ? decision.refund->amount_minor
             : 0;
}

TEST(DecisionProperty, NeverPaysOrReviewsMoreThanTheOrderAllows) {
  CaseGenerator gen(1);
  for (const PolicyEngine& engine : Engines()) {
    for (int i = 0; i < kCases; ++i) {
      const MemberSnapshot member = gen.Member();
      const OrderSnapshot order = gen.Order();
      const Decision d = MustDecide(engine, member, order, gen.Rating(order));
      // Excluded lines add nothing, or the share a partial-refund answer
      // gives (the default policy: half of an alcohol line).
      int64_t refundable = order.delivery_fee_minor;
      for (const OrderLine& line : order.lines) {
        if (!absl::c_linear_search(engine.config().excluded_categories,
                                   line.category)) {
          refundable += line.amount_minor;
          continue;
        }
        for (const ExcludedAnswer& answer : engine.config().excluded_answers) {
          if (answer.category == line.category &&
              answer.answer == ExcludedAnswerKind::kPartialRefund) {
            refundable +=
                (line.amount_minor * answer.partial_refund_percent + 99) / 100;
          }
        }
      }
      const int64_t money = MoneyNow(d) + d.review_amount_minor;
      ASSERT_GE(MoneyNow(d), 0) << i;
      ASSERT_GE(d.review_amount_minor, 0) << i;
      ASSERT_LE(money, order.total_minor - order.refunded_minor) << i;
      // Excluded lines may go to review or evidence (the default policy's
      // answers), never into the money paid at once.
      ASSERT_LE(MoneyNow(d), refundable) << i;
    }
  }
}

TEST(DecisionProperty, ARatedLineNeverEarnsMoreThanTheLine) {
  CaseGenerator gen(2);
  for (const PolicyEngine& engine : Engines()) {
    for (int i = 0; i < kCases; ++i) {
      const OrderSnapshot order = gen.Order();
      const OrderLine& line =
          order.lines[gen.Uniform(0, order.lines.size() - 1)];
      RatingInput rating;
      rating.satisfaction = Pct(static_cast<int>(gen.Uniform(0, 100)));
      // Any goods reasons, none that pays the delivery fee.
      std::vector<Reason> reasons = gen.Reasons(0.3);
      std::erase(reasons, Reason::kLate);
      rating.line_ratings.push_back({.line_id = line.line_id,
                                     .satisfaction = rating.satisfaction,
                                     .reasons = reasons});
      const Decision d = MustDecide(engine, gen.Member(), order, rating);
      ASSERT_LE(MoneyNow(d) + d.review_amount_minor, line.amount_minor) << i;
    }
  }
}

TEST(DecisionProperty, NeverExceedsCapsOrTheInstantBudget) {
  CaseGenerator gen(3);
  for (const PolicyEngine& engine : Engines()) {
    for (int i = 0; i < kCases; ++i) {
      const MemberSnapshot member = gen.Member();
      const OrderSnapshot order = gen.Order();
      const Decision d = MustDecide(engine, member, order, gen.Rating(order));
      const TierConfig& tier = TierOf(engine, member);
      const int64_t money = MoneyNow(d) + d.review_amount_minor;
      ASSERT_LE(money, tier.max_refund_per_order_minor) << i;
      ASSERT_LE(money,
                std::max<int64_t>(0, tier.max_refund_per_period_minor -
                                         member.history.refunded_30d_minor))
          << i;
      const int64_t available = AvailableInstantBudget(
          tier.instant_budget,
          CurrentInstantBudgetState(tier.instant_budget, member.instant_budget,
                                    member.member_since),
          kNow);
      ASSERT_EQ(d.instant_budget_used_minor, MoneyNow(d)) << i;
      ASSERT_LE(d.instant_budget_used_minor, available) << i;
      if (d.instant_budget_used_minor > 0) {
        ASSERT_EQ(d.instant_budget_after.balance_minor,
                  available - d.instant_budget_used_minor)
            << i;
      }
    }
  }
}

TEST(DecisionProperty, LowerSatisfactionNeverRefundsLess) {
  CaseGenerator gen(4);
  // The same case rated at `satisfaction` everywhere.
  const auto at = [](RatingInput rating, int satisfaction) {
    rating.satisfaction = Pct(satisfaction);
    for (LineRating& line : rating.line_ratings) {
      line.satisfaction = Pct(satisfaction);
    }
    return rating;
  };
  for (const PolicyEngine& engine : Engines()) {
    for (int i = 0; i < kCases; ++i) {
      const MemberSnapshot member = gen.Member();
      const OrderSnapshot order = gen.Order();
      const RatingInput rating = gen.Rating(order);
      const int high = static_cast<int>(gen.Uniform(1, 100));
      const int low = static_cast<int>(gen.Uniform(0, high - 1));
      const Decision h = MustDecide(engine, member, order, at(rating, high));
      const Decision l = MustDecide(engine, member, order, at(rating, low));
      // Except where the lower rating turns the claim into a large one
      // (thresholds.large_claim_review_*): then a person reviews what it
      // asks, which is never less than what the higher rating was paid.
      // (A silent rating is never reviewed: its recovery follow-up has a
      // person act instead.)
      if (absl::c_linear_search(l.reason_codes, "large_claim_review") &&
          !absl::c_linear_search(h.reason_codes, "large_claim_review")) {
        if (absl::c_linear_search(l.reason_codes, "silent_recovery")) {
          ASSERT_FALSE(l.follow_ups.empty()) << i;
          ASSERT_EQ(l.follow_ups.back().kind, FollowUpKind::kSilentRecovery)
              << i;
        } else {
          ASSERT_GE(l.review_amount_minor, MoneyNow(h))
              << i << ": " << low << " vs " << high;
        }
        continue;
      }
      ASSERT_GE(MoneyNow(l), MoneyNow(h)) << i << ": " << low << " vs " << high;
      // With a complaint (never silent), the reviewed part counts too.
      if (!rating.reasons.empty()) {
        ASSERT_GE(MoneyNow(l) + l.review_amount_minor,
                  MoneyNow(h) + h.review_amount_minor)
            << i;
      }
    }
  }
}

TEST(DecisionProperty, OutcomeAgreesWithWhatMoves) {
  CaseGenerator gen(5);
  for (const PolicyEngine& engine : Engines()) {
    for (int i = 0; i < kCases; ++i) {
      const MemberSnapshot member = gen.Member();
      const OrderSnapshot order = gen.Order();
      const RatingInput rating = gen.Rating(order);
      const Decision d = MustDecide(engine, member, order, rating);
      SCOPED_TRACE(absl::StrCat("case ", i, ": ", OutcomeName(d.outcome)));
      ASSERT_GE(d.trust_score, 0);
      ASSERT_LE(d.trust_score, kMaxTrustScore);
      ASSERT_FALSE(d.explanation.empty());
      switch (d.outcome) {
        case Outcome::kRefund:
          ASSERT_EQ(d.refund->instrument, Instrument::kOriginalPayment);
          ASSERT_GT(d.refund->amount_minor, 0);
          ASSERT_EQ(d.review_amount_minor, 0);
          break;
        case Outcome::kWalletCredit:
          ASSERT_EQ(d.refund->instrument, Instrument::kWallet);
          ASSERT_GT(d.refund->amount_minor, 0);
          ASSERT_EQ(d.review_amount_minor, 0);
          break;
        case Outcome::kCoupon:
          ASSERT_EQ(d.refund->instrument, Instrument::kCoupon);
          ASSERT_EQ(d.review_amount_minor, 0);
          break;
        case Outcome::kRequestEvidence:
        case Outcome::kManualReview:
          ASSERT_GT(d.review_amount_minor, 0);
          break;
        case Outcome::kNoAction:
        case Outcome::kReplacement:
        case Outcome::kDeny:
          ASSERT_EQ(d.refund, std::nullopt);
          ASSERT_EQ(d.review_amount_minor, 0);
          break;
      }
      ASSERT_EQ(
          d.replacement_line_ids.empty(),
          d.outcome != Outcome::kReplacement &&
              std::find(d.reason_codes.begin(), d.reason_codes.end(),
                        "wrong_item_replacement") == d.reason_codes.end());
      // Deterministic: the same case decides the same way.
      const Decision again = MustDecide(engine, member, order, rating);
      ASSERT_EQ(again.explanation, d.explanation);
      ASSERT_EQ(again.reason_codes, d.reason_codes);
      ASSERT_EQ(again.follow_ups, d.follow_ups);
    }
  }
}

TEST(TrustProperty, DecisionScoreEqualsTheExplainedScore) {
  CaseGenerator gen(6);
  const PolicyEngine engine = EngineFor(EurPolicyConfig());
  for (int i = 0; i < kCases; ++i) {
    const MemberSnapshot member = gen.Member();
    const TierConfig& tier = TierOf(engine, member);
    const std::vector<TrustFactor> factors =
        TrustFactors(engine.config(), tier, member, kNow);
    ASSERT_EQ(MemberTrustScore(engine.config(), tier, member, kNow),
              TrustScore(factors))
        << i;
    const absl::StatusOr<TrustReport> report = engine.Trust(member, kNow);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_EQ(report->score, TrustScore(factors)) << i;
  }
}

TEST(DecisionProperty, RepeatedClaimsStayWithinThePeriodCapAndBudget) {
  // A member claims every order in full, an hour apart, and the caller
  // stores what each decision says. Over 60 hours, instant refunds can never
  // add up to more than the starting budget plus its refill, nor to more
  // than the 30-day cap.
  const PolicyEngine engine = EngineFor(EurPolicyConfig());
  for (const char* tier_name : {"basic", "plus", "premium"}) {
    MemberSnapshot member = testing::NewBasic();
    member.tier = tier_name;
    const TierConfig& tier = TierOf(engine, member);
    absl::Time now = kNow;
    const int64_t start = AvailableInstantBudget(
        tier.instant_budget,
        CurrentInstantBudgetState(tier.instant_budget, std::nullopt,
                                  member.member_since),
        now);
    int64_t paid = 0;
    for (int hour = 0; hour < 60; ++hour) {
      now = kNow + absl::Hours(hour);
      OrderSnapshot order = GroceryOrder();
      order.delivered_at = now - absl::Minutes(10);
      RatingInput rating;
      rating.satisfaction = Pct(0);
      rating.reasons = {Reason::kMissingItem};
      rating.line_ratings = {{.line_id = "l1",
                              .satisfaction = Pct(0),
                              .reasons = {Reason::kMissingItem}},
                             {.line_id = "l2",
                              .satisfaction = Pct(0),
                              .reasons = {Reason::kMissingItem}}};
      absl::StatusOr<Decision> d = engine.Decide(member, order, rating, now);
      ASSERT_TRUE(d.ok()) << d.status();
      const int64_t money = MoneyNow(*d);
      paid += money;
      member.instant_budget = d->instant_budget_after;
      member.history.refunded_30d_minor += money;
      member.history.refunds_30d += money > 0 ? 1 : 0;
    }
    const int64_t refill =
        tier.instant_budget.refill_per_day_minor * 60 / 24 + 1;
    EXPECT_LE(paid, start + refill) << tier_name;
    EXPECT_LE(paid, tier.max_refund_per_period_minor) << tier_name;
    EXPECT_GT(paid, 0) << tier_name;
  }
}

}  // namespace
}  // namespace makegood::policy
