// File: services/tools/admin/money_check.h
//
// makegood_admin check: verifies the money invariants of every partition
// (see main.cc for what each check proves) and reports, besides violations,
// stale and NEEDS_ATTENTION refunds and the outbox per partition. Each
// object is read in one MULTI/EXEC block, so a worker settling meanwhile
// never shows up as a false violation.
//
// Thread-safety: runs on the caller's thread.
#pragma once

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "services/store/key_schema.h"
#include "services/tools/admin/blocking_redis.h"
#include "services/tools/admin/options.h"
#include "services/tools/admin/providers.h"

namespace makegood::admin {

struct MoneyCheckResult {
  bool clean = false;             // No violations.
  nlohmann::ordered_json report;  // The JSON report check prints.
};

// An error when Redis could not be read (nothing can be concluded).
absl::StatusOr<MoneyCheckResult> CheckMoney(BlockingRedis& redis,
                                            const store::KeySchema& keys,
                                            const Options& options,
                                            const Providers& providers);

}  // namespace makegood::admin
