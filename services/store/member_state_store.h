// File: services/store/member_state_store.h
//
// Reads what the policy engine needs to know about a member outside a rating
// (GetTrust): the profile and the stats hash (see key_schema.h and
// rating/snapshot.h), in one script so the two are read at one instant and
// in one round trip. The raw replies are returned; rating::MemberFromStored
// turns them into the engine's MemberSnapshot exactly as SubmitRating does.
//
// Thread-safety: thread-safe; callbacks run on the Redis I/O thread.
#pragma once

#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_reply.h"
#include "services/store/key_schema.h"

namespace makegood::store {

struct MemberState {
  // The member hash's "pb" field (a makegood.v1.Member); never nil.
  redis::RedisReply member_pb;
  // The stats hash as a flat HGETALL array (empty: never rated).
  redis::RedisReply stats;
};

class MemberStateStore {
 public:
  // Does not take ownership; both must outlive the store.
  MemberStateStore(redis::RedisClient& redis, const KeySchema& keys)
      : redis_(redis), keys_(keys) {}

  // NOT_FOUND if the member was never upserted; UNAVAILABLE if Redis is
  // unreachable; INTERNAL on a reply of the wrong shape.
  void Read(std::string member_id,
            absl::AnyInvocable<void(absl::StatusOr<MemberState>)> done);

 private:
  redis::RedisClient& redis_;
  const KeySchema& keys_;
};

}  // namespace makegood::store
