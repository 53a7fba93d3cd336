// Percent: a whole percentage in [0, 100], such as a member's satisfaction.
//
// A value of this type is always in range, so code that receives one never
// re-checks it. Build one with `FromInt` (which rejects out-of-range input) or
// `Clamped` (which saturates). Values are cheap to copy and thread-compatible.
#ifndef MAKEGOOD_SERVICES_POLICY_PERCENT_H_
#define MAKEGOOD_SERVICES_POLICY_PERCENT_H_

#include <compare>

#include "absl/status/statusor.h"

namespace makegood::policy {

class Percent {
 public:
  static constexpr int kMin = 0;
  static constexpr int kMax = 100;

  // Zero percent.
  constexpr Percent() = default;

  // Returns the percentage, or InvalidArgument if `value` is outside [0, 100].
  [[nodiscard]] static absl::StatusOr<Percent> FromInt(int value);

  // Returns `value` clamped to [0, 100].
  [[nodiscard]] static constexpr Percent Clamped(int value) {
    return Percent(value < kMin ? kMin : (value > kMax ? kMax : value));
  }

  [[nodiscard]] constexpr int value() const { return value_; }

  friend constexpr auto operator<=>(Percent, Percent) = default;

 private:
  constexpr explicit Percent(int value) : value_(value) {}

  int value_ = 0;
};

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_PERCENT_H_
