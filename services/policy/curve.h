// The refund curve: how much of a rated amount a satisfaction level earns.
//
// The curve is piecewise linear over 0-100 % satisfaction (see CurvePoint in
// policy_config.h). Shares are exact fractions so that the refund rounds only
// once, down, when applied to money.
#ifndef MAKEGOOD_SERVICES_POLICY_CURVE_H_
#define MAKEGOOD_SERVICES_POLICY_CURVE_H_

#include <cstdint>

#include "absl/types/span.h"
#include "services/policy/percent.h"
#include "services/policy/policy_config.h"

namespace makegood::policy {

// numerator / denominator, with 0 <= numerator <= denominator.
struct Fraction {
  int64_t numerator = 0;
  int64_t denominator = 1;
};

// The share of the rated amount to refund at `satisfaction`. Requires a curve
// that passes Validate(); never increases as satisfaction rises.
[[nodiscard]] Fraction CurveShare(absl::Span<const CurvePoint> curve,
                                  Percent satisfaction);

// floor(amount * share * scale_percent / 100), never more than `amount`.
[[nodiscard]] int64_t CurveRefund(absl::Span<const CurvePoint> curve,
                                  Percent satisfaction, int scale_percent,
                                  int64_t amount_minor);

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_CURVE_H_
