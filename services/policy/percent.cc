#include "services/policy/percent.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace makegood::policy {

absl::StatusOr<Percent> Percent::FromInt(int value) {
  if (value < kMin || value > kMax) {
    return absl::InvalidArgumentError(
        absl::StrCat("percentage ", value, " is outside [0, 100]"));
  }
  return Percent(value);
}

}  // namespace makegood::policy
