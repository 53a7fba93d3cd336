#include "services/policy/policy_config.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/policy/inputs.h"
#include "services/policy/money.h"

namespace makegood::policy {
namespace {

// Whether `s` is 1..max_len characters, each a lowercase letter, a digit or
// one of `extra`.
bool IsToken(absl::string_view s, size_t max_len, absl::string_view extra) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) &&
        extra.find(c) == absl::string_view::npos) {
      return false;
    }
  }
  return true;
}

// Collects violations under field paths.
class Checker {
 public:
  void Add(std::string field, std::string message) {
    violations_.push_back({std::move(field), std::move(message)});
  }
  void InRange(const std::string& field, int64_t value, int64_t lo,
               int64_t hi) {
    if (value < lo || value > hi) {
      Add(field, absl::StrCat("must be in [", lo, ", ", hi, "]"));
    }
  }
  void NonNegative(const std::string& field, int64_t value) {
    if (value < 0) Add(field, "must not be negative");
  }
  void PercentValue(const std::string& field, int value) {
    InRange(field, value, 0, 100);
  }
  void Positive(const std::string& field, absl::Duration value) {
    if (value <= absl::ZeroDuration()) Add(field, "must be positive");
  }
  void Category(const std::string& field, const std::string& value) {
    if (!IsToken(value, 64, "_-")) {
      Add(field, "must be 1-64 characters of [a-z0-9_-]");
    }
  }
  std::vector<Violation> Take() { return std::move(violations_); }

 private:
  std::vector<Violation> violations_;
};

constexpr char kMixedForms[] =
    "money is given per market when markets are set: leave it out here and "
    "give it in every markets[] entry (a document is either one market or "
    "several, never both)";

std::string Indexed(absl::string_view list, size_t i) {
  return absl::StrCat(list, "[", i, "]");
}

void CheckBudget(const std::string& at, const InstantBudgetConfig& budget,
                 Checker& check) {
  check.NonNegative(at + ".capacity_minor", budget.capacity_minor);
  check.InRange(at + ".initial_minor", budget.initial_minor, 0,
                budget.capacity_minor < 0 ? 0 : budget.capacity_minor);
  check.NonNegative(at + ".refill_per_day_minor", budget.refill_per_day_minor);
}

// With markets (`per_market`), a tier's money lives in each market and must
// be left zero here.
void CheckTiers(const std::vector<TierConfig>& tiers, bool per_market,
                Checker& check) {
  if (tiers.empty()) check.Add("tiers", "must define at least one tier");
  absl::flat_hash_set<absl::string_view> names;
  for (size_t i = 0; i < tiers.size(); ++i) {
    const TierConfig& tier = tiers[i];
    const std::string at = Indexed("tiers", i);
    if (!IsToken(tier.name, 32, "_-")) {
      check.Add(at + ".name", "must be 1-32 characters of [a-z0-9_-]");
    } else if (!names.insert(tier.name).second) {
      check.Add(at + ".name",
                absl::StrCat("duplicate tier \"", tier.name, "\""));
    }
    check.InRange(at + ".base_trust", tier.base_trust, 0, kMaxTrustScore);
    check.PercentValue(at + ".curve_scale_percent", tier.curve_scale_percent);
    if (per_market) {
      if (tier.max_refund_per_order_minor != 0 ||
          tier.max_refund_per_period_minor != 0 ||
          tier.instant_budget != InstantBudgetConfig{}) {
        check.Add(at, kMixedForms);
      }
      continue;
    }
    check.NonNegative(at + ".max_refund_per_order_minor",
                      tier.max_refund_per_order_minor);
    check.NonNegative(at + ".max_refund_per_period_minor",
                      tier.max_refund_per_period_minor);
    CheckBudget(at + ".instant_budget", tier.instant_budget, check);
  }
}

void CheckCurve(const std::vector<CurvePoint>& curve, Checker& check) {
  if (curve.size() < 2) {
    check.Add("curve", "must have at least two points");
    return;
  }
  for (size_t i = 0; i < curve.size(); ++i) {
    const std::string at = Indexed("curve", i);
    check.PercentValue(at + ".satisfaction_percent",
                       curve[i].satisfaction_percent);
    check.PercentValue(at + ".refund_percent", curve[i].refund_percent);
    if (i == 0) continue;
    if (curve[i].satisfaction_percent <= curve[i - 1].satisfaction_percent) {
      check.Add(at + ".satisfaction_percent",
                "must be greater than the previous point's");
    }
    if (curve[i].refund_percent > curve[i - 1].refund_percent) {
      check.Add(at + ".refund_percent",
                "must not exceed the previous point's (less satisfaction "
                "never refunds less)");
    }
  }
  if (curve.front().satisfaction_percent != 0) {
    check.Add("curve[0].satisfaction_percent", "must be 0");
  }
  if (curve.back().satisfaction_percent != 100) {
    check.Add(absl::StrCat(Indexed("curve", curve.size() - 1),
                           ".satisfaction_percent"),
              "must be 100");
  }
}

void CheckReasonRules(const std::vector<ReasonRule>& rules, bool per_market,
                      Checker& check) {
  absl::flat_hash_set<Reason> seen;
  for (size_t i = 0; i < rules.size(); ++i) {
    const ReasonRule& rule = rules[i];
    const std::string at = Indexed("reason_rules", i);
    const int reason = static_cast<int>(rule.reason);
    if (reason < 0 || reason >= kReasonCount) {
      check.Add(at + ".reason", "unknown reason");
    } else if (!seen.insert(rule.reason).second) {
      check.Add(at + ".reason", absl::StrCat("duplicate rule for reason ",
                                             ReasonName(rule.reason)));
    }
    const bool line_effect = rule.effect == RuleEffect::kRefundLineInFull ||
                             rule.effect == RuleEffect::kReplaceLine;
    if (!line_effect && !rule.categories.empty()) {
      check.Add(at + ".categories", "only line effects take categories");
    }
    for (size_t c = 0; c < rule.categories.size(); ++c) {
      check.Category(Indexed(at + ".categories", c), rule.categories[c]);
    }
    if (rule.effect == RuleEffect::kCoupon && per_market) {
      if (rule.coupon_minor != 0) check.Add(at + ".coupon_minor", kMixedForms);
    } else if (rule.effect == RuleEffect::kCoupon) {
      if (rule.coupon_minor <= 0)
        check.Add(at + ".coupon_minor", "must be > 0");
    } else if (rule.coupon_minor != 0) {
      check.Add(at + ".coupon_minor", "only coupon rules take a coupon");
    }
  }
}

void CheckThresholds(const TrustThresholds& t, Checker& check) {
  check.InRange("thresholds.instant_min_score", t.instant_min_score, 0,
                kMaxTrustScore);
  check.InRange("thresholds.partial_min_score", t.partial_min_score, 0,
                t.instant_min_score);
  check.InRange("thresholds.evidence_min_score", t.evidence_min_score, 0,
                t.partial_min_score);
  check.InRange("thresholds.review_min_score", t.review_min_score, 0,
                t.evidence_min_score);
  check.PercentValue("thresholds.partial_instant_percent",
                     t.partial_instant_percent);
  check.PercentValue("thresholds.large_claim_review_percent",
                     t.large_claim_review_percent);
  if (t.large_claim_review_lines < 0) {
    check.Add("thresholds.large_claim_review_lines",
              "must be 0 (off) or a number of lines");
  }
}

void CheckTrustModel(const TrustModel& m, bool per_market, Checker& check) {
  const struct {
    const char* field;
    int64_t value;
  } kNonNegative[] = {
      {"trust.tenure_points_per_year", m.tenure_points_per_year},
      {"trust.tenure_max_points", m.tenure_max_points},
      {"trust.points_per_delivered_order", m.points_per_delivered_order},
      {"trust.delivered_orders_max_points", m.delivered_orders_max_points},
      {"trust.free_refunds_30d", m.free_refunds_30d},
      {"trust.penalty_per_extra_refund_30d", m.penalty_per_extra_refund_30d},
      {"trust.refund_count_max_penalty", m.refund_count_max_penalty},
      {"trust.penalty_per_refund_rate_point", m.penalty_per_refund_rate_point},
      {"trust.refund_rate_max_penalty", m.refund_rate_max_penalty},
      {"trust.penalty_per_refund_money_step", m.penalty_per_refund_money_step},
      {"trust.refund_money_max_penalty", m.refund_money_max_penalty},
      {"trust.free_low_ratings_30d", m.free_low_ratings_30d},
      {"trust.penalty_per_extra_low_rating_30d",
       m.penalty_per_extra_low_rating_30d},
      {"trust.low_ratings_max_penalty", m.low_ratings_max_penalty},
  };
  for (const auto& [field, value] : kNonNegative) {
    check.InRange(field, value, 0, kMaxTrustScore);
  }
  check.PercentValue("trust.tolerated_refund_rate_90d_percent",
                     m.tolerated_refund_rate_90d_percent);
  if (per_market && m.refund_money_step_minor != 0) {
    check.Add("trust.refund_money_step_minor", kMixedForms);
  } else if (!per_market && m.refund_money_step_minor <= 0) {
    check.Add("trust.refund_money_step_minor", "must be > 0");
  }
  absl::flat_hash_set<absl::string_view> flags;
  for (size_t i = 0; i < m.flag_weights.size(); ++i) {
    const FlagWeight& weight = m.flag_weights[i];
    const std::string at = Indexed("trust.flag_weights", i);
    if (!IsToken(weight.flag, 64, "_")) {
      check.Add(at + ".flag", "must be 1-64 characters of [a-z0-9_]");
    } else if (!flags.insert(weight.flag).second) {
      check.Add(at + ".flag",
                absl::StrCat("duplicate flag \"", weight.flag, "\""));
    }
    check.InRange(at + ".points", weight.points, -kMaxTrustScore,
                  kMaxTrustScore);
  }
}

bool HasCouponAnswer(const PolicyConfig& config) {
  return std::any_of(config.excluded_answers.begin(),
                     config.excluded_answers.end(),
                     [](const ExcludedAnswer& a) {
                       return a.answer == ExcludedAnswerKind::kCoupon;
                     });
}

void CheckExcludedCoupon(const std::string& field, int64_t value, bool needed,
                         Checker& check) {
  if (needed && value <= 0) {
    check.Add(field, "must be > 0 (a coupon answer gives this coupon)");
  } else if (!needed && value != 0) {
    check.Add(field, "only coupon answers (excluded_answers) take a coupon");
  }
}

void CheckMarkets(const PolicyConfig& config, Checker& check) {
  const bool coupon_answer = HasCouponAnswer(config);
  absl::flat_hash_set<absl::string_view> currencies;
  for (size_t i = 0; i < config.markets.size(); ++i) {
    const MarketConfig& market = config.markets[i];
    const std::string at = Indexed("markets", i);
    if (!IsIsoCurrency(market.currency)) {
      check.Add(at + ".currency", "must be an ISO 4217 code such as \"KRW\"");
    } else if (!currencies.insert(market.currency).second) {
      check.Add(at + ".currency",
                absl::StrCat("duplicate market for ", market.currency));
    }
    if (!IsLocaleTag(market.locale)) {
      check.Add(at + ".locale", "must be a BCP 47 tag such as \"ko-KR\"");
    }
    absl::flat_hash_set<absl::string_view> tiers;
    for (size_t t = 0; t < market.tiers.size(); ++t) {
      const TierMoneyConfig& money = market.tiers[t];
      const std::string tier_at = Indexed(at + ".tiers", t);
      const bool known = std::any_of(
          config.tiers.begin(), config.tiers.end(),
          [&](const TierConfig& tier) { return tier.name == money.tier; });
      if (!known) {
        check.Add(
            tier_at + ".tier",
            absl::StrCat("names no tier of the policy (\"", money.tier, "\")"));
      } else if (!tiers.insert(money.tier).second) {
        check.Add(tier_at + ".tier", absl::StrCat("duplicate money for tier \"",
                                                  money.tier, "\""));
      }
      check.NonNegative(tier_at + ".max_refund_per_order_minor",
                        money.max_refund_per_order_minor);
      check.NonNegative(tier_at + ".max_refund_per_period_minor",
                        money.max_refund_per_period_minor);
      CheckBudget(tier_at + ".instant_budget", money.instant_budget, check);
    }
    for (const TierConfig& tier : config.tiers) {
      if (!tier.name.empty() && !tiers.contains(tier.name)) {
        check.Add(at + ".tiers",
                  absl::StrCat("no money for tier \"", tier.name, "\""));
      }
    }
    absl::flat_hash_set<Reason> coupons;
    for (size_t c = 0; c < market.coupons.size(); ++c) {
      const CouponValueConfig& coupon = market.coupons[c];
      const std::string coupon_at = Indexed(at + ".coupons", c);
      const bool rule = std::any_of(
          config.reason_rules.begin(), config.reason_rules.end(),
          [&](const ReasonRule& r) {
            return r.reason == coupon.reason && r.effect == RuleEffect::kCoupon;
          });
      if (!rule) {
        check.Add(coupon_at + ".reason", "names no coupon rule of the policy");
      } else if (!coupons.insert(coupon.reason).second) {
        check.Add(coupon_at + ".reason",
                  absl::StrCat("duplicate coupon for reason ",
                               ReasonName(coupon.reason)));
      }
      if (coupon.coupon_minor <= 0) {
        check.Add(coupon_at + ".coupon_minor", "must be > 0");
      }
    }
    for (const ReasonRule& rule : config.reason_rules) {
      const int reason = static_cast<int>(rule.reason);
      if (rule.effect == RuleEffect::kCoupon && reason >= 0 &&
          reason < kReasonCount && !coupons.contains(rule.reason)) {
        check.Add(at + ".coupons",
                  absl::StrCat("no value for the coupon rule of reason ",
                               ReasonName(rule.reason)));
      }
    }
    if (market.refund_money_step_minor <= 0) {
      check.Add(at + ".refund_money_step_minor", "must be > 0");
    }
    if (market.goodwill.has_value()) {
      check.NonNegative(at + ".goodwill.agent_daily_minor",
                        market.goodwill->agent_daily_minor);
      check.NonNegative(at + ".goodwill.member_30d_minor",
                        market.goodwill->member_30d_minor);
    }
    CheckExcludedCoupon(at + ".excluded_coupon_minor",
                        market.excluded_coupon_minor, coupon_answer, check);
  }
}

void CheckExcludedAnswers(const PolicyConfig& config, Checker& check) {
  absl::flat_hash_set<absl::string_view> seen;
  for (size_t i = 0; i < config.excluded_answers.size(); ++i) {
    const ExcludedAnswer& answer = config.excluded_answers[i];
    const std::string at = Indexed("excluded_answers", i);
    const bool excluded =
        answer.category.empty() ||
        std::find(config.excluded_categories.begin(),
                  config.excluded_categories.end(),
                  answer.category) != config.excluded_categories.end();
    if (!excluded) {
      check.Add(at + ".category",
                absl::StrCat("\"", answer.category,
                             "\" is not an excluded category"));
    } else if (!seen.insert(answer.category).second) {
      check.Add(
          at + ".category",
          answer.category.empty()
              ? std::string("more than one default answer")
              : absl::StrCat("duplicate answer for \"", answer.category, "\""));
    }
    if (answer.answer == ExcludedAnswerKind::kPartialRefund) {
      check.InRange(at + ".partial_refund_percent",
                    answer.partial_refund_percent, 1, 100);
    } else if (answer.partial_refund_percent != 0) {
      check.Add(at + ".partial_refund_percent",
                "only partial refund answers take a percent");
    }
    if (answer.explanation.empty() || answer.explanation.size() > 300) {
      check.Add(at + ".explanation", "must be 1-300 characters");
    }
  }
}

}  // namespace

std::vector<Violation> Validate(const PolicyConfig& config) {
  Checker check;
  if (!IsToken(config.name, 64, "_-")) {
    check.Add("name", "must be 1-64 characters of [a-z0-9_-]");
  }
  const bool per_market = !config.markets.empty();
  if (per_market) {
    if (!config.currency.empty()) check.Add("currency", kMixedForms);
  } else if (!IsIsoCurrency(config.currency)) {
    check.Add("currency", "must be an ISO 4217 code such as \"EUR\"");
  }
  CheckTiers(config.tiers, per_market, check);
  CheckCurve(config.curve, check);
  CheckReasonRules(config.reason_rules, per_market, check);
  absl::flat_hash_set<absl::string_view> excluded;
  for (size_t i = 0; i < config.excluded_categories.size(); ++i) {
    const std::string at = Indexed("excluded_categories", i);
    check.Category(at, config.excluded_categories[i]);
    if (!excluded.insert(config.excluded_categories[i]).second) {
      check.Add(at, "duplicate category");
    }
  }
  CheckTrustModel(config.trust, per_market, check);
  CheckThresholds(config.thresholds, check);
  check.PercentValue("follow_ups.severe_max_percent",
                     config.follow_ups.severe_max_percent);
  if (config.follow_ups.repeat_window < absl::ZeroDuration()) {
    check.Add("follow_ups.repeat_window", "must not be negative");
  }
  check.PercentValue("follow_ups.silent_recovery_max_percent",
                     config.follow_ups.silent_recovery_max_percent);
  check.PercentValue("low_rating_max_percent", config.low_rating_max_percent);
  if (config.trouble_max_percent.has_value()) {
    check.PercentValue("trouble_max_percent", *config.trouble_max_percent);
  }
  check.Positive("rating_window", config.rating_window);
  CheckMarkets(config, check);
  CheckExcludedAnswers(config, check);
  if (per_market) {
    if (!config.locale.empty()) check.Add("locale", kMixedForms);
    if (config.excluded_coupon_minor != 0) {
      check.Add("excluded_coupon_minor", kMixedForms);
    }
  } else {
    if (!IsLocaleTag(config.locale)) {
      check.Add("locale", "must be a BCP 47 tag such as \"ko-KR\"");
    }
    CheckExcludedCoupon("excluded_coupon_minor", config.excluded_coupon_minor,
                        HasCouponAnswer(config), check);
  }
  return check.Take();
}

absl::Status ViolationsToStatus(const std::vector<Violation>& violations) {
  if (violations.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrJoin(violations, "; ", [](std::string* out, const Violation& v) {
        absl::StrAppend(out, v.field, ": ", v.message);
      }));
}

}  // namespace makegood::policy
