// File: services/tools/admin/attention.h
//
// makegood_admin attention and redrive: the NEEDS_ATTENTION refunds
// operators act on. Both go through the server's own RefundStore code (the
// attention index as RefundService.ListRefundsNeedingAttention reads it,
// redrive_refund.lua as RefundService.RedriveRefund runs it).
//
// Thread-safety: runs on the caller's thread.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/store/key_schema.h"
#include "services/store/refund_store.h"
#include "services/tools/admin/blocking_redis.h"
#include "services/tools/admin/options.h"

namespace makegood::admin {

// Lists the NEEDS_ATTENTION refunds, oldest first (at most --limit), one
// JSON line each and a summary; whether there are any.
absl::StatusOr<bool> ListAttention(BlockingRedis& redis,
                                   const store::KeySchema& keys,
                                   const Options& options);

// Re-drives --refund_id as operator:<--operator>; the exit code (kOk
// re-driven or already in settlement, kFound refused, kError).
int Redrive(BlockingRedis& redis, const store::KeySchema& keys,
            const Options& options);

// Sends one refund of `partition` back to settlement, waited for.
absl::StatusOr<store::RefundStore::RedriveOutcome> RedriveSync(
    BlockingRedis& redis, const store::KeySchema& keys, int partition,
    const std::string& refund_id, const std::string& actor,
    const std::string& reason);

// The partition named in a refund id "rf_<partition>_<24 hex>" (the format
// of rating/rating_ids.h), if well-formed for `partitions`.
std::optional<int> RefundIdPartition(absl::string_view id, int partitions);

}  // namespace makegood::admin
