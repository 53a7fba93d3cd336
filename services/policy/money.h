// Integer money arithmetic and formatting shared by the policy engine.
//
// Amounts are int64 minor units (cents for EUR). Scaling rounds down, so a
// computed refund never exceeds its exact value.
#ifndef MAKEGOOD_SERVICES_POLICY_MONEY_H_
#define MAKEGOOD_SERVICES_POLICY_MONEY_H_

#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace makegood::policy {

// floor(amount * numerator / denominator) without intermediate overflow,
// saturated to [0, INT64_MAX]. Requires amount >= 0, numerator >= 0 and
// denominator > 0; returns 0 otherwise.
[[nodiscard]] int64_t ScaleMinor(int64_t amount, int64_t numerator,
                                 int64_t denominator);

// "4.50 EUR", "450 JPY": minor units shown with the currency's decimals
// (ISO 4217; 2 unless the code is known to use 0 or 3).
[[nodiscard]] std::string FormatMoney(int64_t amount_minor,
                                      absl::string_view currency);

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_MONEY_H_
