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
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/numeric/int128.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

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

// ICU formatters by "<currency>|<locale>". Building one loads the locale's
// and the currency's resources (about a tenth of a rating's server CPU when
// it was built per call); a LocalizedNumberFormatter is immutable and safe to
// share between threads. Locales come from requests, so the cache is bounded:
// past kMaxFormatters, formatters are built per call and not kept.
class FormatterCache {
 public:
  static constexpr size_t kMaxFormatters = 512;

  // The formatter for `currency` (an ISO code) in `locale`, with `digits`
  // fraction digits; nullptr if ICU refuses the currency.
  std::shared_ptr<const icu::number::LocalizedNumberFormatter> Get(
      absl::string_view currency, const std::array<UChar, 4>& code,
      absl::string_view locale, int digits) {
    const std::string key = absl::StrCat(currency, "|", locale);
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = formatters_.find(key); it != formatters_.end()) {
        return it->second;
      }
    }
    UErrorCode status = U_ZERO_ERROR;
    const icu::CurrencyUnit unit(code.data(), status);
    if (U_FAILURE(status)) return nullptr;
    auto formatter =
        std::make_shared<const icu::number::LocalizedNumberFormatter>(
            icu::number::NumberFormatter::withLocale(LocaleFor(locale))
                .unit(unit)
                .precision(icu::number::Precision::fixedFraction(digits)));
    absl::MutexLock lock(&mu_);
    if (formatters_.size() < kMaxFormatters) {
      formatters_.try_emplace(key, formatter);
    }
    return formatter;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<
      std::string, std::shared_ptr<const icu::number::LocalizedNumberFormatter>>
      formatters_ ABSL_GUARDED_BY(mu_);
};

FormatterCache& Formatters() {
  static FormatterCache* const cache = new FormatterCache();
  return *cache;
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
    const auto formatter = Formatters().Get(currency, code, locale, digits);
    if (formatter != nullptr) {
      UErrorCode status = U_ZERO_ERROR;
      const icu::number::FormattedNumber formatted = formatter->formatDecimal(
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
