// File: services/tools/admin/refund_record.h
//
// A refund as the admin tool reads it (one HMGET of its hash), the refund
// keys a SCAN page holds, and helpers over raw Redis replies.
//
// Thread-safety: values and pure functions; MemberIds uses the caller's
// BlockingRedis.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "services/redis/redis_reply.h"
#include "services/settlement/provider.h"
#include "services/tools/admin/blocking_redis.h"

namespace makegood::admin {

// The consumer group of the settlement workers (WorkerOptions::group).
inline constexpr char kGroup[] = "settlement";

// A flat [field, value, ...] reply (HGETALL, a stream entry) as a map.
std::map<std::string, std::string> Fields(const redis::RedisReply& flat);
// A field of an HMGET reply: nullopt when absent.
std::optional<std::string> At(const redis::RedisReply& hmget, size_t i);
std::optional<int64_t> Int(const std::optional<std::string>& text);

Argv Hmget(const std::string& key, const std::vector<std::string>& fields);

// The refund hash fields the tools read, in HMGET order.
const std::vector<std::string>& RefundFields();

struct Refund {
  std::string id;
  std::string key;
  int partition = 0;
  std::optional<std::string> state;
  std::optional<int64_t> amount;
  std::string currency, instrument, member_id, order_id, provider, provider_ref,
      payment_ref, state_reason;
  int64_t updated_at_ms = 0;
  std::optional<int64_t> seq;

  // `hmget` answers HMGET `key` RefundFields().
  static Refund From(const std::string& key, int partition,
                     const std::string& id, const redis::RedisReply& hmget);

  // What a provider's Lookup is asked about this refund.
  settlement::PayoutRequest Request() const;
};

// A refund record's key found by SCAN, with its partition and refund id.
struct FoundRefund {
  std::string key;
  int partition = 0;
  std::string id;
};

// The refund records among `keys` (one SCAN page) in partitions below
// `partitions`; other keys (a refund's events, ...) are left out.
std::vector<FoundRefund> FindRefunds(const std::vector<std::string>& keys,
                                     int partitions);

// Reads the member id of each refund key (it never changes once written),
// which names the wallet key a snapshot then reads.
absl::StatusOr<std::vector<std::string>> MemberIds(
    BlockingRedis& redis, const std::vector<std::string>& refund_keys);

}  // namespace makegood::admin
