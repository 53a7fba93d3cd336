// File: services/policy/engine.h
//
// PolicyEngine: the pure membership-trust policy engine. Given a member, the
// rated order, the rating and the time, it scores the member's trust and
// decides what the rating earns: a refund proportional to the
// dissatisfaction, reason rules, caps, the instant-refund budget and trust
// bands, with reason codes, an explanation and follow-ups.
//
// Pure: no I/O, no clock, no randomness. The same inputs always give the same
// Decision, so the server and the simulator share it and tests pin its output.
//
// How a decision is made:
//   1. The member's trust score picks a band (instant, partial, evidence,
//      review, deny; see TrustThresholds).
//   2. The claim: each line earns the curve's share of its amount at its
//      satisfaction (the order's when no line is rated), scaled by the tier,
//      or its full amount under a line rule (missing, melted frozen goods);
//      excluded categories earn nothing; order rules add the delivery fee or
//      a coupon; reasons about the delivery alone replace the curve.
//   3. Earlier refunds and hard ceilings: a rating of an order already
//      refunded is owed only what it claims beyond those refunds (a second
//      rating may raise the refund, never duplicate it):
//        due = min(max(0, claim - refunded), total - refunded),
//      then cut to the tier's per-order cap (counting the earlier refunds)
//      and per-30-day cap. Nothing above them is ever paid or sent to review.
//   4. The band and the instant budget split what remains into a part paid
//      at once and a part for review or evidence (or deny it all).
//   5. Instrument (original payment or wallet), follow-ups, explanation.
//
// Example:
//   absl::StatusOr<PolicyEngine> engine =
//       PolicyEngine::Create(DefaultPolicyConfig(), "default@3f2a9c01");
//   if (!engine.ok()) return engine.status();  // names the bad fields
//   absl::StatusOr<Decision> decision =
//       engine->Decide(member, order, rating, clock.Now());
//
// Thread-safety: a PolicyEngine is immutable after Create(); any number of
// threads may call its const methods concurrently. To change the policy,
// build a new engine and swap it in.
#ifndef MAKEGOOD_SERVICES_POLICY_ENGINE_H_
#define MAKEGOOD_SERVICES_POLICY_ENGINE_H_

#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/policy/compiled_policy.h"
#include "services/policy/decision.h"
#include "services/policy/inputs.h"
#include "services/policy/policy_config.h"

namespace makegood::policy {

class PolicyEngine {
 public:
  // Validates `config` and builds an engine that stamps `version` (e.g.
  // "default@3f2a9c01") on its answers. Returns InvalidArgument naming every
  // violating field if the config is invalid.
  [[nodiscard]] static absl::StatusOr<PolicyEngine> Create(PolicyConfig config,
                                                           std::string version);

  PolicyEngine(const PolicyEngine&) = default;
  PolicyEngine& operator=(const PolicyEngine&) = default;
  PolicyEngine(PolicyEngine&&) = default;
  PolicyEngine& operator=(PolicyEngine&&) = default;

  // The whole policy as validated: with markets, its top-level money is zero
  // (markets.h's ForCurrency gives one currency's view).
  [[nodiscard]] const PolicyConfig& config() const { return config_; }
  // The policy as it decides orders in `currency` (ForCurrency's view, built
  // once when the engine was created), or ForCurrency's FAILED_PRECONDITION
  // naming the currency and the served ones. Valid as long as the engine.
  [[nodiscard]] absl::StatusOr<const PolicyConfig*> MarketConfig(
      absl::string_view currency) const;
  [[nodiscard]] const std::string& version() const { return version_; }

  // The member's trust score, its factors and remaining instant budget at
  // `now`. Errors: FAILED_PRECONDITION if the member's tier is not in the
  // policy; INVALID_ARGUMENT if a history counter is negative.
  // In the primary currency (markets.h's PrimaryCurrency).
  [[nodiscard]] absl::StatusOr<TrustReport> Trust(const MemberSnapshot& member,
                                                  absl::Time now) const;
  // In `currency` (its instant budget and money factors); additionally
  // FAILED_PRECONDITION naming it and the served ones if it is not served.
  [[nodiscard]] absl::StatusOr<TrustReport> Trust(const MemberSnapshot& member,
                                                  absl::string_view currency,
                                                  absl::Time now) const;

  // The decision on `rating` of `order` by `member` at `now`. A denial or a
  // review is a successful Decision, not an error. Errors: INVALID_ARGUMENT
  // for inconsistent input (negative amounts, lines adding up to more than
  // the total, unknown or repeated rated lines, unknown reasons);
  // FAILED_PRECONDITION if the policy does not serve the order's currency
  // (naming it and the served ones), the member's tier is not in the policy
  // or the rating window of the order has closed. The order is decided in its
  // own currency's view of the policy (markets.h's ForCurrency).
  [[nodiscard]] absl::StatusOr<Decision> Decide(const MemberSnapshot& member,
                                                const OrderSnapshot& order,
                                                const RatingInput& rating,
                                                absl::Time now) const;

 private:
  PolicyEngine(PolicyConfig config, std::string version);

  // The compiled view of `currency`, or ForCurrency's FAILED_PRECONDITION.
  [[nodiscard]] absl::StatusOr<const CompiledPolicy*> MarketFor(
      absl::string_view currency) const;

  // The member's tier in `policy`, or FAILED_PRECONDITION.
  [[nodiscard]] absl::StatusOr<const TierConfig*> FindTier(
      const CompiledPolicy& policy, const MemberSnapshot& member) const;

  PolicyConfig config_;
  // One compiled single-currency view per served currency.
  absl::flat_hash_map<std::string, CompiledPolicy> markets_;
  std::string primary_currency_;
  std::string version_;
};

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_ENGINE_H_
