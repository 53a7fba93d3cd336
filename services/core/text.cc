#include "services/core/text.h"

#include "absl/strings/ascii.h"

namespace makegood {

bool IsValidId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(c) && c != '.' && c != '_' && c != ':' &&
        c != '@' && c != '-') {
      return false;
    }
  }
  return true;
}

bool IsPrintableAscii(absl::string_view s, size_t min_length,
                      size_t max_length) {
  if (s.size() < min_length || s.size() > max_length) return false;
  for (char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

bool IsLowerToken(absl::string_view s, size_t max_length) {
  if (s.empty() || s.size() > max_length) return false;
  for (char c : s) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '_' &&
        c != '-') {
      return false;
    }
  }
  return true;
}

bool IsCurrencyCode(absl::string_view s) {
  if (s.size() != 3) return false;
  for (char c : s) {
    if (!absl::ascii_isupper(c)) return false;
  }
  return true;
}

}  // namespace makegood
