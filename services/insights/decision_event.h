// File: services/insights/decision_event.h
//
// The decision events InsightsService is fed from, and what each one adds to
// the figures of a store, a courier and the SKUs it names.
//
// commit_rating.lua appends one entry per committed rating to its partition's
// stream (KeySchema::DecisionsKey), with the fields the rating side writes in
// rating/decision_event_fields.cc; both sides take the field names from
// store/decision_event_schema.h (tests/unit/rating checks that what it
// writes parses here):
//   rating_id, at_ms (business time of the rating, unix ms), satisfaction
//   (0-100, overall), outcome, refund_minor (money refunded or credited by
//   this decision; coupons excluded), currency, store_id, courier_id (may be
//   empty), lines (L), items (the L lines, each its sku, satisfaction and
//   share of refund_minor; events written before items carry line i in
//   sku.<i>, sat.<i> and refund.<i>, and are still read).
// ParseDecisionEvent checks every field it uses; ContributionsOf turns an
// event into one Contribution per subject:
//   - the store and the courier (if any) each get one rating with the
//     overall satisfaction, refunded when refund_minor > 0;
//   - every line gets one rating of its SKU with the line's satisfaction,
//     refunded when its own share refund.<i> > 0 (so a SKU's money and its
//     refund rate agree). Two lines of one SKU are two ratings of it.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/redis_reply.h"

namespace makegood::insights {

// What figures are about. The names are part of the Redis key schema.
enum class Dimension { kStore, kCourier, kSku };

// "store", "courier" or "sku".
absl::string_view DimensionName(Dimension dimension);

// Lines beyond this make an event malformed (orders have at most 500).
inline constexpr int kMaxEventLines = 1000;

struct DecisionLine {
  std::string sku;
  int satisfaction = 0;
  int64_t refund_minor = 0;
};

struct DecisionEvent {
  std::string rating_id;
  int64_t at_ms = 0;
  int satisfaction = 0;
  std::string outcome;
  int64_t refund_minor = 0;
  std::string currency;
  std::string store_id;
  std::string courier_id;
  std::vector<DecisionLine> lines;
};

// Parses the field/value array of a stream entry ([k, v, k, v, ...]).
// INVALID_ARGUMENT naming the first missing or bad field: a malformed event
// is acknowledged without being counted, never retried.
absl::StatusOr<DecisionEvent> ParseDecisionEvent(
    const redis::RedisReply& fields);

// What one event adds to one subject's figures.
struct Contribution {
  Dimension dimension = Dimension::kStore;
  std::string subject;
  int satisfaction = 0;
  bool refunded = false;
  int64_t refund_minor = 0;  // In the event's currency.
};

// The store first, then the courier (if any), then one per line with a SKU.
std::vector<Contribution> ContributionsOf(const DecisionEvent& event);

}  // namespace makegood::insights
