#include "services/policy/trust_score.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"
#include <vector>

#include "absl/strings/str_cat.h"
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

TrustFactor Tenure(const TrustModel& model, const MemberSnapshot& member,
                   absl::Time now) {
  const int64_t days =
      std::max<int64_t>(0, absl::ToInt64Hours(now - member.member_since) / 24);
  const int points =
      std::min<int64_t>(model.tenure_max_points,
                        std::min<int64_t>(days, 366'000) *
                            model.tenure_points_per_year / 365);
  return {"tenure", points,
          absl::StrCat("member for ", days < 365 ? Count(days, "day")
                                                 : Count(days / 365, "year"))};
}

TrustFactor RefundRate(const TrustModel& model, const MemberHistory& history) {
  // Refunds with no spend to set them against count as a 100 % rate.
  const int64_t rate_percent =
      history.spend_90d_minor > 0
          ? std::min<int64_t>(100, ScaleMinor(history.refunded_90d_minor, 100,
                                              history.spend_90d_minor))
          : (history.refunded_90d_minor > 0 ? 100 : 0);
  const int penalty =
      Bounded(rate_percent - model.tolerated_refund_rate_90d_percent,
              model.penalty_per_refund_rate_point, model.refund_rate_max_penalty);
  return {"refund_rate_90d", -penalty,
          absl::StrCat("refunds were ", rate_percent, "% of spend in 90 days (",
                       model.tolerated_refund_rate_90d_percent,
                       "% tolerated)")};
}

}  // namespace

std::vector<TrustFactor> TrustFactors(const PolicyConfig& config,
                                      const TierConfig& tier,
                                      const MemberSnapshot& member,
                                      absl::Time now) {
  const TrustModel& model = config.trust;
  const MemberHistory& history = member.history;
  std::vector<TrustFactor> factors;
  factors.reserve(7 + member.flags.size());
  factors.push_back(
      {"tier", tier.base_trust, absl::StrCat(tier.name, " tier")});
  factors.push_back(Tenure(model, member, now));
  factors.push_back({"delivered_orders",
                     Bounded(history.delivered_orders,
                             model.points_per_delivered_order,
                             model.delivered_orders_max_points),
                     Count(history.delivered_orders, "delivered order")});
  factors.push_back(
      {"refunds_30d",
       -Bounded(history.refunds_30d - model.free_refunds_30d,
                model.penalty_per_extra_refund_30d,
                model.refund_count_max_penalty),
       absl::StrCat(Count(history.refunds_30d, "refund"), " in 30 days (",
                    model.free_refunds_30d, " free)")});
  factors.push_back(RefundRate(model, history));
  factors.push_back(
      {"refund_money_90d",
       -Bounded(history.refunded_90d_minor / model.refund_money_step_minor,
                model.penalty_per_refund_money_step,
                model.refund_money_max_penalty),
       absl::StrCat(FormatMoney(history.refunded_90d_minor, config.currency),
                    " refunded in 90 days")});
  factors.push_back(
      {"low_ratings_30d",
       -Bounded(history.low_ratings_30d - model.free_low_ratings_30d,
                model.penalty_per_extra_low_rating_30d,
                model.low_ratings_max_penalty),
       absl::StrCat(Count(history.low_ratings_30d, "low rating"),
                    " in 30 days (", model.free_low_ratings_30d, " free)")});
  for (const FlagWeight& weight : model.flag_weights) {
    if (std::find(member.flags.begin(), member.flags.end(), weight.flag) !=
        member.flags.end()) {
      factors.push_back({absl::StrCat("flag_", weight.flag), weight.points,
                         absl::StrCat("flagged ", weight.flag)});
    }
  }
  return factors;
}

int TrustScore(absl::Span<const TrustFactor> factors) {
  int64_t sum = 0;
  for (const TrustFactor& factor : factors) sum += factor.contribution;
  return static_cast<int>(std::clamp<int64_t>(sum, 0, kMaxTrustScore));
}

}  // namespace makegood::policy
