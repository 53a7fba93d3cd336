// File: services/store/decision_event_schema.h
//
// The field names of a decision event, the stream entry commit_rating.lua
// appends per committed rating (KeySchema::DecisionsKey). Written once here
// because two libraries that must not depend on each other share them: the
// writer, rating/decision_event_fields.h, and the reader,
// insights/decision_event.h (which says what each field holds).
//
// Header only; constants and pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"

namespace makegood::store::decision_event {

inline constexpr char kRatingId[] = "rating_id";
inline constexpr char kAtMs[] = "at_ms";
inline constexpr char kSatisfaction[] = "satisfaction";
inline constexpr char kOutcome[] = "outcome";
inline constexpr char kRefundMinor[] = "refund_minor";
inline constexpr char kCurrency[] = "currency";
inline constexpr char kStoreId[] = "store_id";
inline constexpr char kCourierId[] = "courier_id";
inline constexpr char kLines[] = "lines";  // L, the count of lines below.

// The lines, in one field: per line "<sku>\t<sat>\t<refund>", lines joined
// by "\n" (SKUs are printable ASCII: api/validation.cc). One field instead of
// three per line keeps every event's field names the same, which Redis
// stores once per stream node, and the commit script's arguments few.
inline constexpr char kItems[] = "items";
inline constexpr char kItemSeparator = '\t';
inline constexpr char kLineSeparator = '\n';

// Events written before "items" carry each line in three fields of its own:
// per line i in [0, L): "sku.<i>", "sat.<i>", "refund.<i>". Still read.
inline std::string LineSku(int64_t i) { return absl::StrCat("sku.", i); }
inline std::string LineSatisfaction(int64_t i) {
  return absl::StrCat("sat.", i);
}
inline std::string LineRefund(int64_t i) { return absl::StrCat("refund.", i); }

}  // namespace makegood::store::decision_event
