#include "services/settlement/provider.h"

namespace makegood::settlement {

absl::string_view PayoutOutcomeName(PayoutOutcome outcome) {
  switch (outcome) {
    case PayoutOutcome::kSucceeded:
      return "succeeded";
    case PayoutOutcome::kDeclined:
      return "declined";
    case PayoutOutcome::kNotFound:
      return "not_found";
    case PayoutOutcome::kUnknown:
      return "unknown";
  }
  return "unknown";
}

}  // namespace makegood::settlement
