#include "tests/unit/goodwill/goodwill_model.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace makegood::goodwill {
namespace {

int64_t AmountOf(const std::string& reservation) {
  int64_t amount = 0;
  (void)absl::SimpleAtoi(reservation.substr(0, reservation.find(':')), &amount);
  return amount;
}

std::string HolderOf(const std::string& reservation) {
  return reservation.substr(reservation.find(':') + 1);
}

}  // namespace

GoodwillModel::GoodwillModel(testing::FakeRedis& redis) {
  redis.On("goodwill_agent", [this](const testing::FakeRedis::Call& call) {
    return Agent(call);
  });
  redis.On("grant_goodwill", [this](const testing::FakeRedis::Call& call) {
    return Grant(call);
  });
}

absl::StatusOr<redis::RedisReply> GoodwillModel::Agent(
    const testing::FakeRedis::Call& call) {
  absl::StatusOr<AgentBudgetRequest> r =
      AgentBudgetRequest::Parse(call.keys, call.args);
  if (!r.ok()) return r.status();
  // The day before currencies, read only: it counts in every currency.
  int64_t before = 0;
  if (!r->legacy_budget_key.empty()) {
    auto legacy = days.find(r->legacy_budget_key);
    if (legacy != days.end()) before = legacy->second.spent;
  }
  AgentDay& day = days[r->budget_key];
  auto held = day.reservations.find(r->grant_id);
  AgentBudgetReply reply;
  switch (r->operation) {
    case AgentBudgetRequest::kRelease:
      if (held == day.reservations.end() ||
          HolderOf(held->second) != r->token) {
        reply.outcome = AgentBudgetReply::kKept;
        break;
      }
      day.spent -= AmountOf(held->second);
      day.reservations.erase(held);
      reply.outcome = AgentBudgetReply::kReleased;
      break;
    case AgentBudgetRequest::kConfirm:
      if (held == day.reservations.end()) day.spent += r->amount;
      day.reservations[r->grant_id] = absl::StrCat(r->amount, ":granted");
      reply.outcome = AgentBudgetReply::kConfirmed;
      break;
    case AgentBudgetRequest::kReserve:
      if (held != day.reservations.end()) {
        reply.outcome = AgentBudgetReply::kHeld;
      } else if (before + day.spent + r->amount > r->daily_budget) {
        reply.outcome = AgentBudgetReply::kRefused;
      } else {
        day.reservations[r->grant_id] = absl::StrCat(r->amount, ":", r->token);
        day.spent += r->amount;
        reply.outcome = AgentBudgetReply::kNew;
      }
      break;
  }
  reply.spent = before + day.spent;
  // Nothing reserved: the script leaves no trace of the day.
  if (day.spent == 0 && day.reservations.empty()) days.erase(r->budget_key);
  return reply.ToReply();
}

absl::StatusOr<redis::RedisReply> GoodwillModel::Grant(
    const testing::FakeRedis::Call& call) {
  absl::StatusOr<GrantRequest> r = GrantRequest::Parse(call.keys, call.args);
  if (!r.ok()) return r.status();
  GrantReply reply;
  auto prior = grants.find(r->keys.refund);
  if (prior != grants.end()) {
    if (prior->second.request.fingerprint != r->fingerprint) {
      reply.outcome = GrantReply::kReused;
      return reply.ToReply();
    }
    reply.outcome = GrantReply::kReplay;
    reply.refund_bytes = prior->second.request.refund_bytes;
    reply.agent_remaining = prior->second.request.agent_remaining;
    reply.member_remaining = prior->second.member_remaining;
    reply.grant_day = prior->second.request.day;
    return reply.ToReply();
  }
  if (!members.contains(r->keys.member)) {
    reply.outcome = GrantReply::kNoMember;
    return reply.ToReply();
  }
  // The member's 30 days, per currency.
  int64_t& used_so_far =
      used[absl::StrCat(r->keys.member_stats, "|", r->currency)];
  if (used_so_far + r->amount > r->member_budget) {
    reply.outcome = GrantReply::kMemberBudget;
    reply.member_remaining = r->member_budget - used_so_far;
    return reply.ToReply();
  }
  if (!r->order_id.empty()) {
    auto order = orders.find(r->keys.order);
    if (order == orders.end()) {
      reply.outcome = GrantReply::kNoOrder;
      return reply.ToReply();
    }
    if (order->second.member_id != r->member_id) {
      reply.outcome = GrantReply::kNotOwner;
      return reply.ToReply();
    }
    if (r->instrument != "coupon") {
      if (order->second.refunded + r->amount > order->second.total) {
        reply.outcome = GrantReply::kCeiling;
        reply.refunded = order->second.refunded;
        reply.total = order->second.total;
        return reply.ToReply();
      }
      order->second.refunded += r->amount;
    }
  }
  reply.member_remaining = r->member_budget - used_so_far - r->amount;
  used_so_far += r->amount;
  grants[r->keys.refund] = Stored{*r, reply.member_remaining};
  reply.outcome = GrantReply::kOk;
  return reply.ToReply();
}

}  // namespace makegood::goodwill
