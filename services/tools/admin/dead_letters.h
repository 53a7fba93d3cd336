// File: services/tools/admin/dead_letters.h
//
// makegood_admin dead-letters: every partition's dead-letter entries (outbox
// entries past their deliveries), one JSON line each on stdout.
//
// Thread-safety: runs on the caller's thread.
#pragma once

#include "absl/status/status.h"
#include "services/store/key_schema.h"
#include "services/tools/admin/blocking_redis.h"

namespace makegood::admin {

absl::Status ListDeadLetters(BlockingRedis& redis,
                             const store::KeySchema& keys);

}  // namespace makegood::admin
