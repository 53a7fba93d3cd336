#include "services/policy/markets.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace makegood::policy {

// A policy serves one currency today (PolicyConfig::currency); per-currency
// money settings replace this.
std::vector<std::string> ServedCurrencies(const PolicyConfig& config) {
  return {config.currency};
}

bool Serves(const PolicyConfig& config, absl::string_view currency) {
  return config.currency == currency;
}

absl::StatusOr<PolicyConfig> ForCurrency(const PolicyConfig& config,
                                         absl::string_view currency) {
  if (!Serves(config, currency)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the policy does not serve ", currency, " (it serves ",
                     absl::StrJoin(ServedCurrencies(config), ", "), ")"));
  }
  return config;
}

std::optional<GoodwillBudgets> GoodwillBudgetsFor(const PolicyConfig&,
                                                  absl::string_view) {
  return std::nullopt;
}

}  // namespace makegood::policy
