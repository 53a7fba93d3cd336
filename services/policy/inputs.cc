#include "services/policy/inputs.h"

#include "absl/strings/string_view.h"

namespace makegood::policy {

absl::string_view ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kMeltedOrWarm:
      return "melted_or_warm";
    case Reason::kDamaged:
      return "damaged";
    case Reason::kMissingItem:
      return "missing_item";
    case Reason::kWrongItem:
      return "wrong_item";
    case Reason::kLate:
      return "late";
    case Reason::kPoorQuality:
      return "poor_quality";
    case Reason::kCourierBehaviour:
      return "courier_behaviour";
    case Reason::kOther:
      return "other";
  }
  return "unknown";
}

}  // namespace makegood::policy
