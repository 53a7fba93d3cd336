// File: tests/unit/goodwill/goodwill_model.h
//
// goodwill_agent.lua and grant_goodwill.lua as an in-memory model behind
// testing::FakeRedis: each call is read with the scripts' typed requests and
// answered with their typed replies, and changes the state the real scripts
// change (the agent's day: spent and reservations; the grants; the member's
// budget; the order's refunded total). Faults injected with FakeRedis act on
// it as on Redis: kLoseReply changes the model and loses the answer. The
// integration tests (tests/integration/goodwill_test.cc) hold the scripts
// themselves to the same behaviour against a real redis-server.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "absl/status/statusor.h"
#include "services/goodwill/goodwill_agent_script.h"
#include "services/goodwill/grant_goodwill_script.h"
#include "services/redis/redis_reply.h"
#include "tests/testing/fake_redis.h"

namespace makegood::goodwill {

class GoodwillModel {
 public:
  // The agent's budget of one day (one AgentBudgetKey).
  struct AgentDay {
    int64_t spent = 0;
    // Grant id -> "<amount>:<token>", or "<amount>:granted" once confirmed.
    std::map<std::string, std::string> reservations;
  };
  struct Order {
    std::string member_id;
    int64_t total = 0;
    int64_t refunded = 0;
  };
  // A grant as stored on its refund record.
  struct Stored {
    GrantRequest request;
    int64_t member_remaining = 0;
  };

  // Answers the two scripts' calls on `redis` from now on.
  explicit GoodwillModel(testing::FakeRedis& redis);

  absl::StatusOr<redis::RedisReply> Agent(const testing::FakeRedis::Call& call);
  absl::StatusOr<redis::RedisReply> Grant(const testing::FakeRedis::Call& call);

  // State, by key (KeySchema), for tests to set up and inspect. Not
  // synchronised: the tests' calls run inline on one thread.
  std::map<std::string, AgentDay> days;  // AgentBudgetKey.
  std::set<std::string> members;         // MemberKey.
  std::map<std::string, Order> orders;   // OrderKey.
  // MemberStatsKey + "|" + currency: 30 days' goodwill in that currency.
  std::map<std::string, int64_t> used;
  std::map<std::string, Stored> grants;  // RefundKey.
};

}  // namespace makegood::goodwill
