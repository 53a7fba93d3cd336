// File: services/rating/rating_ids.h
//
// Identities on the rating path, all derived from the idempotency scope
// (caller + method + member + key), so a retried request maps to the same
// record, rating and refund whichever server process handles it:
//
//   scope hash  hex SHA-256 of the scope; names the idempotency record
//   rating id   "rt_<partition>_<24 hex>"
//   refund id   "rf_<partition>_<24 hex>"; also the idempotency key sent to
//               payment providers, so a payout can never happen twice
//
// Ids carry their partition so GetRefund finds the record in one step.
#pragma once

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "makegood/v1/rating_service.pb.h"

namespace makegood::rating {

struct RatingIds {
  int partition = 0;
  std::string scope_hash;
  std::string rating_id;
  std::string refund_id;
};

RatingIds DeriveRatingIds(absl::string_view caller, absl::string_view method,
                          absl::string_view member_id,
                          absl::string_view idempotency_key, int partition);

// The partition of a refund id, if it is well-formed for `partitions`.
std::optional<int> RefundIdPartition(absl::string_view refund_id,
                                     int partitions);

// Hex SHA-256 over the business fields of a rating request, canonically
// encoded (reasons as a set, line ratings ordered by line id), so retries that
// differ only in field order or encoding still match, and any change of
// meaning does not. The idempotency key itself is not part of it.
std::string RequestFingerprint(
    const makegood::v1::SubmitRatingRequest& request);

// Hex SHA-256.
std::string Sha256Hex(absl::string_view data);

}  // namespace makegood::rating
