#include "services/policy/decision.h"

#include "absl/strings/string_view.h"

namespace makegood::policy {

absl::string_view OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kNoAction:
      return "no_action";
    case Outcome::kRefund:
      return "refund";
    case Outcome::kWalletCredit:
      return "wallet_credit";
    case Outcome::kCoupon:
      return "coupon";
    case Outcome::kReplacement:
      return "replacement";
    case Outcome::kRequestEvidence:
      return "request_evidence";
    case Outcome::kManualReview:
      return "manual_review";
    case Outcome::kDeny:
      return "deny";
  }
  return "unknown";
}

}  // namespace makegood::policy
