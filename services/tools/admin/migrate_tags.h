// File: services/tools/admin/migrate_tags.h
//
// makegood_admin migrate-tags: moves the keys of a schema version 1
// deployment (plain partition tags {p<N>}, agent tags {g<N>}) under the
// balanced tags of version 2 (store/key_schema.h, docs/ARCHITECTURE.md
// "Partition tags") with RENAMENX, which keeps values, TTLs and a stream's
// consumer groups, then records schema_version 2 in mg:meta, last. On a
// Redis Cluster the old and new tags sit in different slots, which RENAMENX
// refuses: there each key is copied with DUMP and RESTORE (which keep the
// same) and then deleted.
//
// Run it with every makegood server stopped. It can be run again after a
// crash: a renamed key no longer has a plain tag (on a cluster, a copy
// whose DEL did not happen holds the old key's exact value, and the old key
// is deleted then). A new key that exists already is not overwritten: the
// run then fails (FAILED_PRECONDITION naming it) and leaves schema_version
// at 1.
//
// Thread-safety: runs on the caller's thread.
#pragma once

#include <cstdint>

#include "absl/status/statusor.h"
#include "services/tools/admin/blocking_redis.h"

namespace makegood::admin {

struct MigrateTagsResult {
  int64_t renamed = 0;        // Keys moved by this run.
  bool already_done = false;  // mg:meta recorded the current version.
};

absl::StatusOr<MigrateTagsResult> MigrateTags(BlockingRedis& redis);

}  // namespace makegood::admin
