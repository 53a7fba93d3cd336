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

std::string Indexed(absl::string_view list, size_t i) {
  return absl::StrCat(list, "[", i, "]");
}

void CheckTiers(const std::vector<TierConfig>& tiers, Checker& check) {
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
    check.NonNegative(at + ".max_refund_per_order_minor",
                      tier.max_refund_per_order_minor);
    check.NonNegative(at + ".max_refund_per_period_minor",
                      tier.max_refund_per_period_minor);
    const InstantBudgetConfig& budget = tier.instant_budget;
    check.NonNegative(at + ".instant_budget.capacity_minor",
                      budget.capacity_minor);
    check.InRange(at + ".instant_budget.initial_minor", budget.initial_minor, 0,
                  budget.capacity_minor < 0 ? 0 : budget.capacity_minor);
    check.NonNegative(at + ".instant_budget.refill_per_day_minor",
                      budget.refill_per_day_minor);
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

void CheckReasonRules(const std::vector<ReasonRule>& rules, Checker& check) {
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
    if (rule.effect == RuleEffect::kCoupon) {
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
}

void CheckTrustModel(const TrustModel& m, Checker& check) {
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
  if (m.refund_money_step_minor <= 0) {
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

}  // namespace

std::vector<Violation> Validate(const PolicyConfig& config) {
  Checker check;
  if (!IsToken(config.name, 64, "_-")) {
    check.Add("name", "must be 1-64 characters of [a-z0-9_-]");
  }
  if (config.currency.size() != 3 ||
      !std::all_of(config.currency.begin(), config.currency.end(),
                   [](char c) { return absl::ascii_isupper(c); })) {
    check.Add("currency", "must be an ISO 4217 code such as \"EUR\"");
  }
  CheckTiers(config.tiers, check);
  CheckCurve(config.curve, check);
  CheckReasonRules(config.reason_rules, check);
  absl::flat_hash_set<absl::string_view> excluded;
  for (size_t i = 0; i < config.excluded_categories.size(); ++i) {
    const std::string at = Indexed("excluded_categories", i);
    check.Category(at, config.excluded_categories[i]);
    if (!excluded.insert(config.excluded_categories[i]).second) {
      check.Add(at, "duplicate category");
    }
  }
  CheckTrustModel(config.trust, check);
  CheckThresholds(config.thresholds, check);
  check.PercentValue("follow_ups.severe_max_percent",
                     config.follow_ups.severe_max_percent);
  if (config.follow_ups.repeat_window < absl::ZeroDuration()) {
    check.Add("follow_ups.repeat_window", "must not be negative");
  }
  check.PercentValue("follow_ups.silent_recovery_max_percent",
                     config.follow_ups.silent_recovery_max_percent);
  check.PercentValue("low_rating_max_percent", config.low_rating_max_percent);
  check.Positive("rating_window", config.rating_window);
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
