// File: services/store/member_store.h
//
// Member profiles in Redis (see key_schema.h).
//
// Thread-safety: thread-safe; callbacks run on the Redis I/O thread.
#pragma once

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "makegood/v1/member.pb.h"
#include "makegood/v1/order.pb.h"
#include "services/core/clock.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::store {

class MemberStore {
 public:
  // Does not take ownership; all three must outlive the store.
  MemberStore(redis::RedisClient& redis, const KeySchema& keys,
              const Clock& clock)
      : redis_(redis), keys_(keys), clock_(clock) {}

  // Creates or replaces a validated member: CREATED, UPDATED or UNCHANGED.
  // UNAVAILABLE if Redis is unreachable (retrying is safe).
  void UpsertMember(
      const makegood::v1::Member& member,
      absl::AnyInvocable<void(absl::StatusOr<makegood::v1::WriteResult>)> done);

  // NOT_FOUND if the member was never upserted.
  void GetMember(
      std::string member_id,
      absl::AnyInvocable<void(absl::StatusOr<makegood::v1::Member>)> done);

 private:
  redis::RedisClient& redis_;
  const KeySchema& keys_;
  const Clock& clock_;
};

}  // namespace makegood::store
