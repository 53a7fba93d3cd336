// Markets: the currencies one policy document serves, and the single-currency
// view of the policy that decides an order in one of them.
//
// This header is the contract between the policy side (the document, its
// validation, the engine) and the stored side (RecordDelivery, member state,
// goodwill, policy reloads). The stored side calls only what is declared
// here.
//
// Example:
//   absl::StatusOr<PolicyConfig> krw = ForCurrency(config, "KRW");
//   if (!krw.ok()) return krw.status();  // FAILED_PRECONDITION, names both
//   krw->currency == "KRW"; krw->tiers[0].max_refund_per_order_minor: in KRW
#ifndef MAKEGOOD_SERVICES_POLICY_MARKETS_H_
#define MAKEGOOD_SERVICES_POLICY_MARKETS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/policy/policy_config.h"

namespace makegood::policy {

// The ISO 4217 codes `config` serves, sorted, never empty for a valid
// config.
[[nodiscard]] std::vector<std::string> ServedCurrencies(
    const PolicyConfig& config);

// True when `config` serves `currency`.
[[nodiscard]] bool Serves(const PolicyConfig& config,
                          absl::string_view currency);

// The policy as it decides orders in `currency`: every money amount in that
// currency's minor units and `currency` set to it. FAILED_PRECONDITION when
// the policy does not serve `currency`; the message names the currency and
// the served ones, e.g. "the policy does not serve GBP (it serves CNY, EUR,
// KRW, USD)".
[[nodiscard]] absl::StatusOr<PolicyConfig> ForCurrency(
    const PolicyConfig& config, absl::string_view currency);

// Goodwill budgets of one currency, in its minor units.
struct GoodwillBudgets {
  // What one agent may grant per day.
  int64_t agent_daily_minor = 0;
  // What one member may receive over 30 days.
  int64_t member_30d_minor = 0;

  friend bool operator==(const GoodwillBudgets&,
                         const GoodwillBudgets&) = default;
};

// The goodwill budgets the policy sets for `currency`, or nullopt when it
// sets none (the server's flags then apply) or does not serve `currency`.
[[nodiscard]] std::optional<GoodwillBudgets> GoodwillBudgetsFor(
    const PolicyConfig& config, absl::string_view currency);

// The currency of callers that state none (e.g. the one-argument
// PolicyEngine::Trust): the one-market policy's currency, else the first
// market's.
[[nodiscard]] std::string PrimaryCurrency(const PolicyConfig& config);

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_MARKETS_H_
