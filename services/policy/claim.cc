#include "services/policy/claim.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"
#include "services/policy/curve.h"
#include "services/policy/money.h"

namespace makegood::policy {

Claim AssessClaim(const CompiledPolicy& policy, const TierConfig& tier,
                  const OrderSnapshot& order, const RatingInput& rating,
                  absl::Span<const LineRating* const> line_ratings,
                  bool grant_in_kind) {
  Claim claim;
  // Order-wide effects and feedback, from every reason given anywhere.
  const auto note_reason = [&](Reason reason) {
    const ReasonRule* rule = policy.RuleFor(reason);
    if (rule == nullptr) return;
    if (rule->feedback == FeedbackTarget::kCourier) {
      claim.to_courier |= ReasonBit(reason);
    }
    if (rule->feedback == FeedbackTarget::kStore) {
      claim.to_store |= ReasonBit(reason);
    }
    if (rule->effect == RuleEffect::kRefundDeliveryFee &&
        order.delivery_fee_minor > 0) {
      claim.delivery_fee_minor = order.delivery_fee_minor;
      claim.fee |= ReasonBit(reason);
    }
    if (rule->effect == RuleEffect::kCoupon) {
      claim.coupon_minor = std::max(claim.coupon_minor, rule->coupon_minor);
      claim.coupon |= ReasonBit(reason);
    }
  };
  for (Reason reason : rating.reasons) note_reason(reason);
  for (const LineRating& line : rating.line_ratings) {
    for (Reason reason : line.reasons) note_reason(reason);
  }

  // A rating whose reasons are all about the delivery earns no curve refund.
  const auto curve_applies = [&](const std::vector<Reason>& reasons) {
    return reasons.empty() ||
           std::any_of(reasons.begin(), reasons.end(), [&](Reason reason) {
             const ReasonRule* rule = policy.RuleFor(reason);
             return rule == nullptr || !rule->instead_of_curve;
           });
  };
  // Without line ratings, every line is rated as the order is.
  const bool order_curve =
      rating.line_ratings.empty() && curve_applies(rating.reasons);

  for (size_t i = 0; i < order.lines.size(); ++i) {
    const OrderLine& line = order.lines[i];
    const LineRating* line_rating = line_ratings[i];
    // The line rule that covers this line: its own tags first, then tags on
    // the whole order.
    const ReasonRule* rule = nullptr;
    if (line_rating != nullptr) {
      for (Reason reason : line_rating->reasons) {
        rule = policy.LineRule(reason, line.category, /*on_line=*/true);
        if (rule != nullptr) break;
      }
    }
    for (size_t r = 0; rule == nullptr && r < rating.reasons.size(); ++r) {
      rule = policy.LineRule(rating.reasons[r], line.category,
                             /*on_line=*/false);
    }
    int64_t curve_minor = 0;
    if (line_rating != nullptr ? curve_applies(line_rating->reasons)
                               : order_curve) {
      curve_minor =
          CurveRefund(policy.config().curve,
                      line_rating != nullptr ? line_rating->satisfaction
                                             : rating.satisfaction,
                      tier.curve_scale_percent, line.amount_minor);
    }
    if (rule == nullptr && curve_minor == 0) continue;  // nothing claimed
    const Percent& satisfaction = line_rating != nullptr
                                      ? line_rating->satisfaction
                                      : rating.satisfaction;
    if (rule != nullptr ||
        satisfaction.value() <= policy.config().follow_ups.severe_max_percent) {
      ++claim.whole_lines;
    }
    if (policy.IsExcluded(line.category)) {
      const ExcludedAnswer* answer = policy.ExcludedAnswerFor(line.category);
      if (answer == nullptr) {
        claim.excluded_categories.push_back(line.category);
        continue;
      }
      // What the line would earn were it not excluded.
      const int64_t claimed = rule != nullptr ? line.amount_minor : curve_minor;
      claim.answered.push_back({.category = line.category,
                                .answer = *answer,
                                .claimed_minor = claimed});
      if (answer->answer == ExcludedAnswerKind::kPartialRefund) {
        const int64_t partial =
            ScaleMinor(claimed, answer->partial_refund_percent, 100);
        claim.goods_minor += partial;
        claim.excluded_partial_minor += partial;
      }
    } else if (rule != nullptr && rule->effect == RuleEffect::kReplaceLine &&
               grant_in_kind) {
      claim.replacement_line_ids.push_back(line.line_id);
      claim.replaced |= ReasonBit(rule->reason);
    } else if (rule != nullptr) {
      // A line rule pays the whole line, which is never less than the curve.
      claim.goods_minor += line.amount_minor;
      claim.full_line |= ReasonBit(rule->reason);
    } else {
      claim.goods_minor += curve_minor;
      claim.curve_paid = true;
    }
  }
  std::vector<std::string>& excluded = claim.excluded_categories;
  std::sort(excluded.begin(), excluded.end());
  excluded.erase(std::unique(excluded.begin(), excluded.end()), excluded.end());
  return claim;
}

}  // namespace makegood::policy
