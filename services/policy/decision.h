// The engine's answers: a Decision on a rating and a TrustReport on a member.
//
// Plain value types, mirrored by makegood.v1.Decision and TrustReport. Reason
// codes are stable snake_case strings (e.g. "curve_proportional",
// "instant_budget_exhausted"): dashboards, simulations and tests key on them,
// so never rename one.
#ifndef MAKEGOOD_SERVICES_POLICY_DECISION_H_
#define MAKEGOOD_SERVICES_POLICY_DECISION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/policy/inputs.h"

namespace makegood::policy {

// What the engine decided to do about a rating. Mirrors makegood.v1.Outcome.
enum class Outcome {
  kNoAction,
  kRefund,           // money back to the original payment, now
  kWalletCredit,     // credit to the member's wallet, now
  kCoupon,           // a coupon for a future order; no money moves
  kReplacement,      // the lines in Decision::replacement_line_ids are resent
  kRequestEvidence,  // nothing moves until the member sends evidence
  kManualReview,     // a person reviews review_amount_minor; any instant part
                     // is already in Decision::refund
  kDeny,
};

// Stable snake_case name, e.g. "wallet_credit".
[[nodiscard]] absl::string_view OutcomeName(Outcome outcome);

// Where refunded value goes. Mirrors makegood.v1.Instrument.
enum class Instrument { kOriginalPayment, kWallet, kCoupon };

// What is paid now, without review.
struct Refund {
  int64_t amount_minor = 0;
  std::string currency;
  Instrument instrument = Instrument::kOriginalPayment;

  friend bool operator==(const Refund&, const Refund&) = default;
};

// Mirrors makegood.v1.FollowUpKind.
enum class FollowUpKind {
  kCourierFeedback,  // appealable feedback to the courier
  kStoreFeedback,    // appealable feedback to the store
  kManagerFollowUp,  // a manager contacts the member
  kSilentRecovery,   // recovery for a member who rated low without complaint
};

// A side effect the decision asks downstream systems to carry out.
struct FollowUp {
  FollowUpKind kind = FollowUpKind::kCourierFeedback;
  // A courier id, a store id or the member id.
  std::string target_id;
  std::vector<std::string> reason_codes;

  friend bool operator==(const FollowUp&, const FollowUp&) = default;
};

struct Decision {
  Outcome outcome = Outcome::kNoAction;
  // Present when money, credit or a coupon is granted now.
  std::optional<Refund> refund;
  // Left for a person to review (kManualReview) or pending evidence
  // (kRequestEvidence). Already within every cap.
  int64_t review_amount_minor = 0;
  // Lines to send again (kReplacement, or alongside an instant refund).
  std::vector<std::string> replacement_line_ids;
  // Codes of the rules that shaped the decision, in a fixed order.
  std::vector<std::string> reason_codes;
  // Deterministic text naming the rules; safe to show the member (it never
  // mentions the trust score or risk flags).
  std::string explanation;
  std::vector<FollowUp> follow_ups;
  int trust_score = 0;
  std::string policy_version;

  // Bookkeeping for the caller to store with the decision.
  // Whether this rating counts as low (history counters, repeat rule).
  bool low_rating = false;
  // Whether it is a trouble (at or below the policy's trouble_max_percent,
  // or a claim): retention after it is tracked.
  bool trouble = false;
  // The instant budget this decision draws, and the state to store after it.
  int64_t instant_budget_used_minor = 0;
  InstantBudgetState instant_budget_after;
};

// One factor's part in a trust score.
struct TrustFactor {
  // Stable name, e.g. "tenure", "refund_rate_90d", "flag_chargeback".
  std::string name;
  // Points added (positive) or taken (negative).
  int contribution = 0;
  // Human-readable, e.g. "member for 3 years".
  std::string detail;

  friend bool operator==(const TrustFactor&, const TrustFactor&) = default;
};

struct TrustReport {
  std::string member_id;
  std::string tier;
  // The factors' sum clamped to [0, 1000].
  int score = 0;
  std::vector<TrustFactor> factors;
  int64_t instant_budget_remaining_minor = 0;
  std::string currency;
  std::string policy_version;
};

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_DECISION_H_
