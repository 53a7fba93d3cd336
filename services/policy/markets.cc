#include "services/policy/markets.h"

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace makegood::policy {
namespace {

const MarketConfig* FindMarket(const PolicyConfig& config,
                               absl::string_view currency) {
  for (const MarketConfig& market : config.markets) {
    if (market.currency == currency) return &market;
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> ServedCurrencies(const PolicyConfig& config) {
  if (config.markets.empty()) return {config.currency};
  std::vector<std::string> currencies;
  currencies.reserve(config.markets.size());
  for (const MarketConfig& market : config.markets) {
    currencies.push_back(market.currency);
  }
  std::sort(currencies.begin(), currencies.end());
  currencies.erase(std::unique(currencies.begin(), currencies.end()),
                   currencies.end());
  return currencies;
}

bool Serves(const PolicyConfig& config, absl::string_view currency) {
  if (config.markets.empty()) return config.currency == currency;
  return FindMarket(config, currency) != nullptr;
}

absl::StatusOr<PolicyConfig> ForCurrency(const PolicyConfig& config,
                                         absl::string_view currency) {
  if (!Serves(config, currency)) {
    return absl::FailedPreconditionError(
        absl::StrCat("the policy does not serve ", currency, " (it serves ",
                     absl::StrJoin(ServedCurrencies(config), ", "), ")"));
  }
  if (config.markets.empty()) return config;
  const MarketConfig& market = *FindMarket(config, currency);
  PolicyConfig view = config;
  view.markets.clear();
  view.currency = market.currency;
  view.locale = market.locale;
  view.trust.refund_money_step_minor = market.refund_money_step_minor;
  view.excluded_coupon_minor = market.excluded_coupon_minor;
  for (TierConfig& tier : view.tiers) {
    for (const TierMoneyConfig& money : market.tiers) {
      if (money.tier != tier.name) continue;
      tier.max_refund_per_order_minor = money.max_refund_per_order_minor;
      tier.max_refund_per_period_minor = money.max_refund_per_period_minor;
      tier.instant_budget = money.instant_budget;
      break;
    }
  }
  for (ReasonRule& rule : view.reason_rules) {
    if (rule.effect != RuleEffect::kCoupon) continue;
    for (const CouponValueConfig& coupon : market.coupons) {
      if (coupon.reason == rule.reason) rule.coupon_minor = coupon.coupon_minor;
    }
  }
  return view;
}

std::optional<GoodwillBudgets> GoodwillBudgetsFor(const PolicyConfig& config,
                                                  absl::string_view currency) {
  const MarketConfig* market = FindMarket(config, currency);
  if (market == nullptr || !market->goodwill.has_value()) return std::nullopt;
  return GoodwillBudgets{
      .agent_daily_minor = market->goodwill->agent_daily_minor,
      .member_30d_minor = market->goodwill->member_30d_minor};
}

// The currency a caller that states none is answered in.
std::string PrimaryCurrency(const PolicyConfig& config) {
  return config.markets.empty() ? config.currency
                                : config.markets.front().currency;
}

}  // namespace makegood::policy
