// File: services/tools/admin/reconcile.h
//
// makegood_admin reconcile: for refunds SETTLING or NEEDS_ATTENTION, asks
// their provider what happened (Lookup: the provider code the worker uses)
// and prints the finding per refund, one JSON line each, then a summary.
// With --fix a found outcome is recorded through settle_finish.lua, as the
// worker would, and a NEEDS_ATTENTION refund the provider never saw (or that
// was never sent) is re-driven. An unknown answer is never guessed.
//
// Thread-safety: runs on the caller's thread.
#pragma once

#include "absl/status/statusor.h"
#include "services/store/key_schema.h"
#include "services/tools/admin/blocking_redis.h"
#include "services/tools/admin/options.h"
#include "services/tools/admin/providers.h"

namespace makegood::admin {

// Whether any refund is left for an operator; an error when Redis could not
// be read.
absl::StatusOr<bool> Reconcile(BlockingRedis& redis,
                               const store::KeySchema& keys,
                               const Options& options,
                               const Providers& providers);

}  // namespace makegood::admin
