// File: services/goodwill/goodwill_agent_script.h
//
// The typed call of lua/goodwill_agent.lua, a support agent's goodwill budget
// of one day: AgentBudgetRequest builds its KEYS and ARGV, and
// ParseAgentBudgetReply reads its answer. The script's positions are known
// here and nowhere else; Parse and ToReply, their inverses, let fakes in
// tests answer as the script would.
//
// Example:
//   AgentBudgetRequest reserve{.operation = AgentBudgetRequest::kReserve,
//                              .budget_key = keys.AgentBudgetKey(agent, day),
//                              .grant_id = refund_id, ...};
//   redis.Eval(scripts::kGoodwillAgent, reserve.Keys(), reserve.Args(), ...);
//   absl::StatusOr<AgentBudgetReply> reply = ParseAgentBudgetReply(*answer);
//
// Thread-safety: plain values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/redis/redis_reply.h"

namespace makegood::goodwill {

struct AgentBudgetRequest {
  enum Operation {
    kReserve,  // Before the grant; idempotent per grant.
    kRelease,  // After a refusal: only the holder's, never a confirmed one.
    kConfirm,  // After a committed or replayed grant.
  };

  Operation operation = kReserve;
  // KeySchema::AgentBudgetKey(agent, currency, day).
  std::string budget_key;
  // KeySchema::AgentBudgetKey(agent, day), the day's budget before
  // currencies, counted in every currency; "" for none.
  std::string legacy_budget_key;
  std::string grant_id;  // The grant's refund id.
  int64_t amount = 0;
  int64_t daily_budget = 0;
  absl::Duration ttl = absl::Hours(48);  // Of the day's budget key.
  std::string token;                     // Names this request's reservation.

  std::vector<std::string> Keys() const;
  std::vector<std::string> Args() const;

  // The request whose Keys() and Args() these are; INVALID_ARGUMENT if they
  // are not a call of goodwill_agent.lua.
  static absl::StatusOr<AgentBudgetRequest> Parse(
      const std::vector<std::string>& keys,
      const std::vector<std::string>& args);
};

absl::string_view OperationName(AgentBudgetRequest::Operation operation);

struct AgentBudgetReply {
  enum Outcome {
    kNew,        // reserve: reserved now.
    kHeld,       // reserve: already reserved for this grant.
    kRefused,    // reserve: the day's budget has no room for it.
    kReleased,   // release: given back.
    kKept,       // release: not this request's, or already the grant's.
    kConfirmed,  // confirm: the grant's for good.
  };

  Outcome outcome = kNew;
  int64_t spent = 0;  // The day's reservations after the call.

  // The reply as the script answers it.
  redis::RedisReply ToReply() const;
};

// INTERNAL naming goodwill_agent when `reply` is not one of its answers.
absl::StatusOr<AgentBudgetReply> ParseAgentBudgetReply(
    const redis::RedisReply& reply);

}  // namespace makegood::goodwill
