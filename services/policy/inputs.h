// The facts the policy engine decides on: a snapshot of the member, of the
// rated order, and the rating itself.
//
// These are plain value types with no behaviour. The caller (the server, after
// reading Redis, or the simulator, from recorded cases) fills them in; the
// engine never reads a clock or a store, so "now" is passed separately. Money
// is in integer minor units of the order's currency.
#ifndef MAKEGOOD_SERVICES_POLICY_INPUTS_H_
#define MAKEGOOD_SERVICES_POLICY_INPUTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/policy/percent.h"

namespace makegood::policy {

// What went wrong with a delivery or a line, as the member tagged it. Mirrors
// makegood.v1.Reason without its UNSPECIFIED value, which callers reject.
enum class Reason {
  kMeltedOrWarm,
  kDamaged,
  kMissingItem,
  kWrongItem,
  kLate,
  kPoorQuality,
  kCourierBehaviour,
  kOther,
};
inline constexpr int kReasonCount = 8;

// Stable snake_case name, e.g. "melted_or_warm"; used to build reason codes.
[[nodiscard]] absl::string_view ReasonName(Reason reason);

// How the member paid for the order. Mirrors makegood.v1.PaymentMethod.
enum class PaymentMethod { kCard, kWallet, kCash, kOther };

// The member's instant-refund budget as last stored: `balance_minor` was
// available at `as_of`, and it refills from then on (see instant_budget.h).
struct InstantBudgetState {
  int64_t balance_minor = 0;
  absl::Time as_of = absl::UnixEpoch();

  friend bool operator==(const InstantBudgetState&,
                         const InstantBudgetState&) = default;
};

// Rolling counters kept by the caller, as they stood before this rating.
struct MemberHistory {
  // Orders delivered over the whole membership.
  int64_t delivered_orders = 0;
  // What the member paid for orders delivered in the last 90 days.
  int64_t spend_90d_minor = 0;
  // Refunds (count and money) accepted in the last 30 and 90 days.
  int64_t refunds_30d = 0;
  int64_t refunded_30d_minor = 0;
  int64_t refunds_90d = 0;
  int64_t refunded_90d_minor = 0;
  // Ratings at or below the policy's `low_rating_max_percent` in 30 days.
  int64_t low_ratings_30d = 0;
  // When the member last rated an order low, if ever.
  std::optional<absl::Time> last_low_rating_at;
};

struct MemberSnapshot {
  std::string member_id;
  // A tier name defined by the policy, e.g. "premium".
  std::string tier;
  absl::Time member_since = absl::UnixEpoch();
  // e.g. "chargeback", "linked_to_abuser", "verified".
  std::vector<std::string> flags;
  MemberHistory history;
  // Absent until the member's first instant refund: the budget then starts at
  // the tier's initial balance as of `member_since`.
  std::optional<InstantBudgetState> instant_budget;
};

struct OrderLine {
  std::string line_id;
  std::string sku;
  // e.g. "frozen", "alcohol", "gift_card"; may be empty.
  std::string category;
  int32_t quantity = 1;
  // What the member paid for the whole line.
  int64_t amount_minor = 0;
};

struct OrderSnapshot {
  std::string order_id;
  std::string store_id;
  // Empty for orders without a courier (e.g. pickup).
  std::string courier_id;
  // ISO 4217; must be the policy's currency.
  std::string currency;
  // What the member paid in total, delivery fee included.
  int64_t total_minor = 0;
  int64_t delivery_fee_minor = 0;
  std::vector<OrderLine> lines;
  absl::Time delivered_at = absl::UnixEpoch();
  PaymentMethod payment_method = PaymentMethod::kCard;
  // Refunds already accepted on this order (any instrument but coupons).
  int64_t refunded_minor = 0;
  // Coupon value already granted for this order, and lines already sent
  // again: a later rating never grants them a second time.
  int64_t coupon_granted_minor = 0;
  std::vector<std::string> replaced_line_ids;
};

// The member's rating of one line of the order.
struct LineRating {
  std::string line_id;
  Percent satisfaction;
  std::vector<Reason> reasons;
};

struct RatingInput {
  // Satisfaction with the whole delivery.
  Percent satisfaction;
  // Reasons about the whole delivery.
  std::vector<Reason> reasons;
  // Optional finer ratings; when present, goods are refunded line by line.
  std::vector<LineRating> line_ratings;
  // BCP 47 locale the explanation formats amounts for; empty: the market's
  // (PolicyConfig::locale). Checked by the caller (IsLocaleTag).
  std::string locale;
};

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_INPUTS_H_
