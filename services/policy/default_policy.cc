// The sample policy. deploy/ ships the same document as a textproto; keep the
// two in step.
//
// The numbers are tuned so that a new basic member with a clean history is
// settled instantly (the small starting budget, not a queue, limits the
// exposure), a long-standing premium member is trusted with much more, and a
// new account whose refunds outweigh its spend falls to evidence, review or
// denial.
#include "services/policy/policy_config.h"

namespace makegood::policy {

PolicyConfig DefaultPolicyConfig() {
  PolicyConfig config;
  config.name = "default";
  config.currency = "EUR";
  config.tiers = {
      {.name = "basic",
       .base_trust = 500,
       .curve_scale_percent = 80,
       .max_refund_per_order_minor = 30'00,
       .max_refund_per_period_minor = 60'00,
       .instant_budget = {.capacity_minor = 15'00,
                          .initial_minor = 5'00,
                          .refill_per_day_minor = 50},
       .manager_follow_up_on_severe = false},
      {.name = "plus",
       .base_trust = 580,
       .curve_scale_percent = 90,
       .max_refund_per_order_minor = 60'00,
       .max_refund_per_period_minor = 120'00,
       .instant_budget = {.capacity_minor = 40'00,
                          .initial_minor = 15'00,
                          .refill_per_day_minor = 1'50},
       .manager_follow_up_on_severe = false},
      {.name = "premium",
       .base_trust = 660,
       .curve_scale_percent = 100,
       .max_refund_per_order_minor = 150'00,
       .max_refund_per_period_minor = 300'00,
       .instant_budget = {.capacity_minor = 100'00,
                          .initial_minor = 50'00,
                          .refill_per_day_minor = 4'00},
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
  courier.coupon_minor = 5'00;
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
  config.excluded_categories = {"alcohol", "gift_card", "tobacco"};
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
      .refund_money_step_minor = 50'00,
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
                       .partial_instant_percent = 50};
  config.follow_ups = {.severe_max_percent = 20,
                       .repeat_window = absl::Hours(24 * 30),
                       .silent_recovery_max_percent = 40};
  config.low_rating_max_percent = 50;
  config.prefer_wallet = false;
  config.rating_window = absl::Hours(24 * 7);
  return config;
}

}  // namespace makegood::policy
