// File: services/store/record_delivery_script.h
//
// The typed call of lua/record_delivery.lua, which records or corrects a
// delivered order in its member's partition and keeps the member's rolling
// counters in step: RecordDeliveryRequest becomes its KEYS and ARGV
// (BuildRecordDeliveryCall), its answer one RecordDeliveryReply
// (ParseRecordDeliveryReply). OrderStore (order_store.h) says what each
// answer means to a caller.
//
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "makegood/v1/order.pb.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"
#include "services/store/script_call.h"

namespace makegood::store {

struct RecordDeliveryRequest {
  std::string member_id;
  std::string order_id;
  std::string order_pb;  // makegood.v1.Order, deterministic bytes.
  // OrderStore::MoneyFingerprint: the fields frozen once money moved.
  std::string money_fingerprint;
  std::string currency;
  int64_t total_minor = 0;
  int64_t delivery_fee_minor = 0;
  int64_t delivered_at_ms = 0;
  absl::Time now;  // Business clock.
  std::vector<std::string> line_ids;
  std::string payment_reference;  // Card refunds are made against it.
  // The end of the order's rating window (delivered_at + the policy's rating
  // window in the order's currency): the order stays in the partition's open
  // orders (KeySchema::OpenOrdersKey) until then or until it is rated.
  int64_t rating_window_end_ms = 0;
  // How long a day of the retention windows lasts: a new order is a reorder
  // for the member's troubles (KeySchema::TroublesKey) within 7, 30 and 90.
  absl::Duration retention_day = absl::Hours(24);
};

// KEYS: the order hash, the member stats hash, the open orders, the member's
// troubles (one partition, the member's). ARGV as documented in
// lua/record_delivery.lua.
ScriptCall BuildRecordDeliveryCall(const KeySchema& keys,
                                   const RecordDeliveryRequest& request);

enum class RecordDeliveryAnswer {
  kWritten,         // CREATED, UPDATED or UNCHANGED: see `written`.
  kMemberMismatch,  // The order is recorded for another member.
  kMoneyLocked,     // Money fields changed after money moved on the order.
};

struct RecordDeliveryReply {
  RecordDeliveryAnswer answer = RecordDeliveryAnswer::kWritten;
  makegood::v1::WriteResult written = makegood::v1::WRITE_RESULT_UNSPECIFIED;
  // kMemberMismatch: the member it is recorded for ("" if none is stored).
  std::string stored_member_id;
};

// INTERNAL naming record_delivery when `reply` is not one of its answers.
absl::StatusOr<RecordDeliveryReply> ParseRecordDeliveryReply(
    const redis::RedisReply& reply);

}  // namespace makegood::store
