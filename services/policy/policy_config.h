// PolicyConfig: the typed policy document the engine runs, and its validation.
//
// The structs mirror the makegood.v1.Policy textproto field by field, so a
// violation's `field` (e.g. "tiers[1].instant_budget.capacity_minor") names
// the place to fix in the file. Money amounts are minor units of `currency`;
// percentages are plain ints checked by Validate(), so that a bad document
// can be represented and reported rather than rejected on construction.
//
// Example:
//   PolicyConfig config = DefaultPolicyConfig();
//   config.tiers[0].base_trust = 5000;
//   for (const Violation& v : Validate(config)) {
//     // v.field == "tiers[0].base_trust", v.message == "must be in [0, 1000]"
//   }
#ifndef MAKEGOOD_SERVICES_POLICY_POLICY_CONFIG_H_
#define MAKEGOOD_SERVICES_POLICY_POLICY_CONFIG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "services/policy/inputs.h"

namespace makegood::policy {

// Trust scores range over [0, kMaxTrustScore].
inline constexpr int kMaxTrustScore = 1000;

// The instant-refund budget of a tier: a bucket of `capacity_minor` that
// starts at `initial_minor`, is drawn down by instant refunds and refills by
// `refill_per_day_minor` for every day without one.
struct InstantBudgetConfig {
  int64_t capacity_minor = 0;
  int64_t initial_minor = 0;
  int64_t refill_per_day_minor = 0;

  friend bool operator==(const InstantBudgetConfig&,
                         const InstantBudgetConfig&) = default;
};

struct TierConfig {
  // 1-32 characters of [a-z0-9_-]; what MemberSnapshot::tier refers to.
  std::string name;
  // Trust points every member of the tier starts from, 0-1000.
  int base_trust = 0;
  // Share of the curve's proportional refund this tier receives, 0-100.
  int curve_scale_percent = 100;
  // Hard ceilings; refunds beyond them are never paid, not even on review.
  int64_t max_refund_per_order_minor = 0;
  // Over a rolling 30 days (MemberHistory::refunded_30d_minor).
  int64_t max_refund_per_period_minor = 0;
  InstantBudgetConfig instant_budget;
  // Whether a severe rating (FollowUpConfig::severe_max_percent) from this
  // tier asks a manager to contact the member.
  bool manager_follow_up_on_severe = false;

  friend bool operator==(const TierConfig&, const TierConfig&) = default;
};

// One point of the refund curve: at `satisfaction_percent`, refund
// `refund_percent` of the rated amount. The engine interpolates linearly.
struct CurvePoint {
  int satisfaction_percent = 0;
  int refund_percent = 0;

  friend bool operator==(const CurvePoint&, const CurvePoint&) = default;
};

// What a reason rule does.
enum class RuleEffect {
  // Nothing of its own: the curve decides, as for an untagged rating (useful
  // to send feedback, e.g. damaged -> store).
  kProportional,
  // Refund the tagged line in full.
  kRefundLineInFull,
  // Send the tagged line again instead of refunding it.
  kReplaceLine,
  // Refund the order's delivery fee.
  kRefundDeliveryFee,
  // Give a coupon of `coupon_minor`; no money moves.
  kCoupon,
};

// Who hears about a reason, as appealable feedback.
enum class FeedbackTarget { kNone, kCourier, kStore };

// What a reason tag earns, on top of (or instead of) the proportional curve.
struct ReasonRule {
  Reason reason = Reason::kOther;
  RuleEffect effect = RuleEffect::kProportional;
  // Line effects only. When set, the rule applies only to lines of these
  // categories, and a reason given on the whole order applies to every such
  // line (e.g. "melted" on the order covers its frozen lines). When empty, the
  // rule applies to any line tagged with the reason on a line rating.
  std::vector<std::string> categories;
  // kCoupon only: the coupon's value, > 0.
  int64_t coupon_minor = 0;
  // True when this reason is about the delivery rather than the goods: a
  // rating whose reasons all have this set earns no proportional refund
  // (e.g. late -> only the delivery fee).
  bool instead_of_curve = false;
  FeedbackTarget feedback = FeedbackTarget::kNone;

  friend bool operator==(const ReasonRule&, const ReasonRule&) = default;
};

// Trust bands, from the top: a score >= instant_min_score settles at once
// (within budget); >= partial_min_score settles `partial_instant_percent` of
// the claim at once and sends the rest to review; >= evidence_min_score asks
// for evidence; >= review_min_score goes to manual review; below, denial.
// Equal thresholds disable the band between them.
struct TrustThresholds {
  int instant_min_score = 0;
  int partial_min_score = 0;
  int evidence_min_score = 0;
  int review_min_score = 0;
  int partial_instant_percent = 0;
  // A rating claiming more than this share (1-100) of the order's goods is
  // never paid at once, whatever the band: a person reviews it. 0: off.
  int large_claim_review_percent = 0;
  // A rating claiming more whole lines than this (Claim::whole_lines: a line
  // rule refunds or replaces the line, or it is rated severe) is never paid
  // at once either. 0: off.
  int large_claim_review_lines = 0;

  friend bool operator==(const TrustThresholds&,
                         const TrustThresholds&) = default;
};

// A member flag's weight in the trust score (negative for risk signals).
struct FlagWeight {
  // 1-64 characters of [a-z0-9_], e.g. "chargeback".
  std::string flag;
  int points = 0;

  friend bool operator==(const FlagWeight&, const FlagWeight&) = default;
};

// How each factor moves the trust score. Penalties are given as positive
// numbers and subtracted; every factor is bounded by its max.
struct TrustModel {
  int tenure_points_per_year = 0;
  int tenure_max_points = 0;
  int points_per_delivered_order = 0;
  int delivered_orders_max_points = 0;
  // Refunds in 30 days beyond the free allowance cost points each.
  int free_refunds_30d = 0;
  int penalty_per_extra_refund_30d = 0;
  int refund_count_max_penalty = 0;
  // Refunded money as a share of spend over 90 days, above the tolerated
  // share, costs points per percentage point.
  int tolerated_refund_rate_90d_percent = 0;
  int penalty_per_refund_rate_point = 0;
  int refund_rate_max_penalty = 0;
  // Every full step of money refunded in 90 days costs points. One-market
  // form only (> 0); with markets, each market sets its own and this is 0.
  int64_t refund_money_step_minor = 0;
  int penalty_per_refund_money_step = 0;
  int refund_money_max_penalty = 0;
  // Low ratings in 30 days beyond the free allowance cost points each.
  int free_low_ratings_30d = 0;
  int penalty_per_extra_low_rating_30d = 0;
  int low_ratings_max_penalty = 0;
  // Flags not listed here do not move the score.
  std::vector<FlagWeight> flag_weights;

  friend bool operator==(const TrustModel&, const TrustModel&) = default;
};

struct FollowUpConfig {
  // Ratings at or below this are severe (manager follow-up for tiers that
  // ask for it).
  int severe_max_percent = 0;
  // A low rating within this window of the previous one asks a manager to
  // follow up. Zero disables the rule.
  absl::Duration repeat_window = absl::ZeroDuration();
  // A rating at or below this with no reason tagged anywhere is a silent
  // complaint: the member gets what can be settled at once, never a review
  // or an evidence request, plus a recovery follow-up.
  int silent_recovery_max_percent = 0;

  friend bool operator==(const FollowUpConfig&,
                         const FollowUpConfig&) = default;
};

// A tier's money in one market (the same meaning as in TierConfig).
struct TierMoneyConfig {
  // The TierConfig::name this money is for.
  std::string tier;
  int64_t max_refund_per_order_minor = 0;
  int64_t max_refund_per_period_minor = 0;
  InstantBudgetConfig instant_budget;

  friend bool operator==(const TierMoneyConfig&,
                         const TierMoneyConfig&) = default;
};

// A coupon rule's value in one market.
struct CouponValueConfig {
  Reason reason = Reason::kOther;
  int64_t coupon_minor = 0;

  friend bool operator==(const CouponValueConfig&,
                         const CouponValueConfig&) = default;
};

// Goodwill budgets of one market.
struct GoodwillBudgetConfig {
  int64_t agent_daily_minor = 0;
  int64_t member_30d_minor = 0;

  friend bool operator==(const GoodwillBudgetConfig&,
                         const GoodwillBudgetConfig&) = default;
};

// The money settings of one currency: every money amount of the policy in
// that currency's minor units.
struct MarketConfig {
  // ISO 4217, e.g. "KRW".
  std::string currency;
  // BCP 47 locale that formats amounts, e.g. "ko-KR"; empty means "en".
  std::string locale;
  // One entry per policy tier.
  std::vector<TierMoneyConfig> tiers;
  // One entry per coupon rule.
  std::vector<CouponValueConfig> coupons;
  int64_t refund_money_step_minor = 0;
  // Absent: the server's goodwill flags apply.
  std::optional<GoodwillBudgetConfig> goodwill;
  // The coupon of ExcludedAnswerKind::kCoupon answers.
  int64_t excluded_coupon_minor = 0;

  friend bool operator==(const MarketConfig&, const MarketConfig&) = default;
};

// What a claim on an excluded category earns instead of an instant refund.
enum class ExcludedAnswerKind {
  // Ask for evidence; a person settles the claimed value.
  kEvidence,
  // A person reviews the claimed value.
  kReview,
  // A coupon of excluded_coupon_minor (at once for members trusted to settle
  // at once; the others' claims go to review).
  kCoupon,
  // partial_refund_percent of the claimed value, as any refund (caps, budget
  // and trust bands apply).
  kPartialRefund,
};

struct ExcludedAnswer {
  // An excluded category, or empty for the default answer.
  std::string category;
  ExcludedAnswerKind answer = ExcludedAnswerKind::kReview;
  // kPartialRefund only: 1-100.
  int partial_refund_percent = 0;
  // Shown to the member; 1-300 characters.
  std::string explanation;

  friend bool operator==(const ExcludedAnswer&,
                         const ExcludedAnswer&) = default;
};

// Money comes in one of two forms, never both: one market (`currency`,
// `locale` and the amounts in tiers, coupon rules, the trust model and
// `excluded_coupon_minor`), or `markets` with every amount per currency and
// the top-level money left zero. markets.h gives the single-currency view.
struct PolicyConfig {
  // 1-64 characters of [a-z0-9_-], e.g. "default".
  std::string name;
  // One-market form: ISO 4217 code of every amount in the policy and of the
  // orders it rates. Empty when `markets` is given.
  std::string currency;
  std::vector<TierConfig> tiers;
  // At least two points, from 0 to 100 % satisfaction, satisfaction strictly
  // increasing and refund never increasing.
  std::vector<CurvePoint> curve;
  // At most one rule per reason.
  std::vector<ReasonRule> reason_rules;
  // Lines of these categories are never refunded, replaced or reviewed.
  std::vector<std::string> excluded_categories;
  TrustModel trust;
  TrustThresholds thresholds;
  FollowUpConfig follow_ups;
  // Ratings at or below this are low: they count in low_ratings_30d.
  int low_rating_max_percent = 0;
  // Ratings at or below this, and claims (a reason tagged), are troubles:
  // retention after them is tracked. Unset: low_rating_max_percent.
  std::optional<int> trouble_max_percent;
  // Refund card payments as wallet credit too (cash, wallet and other
  // payment methods always get wallet credit).
  bool prefer_wallet = false;
  // How long after delivery an order can be rated.
  absl::Duration rating_window = absl::ZeroDuration();
  // Several-markets form: one per currency served; the first is primary.
  std::vector<MarketConfig> markets;
  // At most one per excluded category, and at most one default (empty
  // category).
  std::vector<ExcludedAnswer> excluded_answers;
  // One-market form: the locale formatting amounts ("" means "en") and the
  // coupon of kCoupon excluded answers.
  std::string locale;
  int64_t excluded_coupon_minor = 0;

  friend bool operator==(const PolicyConfig&, const PolicyConfig&) = default;
};

// One problem with a policy: the field's textproto path and what is wrong.
struct Violation {
  std::string field;
  std::string message;

  friend bool operator==(const Violation&, const Violation&) = default;
};

// Returns every violation in `config`, in field order; empty when valid.
[[nodiscard]] std::vector<Violation> Validate(const PolicyConfig& config);

// OK when `violations` is empty, else InvalidArgument listing them all as
// "field: message; field: message".
[[nodiscard]] absl::Status ViolationsToStatus(
    const std::vector<Violation>& violations);

// The sample policy shipped with the project (basic, plus and premium tiers;
// see default_policy.cc for the reasoning behind its numbers). Valid.
[[nodiscard]] PolicyConfig DefaultPolicyConfig();

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_POLICY_CONFIG_H_
