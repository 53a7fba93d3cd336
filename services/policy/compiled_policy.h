// CompiledPolicy: a validated PolicyConfig indexed for the lookups a decision
// makes (tier by name, rule by reason, excluded categories).
//
// Immutable after construction and safe to share between threads. Copies
// are independent (no pointers into another object).
#ifndef MAKEGOOD_SERVICES_POLICY_COMPILED_POLICY_H_
#define MAKEGOOD_SERVICES_POLICY_COMPILED_POLICY_H_

#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/string_view.h"
#include "services/policy/inputs.h"
#include "services/policy/policy_config.h"

namespace makegood::policy {

class CompiledPolicy {
 public:
  // `config` must pass Validate().
  explicit CompiledPolicy(PolicyConfig config);

  [[nodiscard]] const PolicyConfig& config() const { return config_; }

  // The tier named `name`, or nullptr.
  [[nodiscard]] const TierConfig* FindTier(absl::string_view name) const;

  // The rule for `reason`, or nullptr if the policy has none.
  [[nodiscard]] const ReasonRule* RuleFor(Reason reason) const {
    const std::optional<ReasonRule>& rule = rules_[static_cast<int>(reason)];
    return rule.has_value() ? &*rule : nullptr;
  }

  // The line rule (refund in full, replace) for `reason` if it covers a line
  // of `category`. A reason tagged on the line itself (`on_line`) is covered
  // by a rule without categories; a reason given on the whole order only by
  // a rule that lists the category.
  [[nodiscard]] const ReasonRule* LineRule(Reason reason,
                                           absl::string_view category,
                                           bool on_line) const;

  [[nodiscard]] bool IsExcluded(absl::string_view category) const {
    return !category.empty() && excluded_categories_.contains(category);
  }

  // The policy's answer to a claim on excluded `category`: its own, else the
  // default one, else nullptr (the claim is only told it cannot be refunded).
  [[nodiscard]] const ExcludedAnswer* ExcludedAnswerFor(
      absl::string_view category) const;

 private:
  PolicyConfig config_;
  absl::flat_hash_map<std::string, size_t> tier_index_;
  absl::flat_hash_set<std::string> excluded_categories_;
  // Index into config_.excluded_answers by category ("" for the default).
  absl::flat_hash_map<std::string, size_t> excluded_answers_;
  // Indexed by Reason.
  std::array<std::optional<ReasonRule>, kReasonCount> rules_;
};

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_COMPILED_POLICY_H_
