// File: services/store/attention_page_script.h
//
// The typed call of lua/attention_page.lua, the index half of one
// partition's page of refunds needing an operator, oldest first
// (BuildAttentionPageCall, ParseAttentionPageReply). The refunds it names
// are then read with read_hashes.lua (read_hashes.h).
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct AttentionPageRequest {
  int partition = 0;
  std::string cursor_ms;  // "-inf" for the first page.
  std::string cursor_id;  // "" for the first page.
  // Entries after the cursor; every entry at the cursor's score comes too,
  // and the caller drops (score, id) <= the cursor in byte order.
  int64_t count = 0;
};

// KEYS: the partition's attention index. ARGV as documented in
// lua/attention_page.lua.
ScriptCall BuildAttentionPageCall(const KeySchema& keys,
                                  const AttentionPageRequest& request);

struct AttentionPageReply {
  int64_t total = 0;  // Entries in the partition's index.
  // Refund id and the ms it was set aside, oldest first.
  std::vector<IndexEntry> entries;
};

// INTERNAL naming attention_page unless `reply` is {count, id, score, ...}.
absl::StatusOr<AttentionPageReply> ParseAttentionPageReply(
    const redis::RedisReply& reply);

}  // namespace makegood::store
