// Integer money arithmetic and formatting shared by the policy engine.
//
// Amounts are int64 minor units (cents for EUR, won for KRW). Scaling rounds
// down, so a computed refund never exceeds its exact value. Currencies'
// exponents, symbols and locale conventions come from ICU.
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

// Whether `currency` is an ISO 4217 code ICU knows (three upper-case
// letters, legal tender at some time), e.g. "KRW"; "XYZ" and "eur" are not.
[[nodiscard]] bool IsIsoCurrency(absl::string_view currency);

// The currency's ISO 4217 exponent (digits after the decimal point) from
// ICU: 0 for KRW, 2 for EUR, 3 for KWD; 2 for a code ICU does not know.
[[nodiscard]] int CurrencyExponent(absl::string_view currency);

// Whether ICU accepts `locale` as a BCP 47 tag ("ko-KR", "en-150"); the
// empty string is accepted and means "en".
[[nodiscard]] bool IsLocaleTag(absl::string_view locale);

// Minor units formatted by ICU for `locale` (BCP 47; empty means "en"):
// FormatMoney(8000, "KRW", "ko-KR") == "₩8,000", (4500, "CNY", "zh-CN") ==
// "¥45.00", (1200, "USD", "en-US") == "$12.00", (1200, "EUR", "en-IE") ==
// "€12.00", (1250, "KWD", "en") == "KWD 1.250". Non-breaking and narrow
// spaces ICU inserts are plain spaces, so the text is stable to compare.
[[nodiscard]] std::string FormatMoney(int64_t amount_minor,
                                      absl::string_view currency,
                                      absl::string_view locale);

// FormatMoney(amount_minor, currency, "en").
[[nodiscard]] std::string FormatMoney(int64_t amount_minor,
                                      absl::string_view currency);

}  // namespace makegood::policy

#endif  // MAKEGOOD_SERVICES_POLICY_MONEY_H_
