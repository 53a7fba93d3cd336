// The membership-trust score: 0 (no trust) to 1000 (full trust), as the sum
// of named factors so that every point can be explained (GetTrust).
#ifndef MAKEGOOD_SERVICES_POLICY_TRUST_SCORE_H_
#define MAKEGOOD_SERVICES_POLICY_TRUST_SCORE_H_

#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "services/policy/decision.h"
#include "services/policy/inputs.h"
#include "services/policy/policy_config.h"

namespace makegood::policy {

// The member's trust factors under `config`, in a fixed order: "tier",
// "tenure", "delivered_orders", "refunds_30d", "refund_rate_90d",
// "refund_money_90d", "low_ratings_30d", then "flag_<flag>" for each weighted
// flag the member has, in policy order. `tier` must be the member's tier in
// `config`, and the history counters non-negative. `config` is one
// currency's view (markets.h's ForCurrency) when the policy has markets.
[[nodiscard]] std::vector<TrustFactor> TrustFactors(
    const PolicyConfig& config, const TierConfig& tier,
    const MemberSnapshot& member, absl::Time now);

// The factors' sum, clamped to [0, kMaxTrustScore].
[[nodiscard]] int TrustScore(absl::Span<const TrustFactor> factors);

// TrustScore(TrustFactors(config, tier, member, now)) without formatting the
// factors' details: the decision hot path's version.
[[nodiscard]] int MemberTrustScore(const PolicyConfig& config,
                                   const TierConfig& tier,
                                   const MemberSnapshot& member,
                                   absl::Time now);

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_TRUST_SCORE_H_
