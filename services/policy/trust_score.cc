#include "services/policy/trust_score.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/policy/money.h"

namespace makegood::policy {
namespace {

// min(units * per_unit, max_points) for units >= 0, without overflow.
int Bounded(int64_t units, int per_unit, int max_points) {
  if (units <= 0 || per_unit <= 0) return 0;
  if (units >= max_points) return max_points;  // per_unit >= 1
  return static_cast<int>(std::min<int64_t>(units * per_unit, max_points));
}

std::string Count(int64_t n, absl::string_view noun) {
  return absl::StrCat(n, " ", noun, n == 1 ? "" : "s");
}

int64_t TenureDays(const MemberSnapshot& member, absl::Time now) {
  return std::max<int64_t>(0,
                           absl::ToInt64Hours(now - member.member_since) / 24);
}

// Refunds as a share of spend over 90 days, in whole percent; refunds with no
// spend to set them against count as 100 %.
int64_t RefundRatePercent(const MemberHistory& history) {
  if (history.spend_90d_minor <= 0) {
    return history.refunded_90d_minor > 0 ? 100 : 0;
  }
  return std::min<int64_t>(100, ScaleMinor(history.refunded_90d_minor, 100,
                                           history.spend_90d_minor));
}

// The points of every factor but flags, in TrustFactors() order. Kept apart
// from the details so that a decision does not pay for formatting them.
struct Points {
  int tier = 0;
  int tenure = 0;
  int delivered_orders = 0;
  int refunds_30d = 0;
  int refund_rate_90d = 0;
  int refund_money_90d = 0;
  int low_ratings_30d = 0;

  int Sum() const {
    return tier + tenure + delivered_orders + refunds_30d + refund_rate_90d +
           refund_money_90d + low_ratings_30d;
  }
};

Points ComputePoints(const TrustModel& model, const TierConfig& tier,
                     const MemberSnapshot& member, absl::Time now) {
  const MemberHistory& history = member.history;
  Points points;
  points.tier = tier.base_trust;
  points.tenure = static_cast<int>(
      std::min<int64_t>(model.tenure_max_points,
                        std::min<int64_t>(TenureDays(member, now), 366'000) *
                            model.tenure_points_per_year / 365));
  points.delivered_orders =
      Bounded(history.delivered_orders, model.points_per_delivered_order,
              model.delivered_orders_max_points);
  points.refunds_30d = -Bounded(history.refunds_30d - model.free_refunds_30d,
                                model.penalty_per_extra_refund_30d,
                                model.refund_count_max_penalty);
  points.refund_rate_90d = -Bounded(
      RefundRatePercent(history) - model.tolerated_refund_rate_90d_percent,
      model.penalty_per_refund_rate_point, model.refund_rate_max_penalty);
  // A config with markets has no step of its own (0): its single-currency
  // view (markets.h) has; without one, money refunded costs nothing.
  points.refund_money_90d = -Bounded(
      model.refund_money_step_minor > 0
          ? history.refunded_90d_minor / model.refund_money_step_minor
          : 0,
      model.penalty_per_refund_money_step, model.refund_money_max_penalty);
  points.low_ratings_30d = -Bounded(
      history.low_ratings_30d - model.free_low_ratings_30d,
      model.penalty_per_extra_low_rating_30d, model.low_ratings_max_penalty);
  return points;
}

bool HasFlag(const MemberSnapshot& member, const std::string& flag) {
  return std::find(member.flags.begin(), member.flags.end(), flag) !=
         member.flags.end();
}

int Clamp(int64_t sum) {
  return static_cast<int>(std::clamp<int64_t>(sum, 0, kMaxTrustScore));
}

}  // namespace

std::vector<TrustFactor> TrustFactors(const PolicyConfig& config,
                                      const TierConfig& tier,
                                      const MemberSnapshot& member,
                                      absl::Time now) {
  const TrustModel& model = config.trust;
  const MemberHistory& history = member.history;
  const Points points = ComputePoints(model, tier, member, now);
  const int64_t days = TenureDays(member, now);
  std::vector<TrustFactor> factors;
  factors.reserve(7 + member.flags.size());
  factors.push_back({"tier", points.tier, absl::StrCat(tier.name, " tier")});
  factors.push_back(
      {"tenure", points.tenure,
       absl::StrCat("member for ", days < 365 ? Count(days, "day")
                                              : Count(days / 365, "year"))});
  factors.push_back({"delivered_orders", points.delivered_orders,
                     Count(history.delivered_orders, "delivered order")});
  factors.push_back(
      {"refunds_30d", points.refunds_30d,
       absl::StrCat(Count(history.refunds_30d, "refund"), " in 30 days (",
                    model.free_refunds_30d, " free)")});
  factors.push_back(
      {"refund_rate_90d", points.refund_rate_90d,
       absl::StrCat("refunds were ", RefundRatePercent(history),
                    "% of spend in 90 days (",
                    model.tolerated_refund_rate_90d_percent, "% tolerated)")});
  factors.push_back({"refund_money_90d", points.refund_money_90d,
                     absl::StrCat(FormatMoney(history.refunded_90d_minor,
                                              config.currency, config.locale),
                                  " refunded in 90 days")});
  factors.push_back(
      {"low_ratings_30d", points.low_ratings_30d,
       absl::StrCat(Count(history.low_ratings_30d, "low rating"),
                    " in 30 days (", model.free_low_ratings_30d, " free)")});
  for (const FlagWeight& weight : model.flag_weights) {
    if (HasFlag(member, weight.flag)) {
      factors.push_back({absl::StrCat("flag_", weight.flag), weight.points,
                         absl::StrCat("flagged ", weight.flag)});
    }
  }
  return factors;
}

int TrustScore(absl::Span<const TrustFactor> factors) {
  int64_t sum = 0;
  for (const TrustFactor& factor : factors) sum += factor.contribution;
  return Clamp(sum);
}

int MemberTrustScore(const PolicyConfig& config, const TierConfig& tier,
                     const MemberSnapshot& member, absl::Time now) {
  int64_t sum = ComputePoints(config.trust, tier, member, now).Sum();
  for (const FlagWeight& weight : config.trust.flag_weights) {
    if (HasFlag(member, weight.flag)) sum += weight.points;
  }
  return Clamp(sum);
}

}  // namespace makegood::policy
