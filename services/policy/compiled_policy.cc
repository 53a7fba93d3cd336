#include "services/policy/compiled_policy.h"

#include <algorithm>
#include <cstddef>
#include <utility>

#include "absl/strings/string_view.h"

namespace makegood::policy {

CompiledPolicy::CompiledPolicy(PolicyConfig config)
    : config_(std::move(config)) {
  for (size_t i = 0; i < config_.tiers.size(); ++i) {
    tier_index_.emplace(config_.tiers[i].name, i);
  }
  excluded_categories_.insert(config_.excluded_categories.begin(),
                              config_.excluded_categories.end());
  for (size_t i = 0; i < config_.excluded_answers.size(); ++i) {
    excluded_answers_.emplace(config_.excluded_answers[i].category, i);
  }
  for (const ReasonRule& rule : config_.reason_rules) {
    rules_[static_cast<int>(rule.reason)] = rule;
  }
}

const TierConfig* CompiledPolicy::FindTier(absl::string_view name) const {
  const auto it = tier_index_.find(name);
  return it == tier_index_.end() ? nullptr : &config_.tiers[it->second];
}

const ExcludedAnswer* CompiledPolicy::ExcludedAnswerFor(
    absl::string_view category) const {
  auto it = excluded_answers_.find(category);
  if (it == excluded_answers_.end()) it = excluded_answers_.find("");
  return it == excluded_answers_.end() ? nullptr
                                       : &config_.excluded_answers[it->second];
}

const ReasonRule* CompiledPolicy::LineRule(Reason reason,
                                           absl::string_view category,
                                           bool on_line) const {
  const ReasonRule* rule = RuleFor(reason);
  if (rule == nullptr || (rule->effect != RuleEffect::kRefundLineInFull &&
                          rule->effect != RuleEffect::kReplaceLine)) {
    return nullptr;
  }
  if (rule->categories.empty()) return on_line ? rule : nullptr;
  const bool listed =
      std::find(rule->categories.begin(), rule->categories.end(), category) !=
      rule->categories.end();
  return listed ? rule : nullptr;
}

}  // namespace makegood::policy
