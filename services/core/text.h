// File: services/core/text.h
//
// Checks for the identifier and code formats of the public API. Pure functions,
// no allocation; used by request validation and policy validation.
#pragma once

#include <cstddef>

#include "absl/strings/string_view.h"

namespace makegood {

// Longest id accepted for orders, members, lines, stores and couriers.
inline constexpr size_t kMaxIdLength = 128;

// True for 1..kMaxIdLength characters of [A-Za-z0-9._:@-]. Ids become part of
// Redis keys, so whitespace, braces and other separators are refused.
bool IsValidId(absl::string_view id);

// True for min..max characters, each printable ASCII (0x20..0x7E).
bool IsPrintableAscii(absl::string_view s, size_t min_length,
                      size_t max_length);

// True for 1..max_length characters of [a-z0-9_-] (tier names, categories,
// flags, policy names).
bool IsLowerToken(absl::string_view s, size_t max_length);

// True for three upper-case ASCII letters (the ISO 4217 format).
bool IsCurrencyCode(absl::string_view s);

}  // namespace makegood
