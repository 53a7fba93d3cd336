// The claim a rating makes: what each line, the delivery fee and a coupon
// are worth under the policy's curve and reason rules, before any ceiling,
// budget or trust band is applied (the engine does that next).
#ifndef MAKEGOOD_SERVICES_POLICY_CLAIM_H_
#define MAKEGOOD_SERVICES_POLICY_CLAIM_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/types/span.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/inputs.h"
#include "services/policy/policy_config.h"

namespace makegood::policy {

// A set of reasons, one bit per Reason.
using ReasonSet = uint32_t;
static_assert(kReasonCount <= 32);
[[nodiscard]] constexpr ReasonSet ReasonBit(Reason reason) {
  return ReasonSet{1} << static_cast<int>(reason);
}

struct Claim {
  // Curve and full-line refunds of the lines.
  int64_t goods_minor = 0;
  // The delivery fee, when a fee rule applies.
  int64_t delivery_fee_minor = 0;
  // The largest coupon a coupon rule offers; granted only if no money is due.
  int64_t coupon_minor = 0;
  // Whether the curve contributed to goods_minor.
  bool curve_paid = false;
  // The reasons whose rules refunded a line in full, replaced a line,
  // refunded the fee or offered a coupon.
  ReasonSet full_line = 0;
  ReasonSet replaced = 0;
  ReasonSet fee = 0;
  ReasonSet coupon = 0;
  // The reasons to feed back to the courier and to the store.
  ReasonSet to_courier = 0;
  ReasonSet to_store = 0;
  std::vector<std::string> replacement_line_ids;
  // Categories of claimed lines that the policy excludes and answers with
  // nothing but "cannot be refunded"; sorted, unique.
  std::vector<std::string> excluded_categories;
  // Claims on excluded lines that the policy answers (excluded_answers), in
  // line order: the category, its answer and the line's claimed value (what
  // it would earn if it were not excluded).
  struct ExcludedClaim {
    std::string category;
    ExcludedAnswer answer;
    int64_t claimed_minor = 0;
  };
  std::vector<ExcludedClaim> answered;
  // Of goods_minor, what partial-refund answers add.
  int64_t excluded_partial_minor = 0;
  // Lines claimed whole (excluded ones included): a line rule refunds or
  // replaces the line, or the line (or, without line ratings, the order) is
  // rated at or below follow_ups.severe_max_percent.
  int whole_lines = 0;
};

// Assesses `rating` of `order` by a member of `tier`. `line_ratings[i]` is
// the rating of order.lines[i], or nullptr. When `grant_in_kind` is false,
// replacement rules pay the line in full instead. Inputs must be checked.
[[nodiscard]] Claim AssessClaim(
    const CompiledPolicy& policy, const TierConfig& tier,
    const OrderSnapshot& order, const RatingInput& rating,
    absl::Span<const LineRating* const> line_ratings, bool grant_in_kind);

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_CLAIM_H_
