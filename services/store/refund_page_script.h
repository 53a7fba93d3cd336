// File: services/store/refund_page_script.h
//
// The typed call of lua/refund_page.lua, the index half of one page of a
// member's or an order's refunds, newest first (BuildRefundPageCall,
// ParseRefundPageReply). The refunds it names are then read with
// read_hashes.lua (read_hashes.h).
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

// Which refund index a page is of.
enum class RefundIndex {
  kMember,  // KeySchema::MemberRefundsKey.
  kOrder,   // KeySchema::OrderRefundsKey.
};

struct RefundPageRequest {
  int partition = 0;  // The member's (for an order: its owner's).
  RefundIndex index = RefundIndex::kMember;
  std::string owner_id;      // The member id or the order id.
  std::string cursor_score;  // "+inf" for the first page.
  std::string cursor_id;     // "" for the first page.
  int64_t page_size = 0;     // The script answers up to page_size + 64.
};

// KEYS: the index. ARGV as documented in lua/refund_page.lua.
ScriptCall BuildRefundPageCall(const KeySchema& keys,
                               const RefundPageRequest& request);

// The refund ids after the cursor with their creation ms, newest first.
using RefundPageReply = std::vector<IndexEntry>;

// INTERNAL naming refund_page unless `reply` is {id, score, ...}.
absl::StatusOr<RefundPageReply> ParseRefundPageReply(
    const redis::RedisReply& reply);

}  // namespace makegood::store
