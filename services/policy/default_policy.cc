// The sample policy. config/policy/default.textproto is the same document;
// keep the two in step (a unit test compares them).
//
// It serves four markets: EUR (the first, primary one), KRW, CNY and USD.
// Amounts are set for what groceries cost in each market, not converted at
// an exchange rate to the cent: the caps are round numbers a member of that
// market recognises.
//
// The numbers are tuned so that a new basic member with a clean history is
// settled instantly (the small starting budget, not a queue, limits the
// exposure), a long-standing premium member is trusted with much more, and a
// new account whose refunds outweigh its spend falls to evidence, review or
// denial.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "services/policy/policy_config.h"

namespace makegood::policy {

PolicyConfig DefaultPolicyConfig() {
  PolicyConfig config;
  config.name = "default";
  // Tier money is per market (config.markets below).
  config.tiers = {
      {.name = "basic",
       .base_trust = 500,
       .curve_scale_percent = 80,
       .max_refund_per_order_minor = 0,
       .max_refund_per_period_minor = 0,
       .instant_budget = {},
       .manager_follow_up_on_severe = false},
      {.name = "plus",
       .base_trust = 580,
       .curve_scale_percent = 90,
       .max_refund_per_order_minor = 0,
       .max_refund_per_period_minor = 0,
       .instant_budget = {},
       .manager_follow_up_on_severe = false},
      {.name = "premium",
       .base_trust = 660,
       .curve_scale_percent = 100,
       .max_refund_per_order_minor = 0,
       .max_refund_per_period_minor = 0,
       .instant_budget = {},
       .manager_follow_up_on_severe = true},
  };
  // Fully refunded at or below 20 %, half at 50 %, nothing from 80 %.
  config.curve = {{0, 100}, {20, 100}, {50, 50}, {80, 0}, {100, 0}};
  const auto rule = [](Reason reason, RuleEffect effect,
                       FeedbackTarget feedback) {
    ReasonRule r;
    r.reason = reason;
    r.effect = effect;
    r.feedback = feedback;
    return r;
  };
  ReasonRule melted = rule(Reason::kMeltedOrWarm, RuleEffect::kRefundLineInFull,
                           FeedbackTarget::kStore);
  melted.categories = {"frozen", "chilled"};
  ReasonRule late = rule(Reason::kLate, RuleEffect::kRefundDeliveryFee,
                         FeedbackTarget::kCourier);
  late.instead_of_curve = true;
  ReasonRule courier = rule(Reason::kCourierBehaviour, RuleEffect::kCoupon,
                            FeedbackTarget::kCourier);
  courier.instead_of_curve = true;
  config.reason_rules = {
      rule(Reason::kMissingItem, RuleEffect::kRefundLineInFull,
           FeedbackTarget::kStore),
      melted,
      rule(Reason::kWrongItem, RuleEffect::kRefundLineInFull,
           FeedbackTarget::kStore),
      rule(Reason::kDamaged, RuleEffect::kProportional, FeedbackTarget::kStore),
      rule(Reason::kPoorQuality, RuleEffect::kProportional,
           FeedbackTarget::kStore),
      late,
      courier,
  };
  // Never refunded at once (see default.textproto for why); each still gets
  // an answer and a person who acts on it.
  config.excluded_categories = {"alcohol", "gift_card", "tobacco"};
  config.excluded_answers = {
      {.category = "alcohol",
       .answer = ExcludedAnswerKind::kPartialRefund,
       .partial_refund_percent = 50,
       .explanation = "Alcohol is not refunded in full automatically; we "
                      "refund half at once, and our team will follow up on "
                      "the rest."},
      {.category = "gift_card",
       .answer = ExcludedAnswerKind::kEvidence,
       .explanation = "Gift cards cannot be refunded automatically; please "
                      "send a photo of the card so that our team can check "
                      "it."},
      {.category = "tobacco",
       .answer = ExcludedAnswerKind::kCoupon,
       .explanation = "Tobacco cannot be refunded; we make good with a "
                      "coupon instead, and our team will follow up."},
      {.category = "",
       .answer = ExcludedAnswerKind::kReview,
       .explanation = "These items cannot be refunded automatically; our "
                      "team will review your claim."},
  };
  config.trust = {
      .tenure_points_per_year = 50,
      .tenure_max_points = 150,
      .points_per_delivered_order = 2,
      .delivered_orders_max_points = 100,
      .free_refunds_30d = 2,
      .penalty_per_extra_refund_30d = 40,
      .refund_count_max_penalty = 200,
      .tolerated_refund_rate_90d_percent = 10,
      .penalty_per_refund_rate_point = 10,
      .refund_rate_max_penalty = 400,
      .refund_money_step_minor = 0,  // per market
      .penalty_per_refund_money_step = 10,
      .refund_money_max_penalty = 100,
      .free_low_ratings_30d = 2,
      .penalty_per_extra_low_rating_30d = 20,
      .low_ratings_max_penalty = 100,
      .flag_weights = {{"chargeback", -300},
                       {"linked_to_abuser", -500},
                       {"confirmed_abuse", -400},
                       {"verified", 50}},
  };
  config.thresholds = {.instant_min_score = 500,
                       .partial_min_score = 400,
                       .evidence_min_score = 300,
                       .review_min_score = 150,
                       .partial_instant_percent = 50,
                       .large_claim_review_percent = 0,
                       .large_claim_review_lines = 2};
  config.follow_ups = {.severe_max_percent = 20,
                       .repeat_window = absl::Hours(24 * 30),
                       .silent_recovery_max_percent = 40};
  config.low_rating_max_percent = 50;
  config.prefer_wallet = false;
  config.rating_window = absl::Hours(24 * 7);

  // Tier money of one market: per-order cap, 30-day cap, instant budget
  // (capacity, initial, refill per day) for basic, plus and premium.
  struct TierAmounts {
    int64_t order, period, capacity, initial, refill;
  };
  const auto market = [](std::string currency, std::string locale,
                         std::array<TierAmounts, 3> tiers, int64_t coupon,
                         int64_t step, int64_t excluded_coupon,
                         std::optional<GoodwillBudgetConfig> goodwill) {
    MarketConfig m;
    m.currency = std::move(currency);
    m.locale = std::move(locale);
    const char* names[] = {"basic", "plus", "premium"};
    for (size_t i = 0; i < tiers.size(); ++i) {
      m.tiers.push_back(
          {.tier = names[i],
           .max_refund_per_order_minor = tiers[i].order,
           .max_refund_per_period_minor = tiers[i].period,
           .instant_budget = {.capacity_minor = tiers[i].capacity,
                              .initial_minor = tiers[i].initial,
                              .refill_per_day_minor = tiers[i].refill}});
    }
    m.coupons = {{.reason = Reason::kCourierBehaviour, .coupon_minor = coupon}};
    m.refund_money_step_minor = step;
    m.excluded_coupon_minor = excluded_coupon;
    m.goodwill = goodwill;
    return m;
  };
  config.markets = {
      // EUR, the primary market. Goodwill budgets: the server's flags.
      market("EUR", "en-IE",
             {{{30'00, 60'00, 30'00, 5'00, 50},
               {60'00, 120'00, 50'00, 15'00, 1'50},
               {150'00, 300'00, 100'00, 50'00, 4'00}}},
             5'00, 50'00, 3'00, std::nullopt),
      // KRW has no minor unit: 40000 is ₩40,000 (about 28 EUR).
      market("KRW", "ko-KR",
             {{{40'000, 80'000, 40'000, 7'000, 700},
               {80'000, 160'000, 70'000, 20'000, 2'000},
               {200'000, 400'000, 140'000, 70'000, 5'500}}},
             7'000, 70'000, 4'000,
             GoodwillBudgetConfig{.agent_daily_minor = 150'000,
                                  .member_30d_minor = 70'000}),
      // CNY in fen: 20000 is ¥200.00.
      market("CNY", "zh-CN",
             {{{200'00, 400'00, 200'00, 35'00, 3'50},
               {400'00, 800'00, 350'00, 100'00, 10'00},
               {1'000'00, 2'000'00, 700'00, 350'00, 28'00}}},
             35'00, 350'00, 20'00,
             GoodwillBudgetConfig{.agent_daily_minor = 700'00,
                                  .member_30d_minor = 350'00}),
      // USD in cents.
      market("USD", "en-US",
             {{{35'00, 70'00, 30'00, 5'00, 50},
               {70'00, 140'00, 55'00, 15'00, 1'50},
               {165'00, 330'00, 110'00, 55'00, 4'50}}},
             5'00, 55'00, 3'00,
             GoodwillBudgetConfig{.agent_daily_minor = 110'00,
                                  .member_30d_minor = 55'00}),
  };
  return config;
}

}  // namespace makegood::policy
