#include "services/policy/money.h"

#include <unicode/currunit.h>
#include <unicode/locid.h>
#include <unicode/numberformatter.h>
#include <unicode/ucurr.h>
#include <unicode/unistr.h>
#include <unicode/utypes.h>

#include <array>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace makegood::policy {
namespace {

// `currency` as ICU's NUL-terminated ISO code, or nullopt unless it is three
// upper-case ASCII letters.
bool ToIsoCode(absl::string_view currency, std::array<UChar, 4>& out) {
  if (currency.size() != 3) return false;
  for (size_t i = 0; i < 3; ++i) {
    if (!absl::ascii_isupper(currency[i])) return false;
    out[i] = static_cast<UChar>(currency[i]);
  }
  out[3] = 0;
  return true;
}

icu::Locale LocaleFor(absl::string_view locale) {
  UErrorCode status = U_ZERO_ERROR;
  icu::Locale parsed = icu::Locale::forLanguageTag(
      locale.empty() ? "en"
                     : icu::StringPiece(locale.data(),
                                        static_cast<int32_t>(locale.size())),
      status);
  return U_FAILURE(status) ? icu::Locale::getEnglish() : parsed;
}

// "-1234.50": the exact decimal value of `amount_minor` with `digits`
// decimals, for ICU's decimal formatting (no floating point).
std::string DecimalString(int64_t amount_minor, int digits) {
  const bool negative = amount_minor < 0;
  // Work in unsigned so that INT64_MIN formats too.
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(amount_minor)
                                      : static_cast<uint64_t>(amount_minor);
  uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  const std::string units =
      absl::StrCat(negative ? "-" : "", magnitude / scale);
  if (digits == 0) return units;
  return absl::StrFormat("%s.%0*d", units, digits, magnitude % scale);
}

}  // namespace

int64_t ScaleMinor(int64_t amount, int64_t numerator, int64_t denominator) {
  if (amount < 0 || numerator < 0 || denominator <= 0) return 0;
  const absl::int128 scaled =
      absl::int128(amount) * numerator / absl::int128(denominator);
  if (scaled > std::numeric_limits<int64_t>::max()) {
    return std::numeric_limits<int64_t>::max();
  }
  return static_cast<int64_t>(scaled);
}

bool IsIsoCurrency(absl::string_view currency) {
  std::array<UChar, 4> code;
  if (!ToIsoCode(currency, code)) return false;
  UErrorCode status = U_ZERO_ERROR;
  const UBool available =
      ucurr_isAvailable(code.data(), U_DATE_MIN, U_DATE_MAX, &status);
  return U_SUCCESS(status) && available;
}

int CurrencyExponent(absl::string_view currency) {
  std::array<UChar, 4> code;
  if (!ToIsoCode(currency, code)) return 2;
  UErrorCode status = U_ZERO_ERROR;
  const int32_t digits = ucurr_getDefaultFractionDigits(code.data(), &status);
  return U_FAILURE(status) ? 2 : digits;
}

bool IsLocaleTag(absl::string_view locale) {
  if (locale.empty()) return true;
  UErrorCode status = U_ZERO_ERROR;
  const icu::Locale parsed = icu::Locale::forLanguageTag(
      icu::StringPiece(locale.data(), static_cast<int32_t>(locale.size())),
      status);
  return U_SUCCESS(status) && !parsed.isBogus() &&
         parsed.getLanguage()[0] != '\0';
}

std::string FormatMoney(int64_t amount_minor, absl::string_view currency,
                        absl::string_view locale) {
  const int digits = CurrencyExponent(currency);
  const std::string decimal = DecimalString(amount_minor, digits);
  std::array<UChar, 4> code;
  if (ToIsoCode(currency, code)) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::CurrencyUnit unit(code.data(), status);
    if (U_SUCCESS(status)) {
      const icu::number::FormattedNumber formatted =
          icu::number::NumberFormatter::withLocale(LocaleFor(locale))
              .unit(unit)
              .precision(icu::number::Precision::fixedFraction(digits))
              .formatDecimal(
                  icu::StringPiece(decimal.data(),
                                   static_cast<int32_t>(decimal.size())),
                  status);
      std::string out;
      if (U_SUCCESS(status)) {
        formatted.toString(status).toUTF8String(out);
      }
      if (U_SUCCESS(status) && !out.empty()) {
        // U+00A0 (no-break space) and U+202F (narrow no-break space).
        return absl::StrReplaceAll(out,
                                   {{"\xC2\xA0", " "}, {"\xE2\x80\xAF", " "}});
      }
    }
  }
  return absl::StrCat(decimal, " ", currency);
}

std::string FormatMoney(int64_t amount_minor, absl::string_view currency) {
  return FormatMoney(amount_minor, currency, "en");
}

}  // namespace makegood::policy
