// File: services/api/validation.h
//
// Validation of public API requests: pure functions of the request, the
// active policy and the current time. Each adds one FieldViolation per bad
// field, with the field's path in the request (e.g.
// "order.lines[2].amount_minor"), so a caller can fix everything at once.
#pragma once

#include <cstdint>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/errors/errors.h"
#include "services/policy_file/policy_document.h"

namespace makegood::api {

// Largest amount accepted anywhere, in minor units (10^12: ten billion units
// of a two-decimal currency). Keeps every sum exact in Redis Lua's doubles.
inline constexpr int64_t kMaxAmountMinor = 1'000'000'000'000;
inline constexpr int kMaxOrderLines = 500;
inline constexpr int kMaxQuantity = 10'000;
inline constexpr int kMaxMemberFlags = 32;
// Clocks differ between the caller and us; times this far ahead are accepted.
inline constexpr absl::Duration kMaxClockSkew = absl::Minutes(5);

// Checks an ISO 4217 code field: three upper-case letters.
void ValidateCurrency(absl::string_view field, absl::string_view value,
                      Violations& violations);

// Checks an id field (order, member, store, courier, line ids).
void ValidateId(absl::string_view field, absl::string_view value,
                Violations& violations);

// Checks an Order at path `field` (e.g. "order").
void ValidateOrder(absl::string_view field, const makegood::v1::Order& order,
                   absl::Time now, Violations& violations);

// Checks a Member at path `field`; its tier must be defined by `policy`.
void ValidateMember(absl::string_view field, const makegood::v1::Member& member,
                    const policy_file::PolicySnapshot& policy, absl::Time now,
                    Violations& violations);

inline constexpr size_t kMaxIdempotencyKeyLength = 255;
inline constexpr int kMaxCommentCharacters = 2000;

// Checks a SubmitRatingRequest: key 1-255 printable ASCII, ids, satisfaction
// 0-100, known reasons without repeats, line ratings naming distinct lines
// (whether they are lines of the order is checked against the stored order),
// comment length.
void ValidateSubmitRating(const makegood::v1::SubmitRatingRequest& request,
                          Violations& violations);

}  // namespace makegood::api
