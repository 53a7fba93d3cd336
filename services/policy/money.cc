#include "services/policy/money.h"

#include <cstdint>
#include <limits>
#include <string>

#include "absl/numeric/int128.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"

namespace makegood::policy {
namespace {

int MinorDigits(absl::string_view currency) {
  for (absl::string_view code :
       {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF",
        "UGX", "UYI", "VND", "VUV", "XAF", "XOF", "XPF"}) {
    if (currency == code) return 0;
  }
  for (absl::string_view code :
       {"BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"}) {
    if (currency == code) return 3;
  }
  return 2;
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

std::string FormatMoney(int64_t amount_minor, absl::string_view currency) {
  const int digits = MinorDigits(currency);
  const bool negative = amount_minor < 0;
  // Work in unsigned so that INT64_MIN formats too.
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(amount_minor)
                                : static_cast<uint64_t>(amount_minor);
  uint64_t scale = 1;
  for (int i = 0; i < digits; ++i) scale *= 10;
  std::string units = absl::StrCat(negative ? "-" : "", magnitude / scale);
  if (digits == 0) return absl::StrCat(units, " ", currency);
  return absl::StrFormat("%s.%0*d %s", units, digits, magnitude % scale,
                         currency);
}

}  // namespace makegood::policy
