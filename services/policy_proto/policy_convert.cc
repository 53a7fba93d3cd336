#include "services/policy_proto/policy_convert.h"

#include <algorithm>
#include <climits>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/duration.pb.h"
#include "services/policy_proto/engine_proto.h"

namespace makegood::policy_proto {
namespace {

namespace v1 = ::makegood::v1;
using ::makegood::policy::Violation;

// The largest |seconds| a google.protobuf.Duration may hold (10,000 years).
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;
constexpr int32_t kNanosPerSecond = 1'000'000'000;

bool IsValidDuration(const google::protobuf::Duration& d) {
  if (d.seconds() < -kMaxDurationSeconds || d.seconds() > kMaxDurationSeconds) {
    return false;
  }
  if (d.nanos() <= -kNanosPerSecond || d.nanos() >= kNanosPerSecond) {
    return false;
  }
  return !((d.seconds() > 0 && d.nanos() < 0) ||
           (d.seconds() < 0 && d.nanos() > 0));
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

void ToProtoDuration(absl::Duration d, google::protobuf::Duration* out) {
  const absl::Duration max = absl::Seconds(kMaxDurationSeconds);
  d = std::clamp(d, -max, max);  // also brings infinite durations in range
  absl::Duration rem;
  out->set_seconds(absl::IDivDuration(d, absl::Seconds(1), &rem));
  out->set_nanos(static_cast<int32_t>(
      absl::IDivDuration(rem, absl::Nanoseconds(1), &rem)));
}

policy::RuleEffect EffectFromProto(v1::RuleEffect effect) {
  switch (effect) {
    case v1::RULE_EFFECT_REFUND_LINE_IN_FULL:
      return policy::RuleEffect::kRefundLineInFull;
    case v1::RULE_EFFECT_REPLACE_LINE:
      return policy::RuleEffect::kReplaceLine;
    case v1::RULE_EFFECT_REFUND_DELIVERY_FEE:
      return policy::RuleEffect::kRefundDeliveryFee;
    case v1::RULE_EFFECT_COUPON:
      return policy::RuleEffect::kCoupon;
    default:  // PROPORTIONAL; anything else is reported before it matters
      return policy::RuleEffect::kProportional;
  }
}

v1::RuleEffect EffectToProto(policy::RuleEffect effect) {
  switch (effect) {
    case policy::RuleEffect::kProportional:
      return v1::RULE_EFFECT_PROPORTIONAL;
    case policy::RuleEffect::kRefundLineInFull:
      return v1::RULE_EFFECT_REFUND_LINE_IN_FULL;
    case policy::RuleEffect::kReplaceLine:
      return v1::RULE_EFFECT_REPLACE_LINE;
    case policy::RuleEffect::kRefundDeliveryFee:
      return v1::RULE_EFFECT_REFUND_DELIVERY_FEE;
    case policy::RuleEffect::kCoupon:
      return v1::RULE_EFFECT_COUPON;
  }
  return v1::RULE_EFFECT_UNSPECIFIED;
}

policy::FeedbackTarget FeedbackFromProto(v1::FeedbackTarget target) {
  switch (target) {
    case v1::FEEDBACK_TARGET_COURIER:
      return policy::FeedbackTarget::kCourier;
    case v1::FEEDBACK_TARGET_STORE:
      return policy::FeedbackTarget::kStore;
    default:  // NONE; anything else is reported before it matters
      return policy::FeedbackTarget::kNone;
  }
}

v1::FeedbackTarget FeedbackToProto(policy::FeedbackTarget target) {
  switch (target) {
    case policy::FeedbackTarget::kNone:
      return v1::FEEDBACK_TARGET_NONE;
    case policy::FeedbackTarget::kCourier:
      return v1::FEEDBACK_TARGET_COURIER;
    case policy::FeedbackTarget::kStore:
      return v1::FEEDBACK_TARGET_STORE;
  }
  return v1::FEEDBACK_TARGET_UNSPECIFIED;
}

policy::ExcludedAnswerKind AnswerFromProto(v1::ExcludedAnswerKind kind) {
  switch (kind) {
    case v1::EXCLUDED_ANSWER_KIND_EVIDENCE:
      return policy::ExcludedAnswerKind::kEvidence;
    case v1::EXCLUDED_ANSWER_KIND_COUPON:
      return policy::ExcludedAnswerKind::kCoupon;
    case v1::EXCLUDED_ANSWER_KIND_PARTIAL_REFUND:
      return policy::ExcludedAnswerKind::kPartialRefund;
    default:  // refused by CheckDocument
      return policy::ExcludedAnswerKind::kReview;
  }
}

v1::ExcludedAnswerKind AnswerToProto(policy::ExcludedAnswerKind kind) {
  switch (kind) {
    case policy::ExcludedAnswerKind::kEvidence:
      return v1::EXCLUDED_ANSWER_KIND_EVIDENCE;
    case policy::ExcludedAnswerKind::kReview:
      return v1::EXCLUDED_ANSWER_KIND_REVIEW;
    case policy::ExcludedAnswerKind::kCoupon:
      return v1::EXCLUDED_ANSWER_KIND_COUPON;
    case policy::ExcludedAnswerKind::kPartialRefund:
      return v1::EXCLUDED_ANSWER_KIND_PARTIAL_REFUND;
  }
  return v1::EXCLUDED_ANSWER_KIND_UNSPECIFIED;
}

std::string Indexed(absl::string_view list, int i) {
  return absl::StrCat(list, "[", i, "]");
}

// Document-level problems, and the fields whose engine-level violations
// they make redundant.
struct DocumentCheck {
  std::vector<Violation> violations;
  std::vector<std::string> suppressed;

  void Add(std::string field, std::string message) {
    suppressed.push_back(field);
    violations.push_back({std::move(field), std::move(message)});
  }
};

// `value` of an enum field: UNSPECIFIED or a number the enum does not define
// is a violation.
bool CheckEnum(DocumentCheck& check, const std::string& field, int value,
               bool (*is_valid)(int), absl::string_view unspecified,
               absl::string_view hint = {}) {
  if (value == 0) {
    check.Add(field, absl::StrCat("must be set (", unspecified,
                                  " is not a value)", hint));
    return false;
  }
  if (!is_valid(value)) {
    check.Add(field, absl::StrCat("unknown value ", value));
    return false;
  }
  return true;
}

void CheckDuration(DocumentCheck& check, const std::string& field,
                   const google::protobuf::Duration& d) {
  if (!IsValidDuration(d)) {
    check.Add(field,
              "is not a valid duration (seconds within +-10000 years, nanos "
              "below one second with the sign of seconds)");
  }
}

DocumentCheck CheckDocument(const v1::Policy& document) {
  DocumentCheck check;
  for (int i = 0; i < document.reason_rules_size(); ++i) {
    const v1::ReasonRule& rule = document.reason_rules(i);
    const std::string at = Indexed("reason_rules", i);
    CheckEnum(check, at + ".reason", rule.reason(), v1::Reason_IsValid,
              "REASON_UNSPECIFIED");
    if (!CheckEnum(check, at + ".effect", rule.effect(), v1::RuleEffect_IsValid,
                   "RULE_EFFECT_UNSPECIFIED")) {
      // Whether categories and a coupon belong depends on the effect.
      check.suppressed.push_back(at + ".categories");
      check.suppressed.push_back(at + ".coupon_minor");
    }
    CheckEnum(check, at + ".feedback", rule.feedback(),
              v1::FeedbackTarget_IsValid, "FEEDBACK_TARGET_UNSPECIFIED",
              "; FEEDBACK_TARGET_NONE for nobody");
  }
  for (int m = 0; m < document.markets_size(); ++m) {
    const v1::Market& market = document.markets(m);
    for (int c = 0; c < market.coupons_size(); ++c) {
      if (!CheckEnum(check,
                     Indexed(Indexed("markets", m) + ".coupons", c) + ".reason",
                     market.coupons(c).reason(), v1::Reason_IsValid,
                     "REASON_UNSPECIFIED")) {
        // Which rule lacks a value is unknown while a reason is unset.
        check.suppressed.push_back(Indexed("markets", m) + ".coupons");
      }
    }
  }
  for (int i = 0; i < document.excluded_answers_size(); ++i) {
    const std::string at = Indexed("excluded_answers", i);
    if (!CheckEnum(check, at + ".answer", document.excluded_answers(i).answer(),
                   v1::ExcludedAnswerKind_IsValid,
                   "EXCLUDED_ANSWER_KIND_UNSPECIFIED")) {
      check.suppressed.push_back(at + ".partial_refund_percent");
    }
  }
  if (!document.has_trust()) check.Add("trust", "is required");
  if (!document.has_thresholds()) check.Add("thresholds", "is required");
  if (!document.has_follow_ups()) {
    check.Add("follow_ups", "is required");
  } else if (document.follow_ups().has_repeat_window()) {
    CheckDuration(check, "follow_ups.repeat_window",
                  document.follow_ups().repeat_window());
  }
  if (!document.has_rating_window()) {
    check.Add("rating_window", "is required, e.g. \"604800s\" for 7 days");
  } else {
    CheckDuration(check, "rating_window", document.rating_window());
  }
  return check;
}

// The config `document` describes, whether or not it is valid. Values a
// document-level check refuses become values that cannot be mistaken for
// valid ones (an unknown reason) or are reported anyway.
policy::PolicyConfig ConvertUnchecked(const v1::Policy& document) {
  policy::PolicyConfig config;
  config.name = document.name();
  config.currency = document.currency();
  for (const v1::Tier& t : document.tiers()) {
    policy::TierConfig& tier = config.tiers.emplace_back();
    tier.name = t.name();
    tier.base_trust = t.base_trust();
    tier.curve_scale_percent =
        t.has_curve_scale_percent() ? t.curve_scale_percent() : 100;
    tier.max_refund_per_order_minor = t.max_refund_per_order_minor();
    tier.max_refund_per_period_minor = t.max_refund_per_period_minor();
    tier.instant_budget = {
        .capacity_minor = t.instant_budget().capacity_minor(),
        .initial_minor = t.instant_budget().initial_minor(),
        .refill_per_day_minor = t.instant_budget().refill_per_day_minor()};
    tier.manager_follow_up_on_severe = t.manager_follow_up_on_severe();
  }
  for (const v1::CurvePoint& p : document.curve()) {
    config.curve.push_back({.satisfaction_percent = p.satisfaction_percent(),
                            .refund_percent = p.refund_percent()});
  }
  for (const v1::ReasonRule& r : document.reason_rules()) {
    policy::ReasonRule& rule = config.reason_rules.emplace_back();
    // An unset or unknown reason is one Validate() cannot take for a real
    // reason (it reports it as unknown, and never as a duplicate).
    rule.reason =
        ReasonFromProto(r.reason()).value_or(static_cast<policy::Reason>(-1));
    rule.effect = EffectFromProto(r.effect());
    rule.categories.assign(r.categories().begin(), r.categories().end());
    rule.coupon_minor = r.coupon_minor();
    rule.instead_of_curve = r.instead_of_curve();
    rule.feedback = FeedbackFromProto(r.feedback());
  }
  config.excluded_categories.assign(document.excluded_categories().begin(),
                                    document.excluded_categories().end());
  const v1::TrustModel& m = document.trust();
  config.trust = {
      .tenure_points_per_year = m.tenure_points_per_year(),
      .tenure_max_points = m.tenure_max_points(),
      .points_per_delivered_order = m.points_per_delivered_order(),
      .delivered_orders_max_points = m.delivered_orders_max_points(),
      .free_refunds_30d = m.free_refunds_30d(),
      .penalty_per_extra_refund_30d = m.penalty_per_extra_refund_30d(),
      .refund_count_max_penalty = m.refund_count_max_penalty(),
      .tolerated_refund_rate_90d_percent =
          m.tolerated_refund_rate_90d_percent(),
      .penalty_per_refund_rate_point = m.penalty_per_refund_rate_point(),
      .refund_rate_max_penalty = m.refund_rate_max_penalty(),
      .refund_money_step_minor = m.refund_money_step_minor(),
      .penalty_per_refund_money_step = m.penalty_per_refund_money_step(),
      .refund_money_max_penalty = m.refund_money_max_penalty(),
      .free_low_ratings_30d = m.free_low_ratings_30d(),
      .penalty_per_extra_low_rating_30d = m.penalty_per_extra_low_rating_30d(),
      .low_ratings_max_penalty = m.low_ratings_max_penalty(),
      .flag_weights = {},
  };
  for (const v1::FlagWeight& w : m.flag_weights()) {
    config.trust.flag_weights.push_back(
        {.flag = w.flag(), .points = w.points()});
  }
  const v1::TrustThresholds& t = document.thresholds();
  config.thresholds = {
      .instant_min_score = t.instant_min_score(),
      .partial_min_score = t.partial_min_score(),
      .evidence_min_score = t.evidence_min_score(),
      .review_min_score = t.review_min_score(),
      .partial_instant_percent = t.partial_instant_percent(),
      .large_claim_review_percent = t.large_claim_review_percent(),
      .large_claim_review_lines = t.large_claim_review_lines()};
  const v1::FollowUpRules& f = document.follow_ups();
  config.follow_ups = {
      .severe_max_percent = f.severe_max_percent(),
      .repeat_window = IsValidDuration(f.repeat_window())
                           ? FromProtoDuration(f.repeat_window())
                           : absl::ZeroDuration(),
      .silent_recovery_max_percent = f.silent_recovery_max_percent()};
  config.low_rating_max_percent = document.low_rating_max_percent();
  if (document.has_trouble_max_percent()) {
    config.trouble_max_percent = document.trouble_max_percent();
  }
  config.prefer_wallet = document.prefer_wallet();
  config.rating_window = IsValidDuration(document.rating_window())
                             ? FromProtoDuration(document.rating_window())
                             : absl::ZeroDuration();
  for (const v1::Market& mk : document.markets()) {
    policy::MarketConfig& market = config.markets.emplace_back();
    market.currency = mk.currency();
    market.locale = mk.locale();
    for (const v1::TierMoney& money : mk.tiers()) {
      market.tiers.push_back(
          {.tier = money.tier(),
           .max_refund_per_order_minor = money.max_refund_per_order_minor(),
           .max_refund_per_period_minor = money.max_refund_per_period_minor(),
           .instant_budget = {
               .capacity_minor = money.instant_budget().capacity_minor(),
               .initial_minor = money.instant_budget().initial_minor(),
               .refill_per_day_minor =
                   money.instant_budget().refill_per_day_minor()}});
    }
    for (const v1::CouponValue& c : mk.coupons()) {
      market.coupons.push_back(
          {.reason = ReasonFromProto(c.reason())
                         .value_or(static_cast<policy::Reason>(-1)),
           .coupon_minor = c.coupon_minor()});
    }
    market.refund_money_step_minor = mk.refund_money_step_minor();
    if (mk.has_goodwill()) {
      market.goodwill = policy::GoodwillBudgetConfig{
          .agent_daily_minor = mk.goodwill().agent_daily_minor(),
          .member_30d_minor = mk.goodwill().member_30d_minor()};
    }
    market.excluded_coupon_minor = mk.excluded_coupon_minor();
  }
  for (const v1::ExcludedAnswer& a : document.excluded_answers()) {
    config.excluded_answers.push_back(
        {.category = a.category(),
         .answer = AnswerFromProto(a.answer()),
         .partial_refund_percent = a.partial_refund_percent(),
         .explanation = a.explanation()});
  }
  config.locale = document.locale();
  config.excluded_coupon_minor = document.excluded_coupon_minor();
  return config;
}

// Whether `field` is `prefix` or lies below it ("tiers[1]" covers
// "tiers[1].name"; "trust" covers "trust.flag_weights[0].flag").
bool IsAtOrBelow(absl::string_view field, absl::string_view prefix) {
  if (!absl::StartsWith(field, prefix)) return false;
  if (field.size() == prefix.size()) return true;
  const char next = field[prefix.size()];
  return next == '.' || next == '[';
}

// Sort key of a field path: for each step, the field's position in its
// message in policy.proto and the element index (-1 for none). Unknown
// names sort last.
std::vector<int> FieldOrderKey(absl::string_view path) {
  std::vector<int> key;
  const google::protobuf::Descriptor* message = v1::Policy::descriptor();
  for (absl::string_view step : absl::StrSplit(path, '.')) {
    const size_t bracket = step.find('[');
    const std::string name(step.substr(0, bracket));
    const google::protobuf::FieldDescriptor* field =
        message == nullptr ? nullptr : message->FindFieldByName(name);
    key.push_back(field == nullptr ? INT_MAX : field->index());
    int index = -1;
    if (bracket != absl::string_view::npos && step.back() == ']') {
      if (!absl::SimpleAtoi(step.substr(bracket + 1, step.size() - bracket - 2),
                            &index)) {
        index = INT_MAX;
      }
    }
    key.push_back(index);
    message = field == nullptr ? nullptr : field->message_type();
  }
  return key;
}

}  // namespace

std::vector<Violation> PolicyViolations(const v1::Policy& document) {
  DocumentCheck check = CheckDocument(document);
  std::vector<Violation> all = std::move(check.violations);
  for (Violation& v : policy::Validate(ConvertUnchecked(document))) {
    const bool redundant =
        std::any_of(check.suppressed.begin(), check.suppressed.end(),
                    [&](const std::string& prefix) {
                      return IsAtOrBelow(v.field, prefix);
                    });
    if (!redundant) all.push_back(std::move(v));
  }
  std::vector<std::pair<std::vector<int>, Violation>> keyed;
  keyed.reserve(all.size());
  for (Violation& v : all) {
    std::vector<int> key = FieldOrderKey(v.field);
    keyed.emplace_back(std::move(key), std::move(v));
  }
  std::stable_sort(
      keyed.begin(), keyed.end(),
      [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Violation> sorted;
  sorted.reserve(keyed.size());
  for (auto& [key, v] : keyed) sorted.push_back(std::move(v));
  return sorted;
}

absl::StatusOr<policy::PolicyConfig> ToPolicyConfig(
    const v1::Policy& document) {
  if (absl::Status s = policy::ViolationsToStatus(PolicyViolations(document));
      !s.ok()) {
    return s;
  }
  return ConvertUnchecked(document);
}

v1::Policy FromPolicyConfig(const policy::PolicyConfig& config) {
  v1::Policy document;
  document.set_name(config.name);
  document.set_currency(config.currency);
  for (const policy::TierConfig& tier : config.tiers) {
    v1::Tier* t = document.add_tiers();
    t->set_name(tier.name);
    t->set_base_trust(tier.base_trust);
    t->set_curve_scale_percent(tier.curve_scale_percent);
    t->set_max_refund_per_order_minor(tier.max_refund_per_order_minor);
    t->set_max_refund_per_period_minor(tier.max_refund_per_period_minor);
    if (config.markets.empty()) {  // else the money is per market
      v1::InstantBudget* budget = t->mutable_instant_budget();
      budget->set_capacity_minor(tier.instant_budget.capacity_minor);
      budget->set_initial_minor(tier.instant_budget.initial_minor);
      budget->set_refill_per_day_minor(
          tier.instant_budget.refill_per_day_minor);
    }
    t->set_manager_follow_up_on_severe(tier.manager_follow_up_on_severe);
  }
  for (const policy::CurvePoint& point : config.curve) {
    v1::CurvePoint* p = document.add_curve();
    p->set_satisfaction_percent(point.satisfaction_percent);
    p->set_refund_percent(point.refund_percent);
  }
  for (const policy::ReasonRule& rule : config.reason_rules) {
    v1::ReasonRule* r = document.add_reason_rules();
    r->set_reason(ReasonToProto(rule.reason));
    r->set_effect(EffectToProto(rule.effect));
    for (const std::string& category : rule.categories) {
      r->add_categories(category);
    }
    r->set_coupon_minor(rule.coupon_minor);
    r->set_instead_of_curve(rule.instead_of_curve);
    r->set_feedback(FeedbackToProto(rule.feedback));
  }
  for (const std::string& category : config.excluded_categories) {
    document.add_excluded_categories(category);
  }
  const policy::TrustModel& m = config.trust;
  v1::TrustModel* trust = document.mutable_trust();
  trust->set_tenure_points_per_year(m.tenure_points_per_year);
  trust->set_tenure_max_points(m.tenure_max_points);
  trust->set_points_per_delivered_order(m.points_per_delivered_order);
  trust->set_delivered_orders_max_points(m.delivered_orders_max_points);
  trust->set_free_refunds_30d(m.free_refunds_30d);
  trust->set_penalty_per_extra_refund_30d(m.penalty_per_extra_refund_30d);
  trust->set_refund_count_max_penalty(m.refund_count_max_penalty);
  trust->set_tolerated_refund_rate_90d_percent(
      m.tolerated_refund_rate_90d_percent);
  trust->set_penalty_per_refund_rate_point(m.penalty_per_refund_rate_point);
  trust->set_refund_rate_max_penalty(m.refund_rate_max_penalty);
  trust->set_refund_money_step_minor(m.refund_money_step_minor);
  trust->set_penalty_per_refund_money_step(m.penalty_per_refund_money_step);
  trust->set_refund_money_max_penalty(m.refund_money_max_penalty);
  trust->set_free_low_ratings_30d(m.free_low_ratings_30d);
  trust->set_penalty_per_extra_low_rating_30d(
      m.penalty_per_extra_low_rating_30d);
  trust->set_low_ratings_max_penalty(m.low_ratings_max_penalty);
  for (const policy::FlagWeight& weight : m.flag_weights) {
    v1::FlagWeight* w = trust->add_flag_weights();
    w->set_flag(weight.flag);
    w->set_points(weight.points);
  }
  const policy::TrustThresholds& t = config.thresholds;
  v1::TrustThresholds* thresholds = document.mutable_thresholds();
  thresholds->set_instant_min_score(t.instant_min_score);
  thresholds->set_partial_min_score(t.partial_min_score);
  thresholds->set_evidence_min_score(t.evidence_min_score);
  thresholds->set_review_min_score(t.review_min_score);
  thresholds->set_partial_instant_percent(t.partial_instant_percent);
  thresholds->set_large_claim_review_percent(t.large_claim_review_percent);
  thresholds->set_large_claim_review_lines(t.large_claim_review_lines);
  v1::FollowUpRules* follow_ups = document.mutable_follow_ups();
  follow_ups->set_severe_max_percent(config.follow_ups.severe_max_percent);
  ToProtoDuration(config.follow_ups.repeat_window,
                  follow_ups->mutable_repeat_window());
  follow_ups->set_silent_recovery_max_percent(
      config.follow_ups.silent_recovery_max_percent);
  document.set_low_rating_max_percent(config.low_rating_max_percent);
  if (config.trouble_max_percent.has_value()) {
    document.set_trouble_max_percent(*config.trouble_max_percent);
  }
  document.set_prefer_wallet(config.prefer_wallet);
  ToProtoDuration(config.rating_window, document.mutable_rating_window());
  for (const policy::MarketConfig& market : config.markets) {
    v1::Market* mk = document.add_markets();
    mk->set_currency(market.currency);
    mk->set_locale(market.locale);
    for (const policy::TierMoneyConfig& money : market.tiers) {
      v1::TierMoney* tm = mk->add_tiers();
      tm->set_tier(money.tier);
      tm->set_max_refund_per_order_minor(money.max_refund_per_order_minor);
      tm->set_max_refund_per_period_minor(money.max_refund_per_period_minor);
      v1::InstantBudget* budget = tm->mutable_instant_budget();
      budget->set_capacity_minor(money.instant_budget.capacity_minor);
      budget->set_initial_minor(money.instant_budget.initial_minor);
      budget->set_refill_per_day_minor(
          money.instant_budget.refill_per_day_minor);
    }
    for (const policy::CouponValueConfig& coupon : market.coupons) {
      v1::CouponValue* c = mk->add_coupons();
      c->set_reason(ReasonToProto(coupon.reason));
      c->set_coupon_minor(coupon.coupon_minor);
    }
    mk->set_refund_money_step_minor(market.refund_money_step_minor);
    if (market.goodwill.has_value()) {
      mk->mutable_goodwill()->set_agent_daily_minor(
          market.goodwill->agent_daily_minor);
      mk->mutable_goodwill()->set_member_30d_minor(
          market.goodwill->member_30d_minor);
    }
    mk->set_excluded_coupon_minor(market.excluded_coupon_minor);
  }
  for (const policy::ExcludedAnswer& answer : config.excluded_answers) {
    v1::ExcludedAnswer* a = document.add_excluded_answers();
    a->set_category(answer.category);
    a->set_answer(AnswerToProto(answer.answer));
    a->set_partial_refund_percent(answer.partial_refund_percent);
    a->set_explanation(answer.explanation);
  }
  document.set_locale(config.locale);
  document.set_excluded_coupon_minor(config.excluded_coupon_minor);
  return document;
}

}  // namespace makegood::policy_proto
