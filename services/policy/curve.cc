#include "services/policy/curve.h"

#include <cstddef>
#include <cstdint>

#include "absl/types/span.h"
#include "services/policy/money.h"

namespace makegood::policy {

Fraction CurveShare(absl::Span<const CurvePoint> curve, Percent satisfaction) {
  const int s = satisfaction.value();
  for (size_t i = 1; i < curve.size(); ++i) {
    const CurvePoint& lo = curve[i - 1];
    const CurvePoint& hi = curve[i];
    if (s > hi.satisfaction_percent) continue;
    // y(s) = lo.y + (hi.y - lo.y) * (s - lo.x) / (hi.x - lo.x), in percent.
    const int64_t width = hi.satisfaction_percent - lo.satisfaction_percent;
    return {.numerator = int64_t{lo.refund_percent} * width +
                         int64_t{hi.refund_percent - lo.refund_percent} *
                             (s - lo.satisfaction_percent),
            .denominator = 100 * width};
  }
  return {.numerator = 0, .denominator = 1};  // Unreachable for valid curves.
}

int64_t CurveRefund(absl::Span<const CurvePoint> curve, Percent satisfaction,
                    int scale_percent, int64_t amount_minor) {
  const Fraction share = CurveShare(curve, satisfaction);
  const int64_t refund = ScaleMinor(
      amount_minor, share.numerator * scale_percent, share.denominator * 100);
  return refund < amount_minor ? refund : amount_minor;
}

}  // namespace makegood::policy
