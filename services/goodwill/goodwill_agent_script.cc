#include "services/goodwill/goodwill_agent_script.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace makegood::goodwill {
namespace {

// KEYS[1] the agent's day, KEYS[2] (optional) its day before currencies;
// ARGV as goodwill_agent.lua documents them.
enum Arg { kOperation, kGrantId, kAmount, kDailyBudget, kTtlMs, kToken, kArgs };

constexpr std::array<std::pair<AgentBudgetRequest::Operation, const char*>, 3>
    kOperations = {{{AgentBudgetRequest::kReserve, "reserve"},
                    {AgentBudgetRequest::kRelease, "release"},
                    {AgentBudgetRequest::kConfirm, "confirm"}}};

constexpr std::array<std::pair<AgentBudgetReply::Outcome, const char*>, 6>
    kOutcomes = {{{AgentBudgetReply::kNew, "NEW"},
                  {AgentBudgetReply::kHeld, "HELD"},
                  {AgentBudgetReply::kRefused, "REFUSED"},
                  {AgentBudgetReply::kReleased, "RELEASED"},
                  {AgentBudgetReply::kKept, "KEPT"},
                  {AgentBudgetReply::kConfirmed, "CONFIRMED"}}};

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(
      absl::StrCat("goodwill_agent answered malformed: ", what));
}

}  // namespace

absl::string_view OperationName(AgentBudgetRequest::Operation operation) {
  for (const auto& [op, name] : kOperations) {
    if (op == operation) return name;
  }
  return "?";
}

std::vector<std::string> AgentBudgetRequest::Keys() const {
  if (legacy_budget_key.empty()) return {budget_key};
  return {budget_key, legacy_budget_key};
}

std::vector<std::string> AgentBudgetRequest::Args() const {
  std::vector<std::string> args(kArgs);
  args[kOperation] = std::string(OperationName(operation));
  args[kGrantId] = grant_id;
  args[kAmount] = absl::StrCat(amount);
  args[kDailyBudget] = absl::StrCat(daily_budget);
  args[kTtlMs] = absl::StrCat(absl::ToInt64Milliseconds(ttl));
  args[kToken] = token;
  return args;
}

absl::StatusOr<AgentBudgetRequest> AgentBudgetRequest::Parse(
    const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  if (keys.empty() || keys.size() > 2 || args.size() != kArgs) {
    return absl::InvalidArgumentError(
        absl::StrCat("goodwill_agent takes 1 or 2 keys and ", kArgs,
                     " args, got ", keys.size(), " and ", args.size()));
  }
  AgentBudgetRequest r;
  bool known = false;
  for (const auto& [op, name] : kOperations) {
    if (args[kOperation] == name) {
      r.operation = op;
      known = true;
    }
  }
  int64_t ttl_ms = 0;
  if (!known || !absl::SimpleAtoi(args[kAmount], &r.amount) ||
      !absl::SimpleAtoi(args[kDailyBudget], &r.daily_budget) ||
      !absl::SimpleAtoi(args[kTtlMs], &ttl_ms)) {
    return absl::InvalidArgumentError("goodwill_agent: malformed args");
  }
  r.budget_key = keys[0];
  if (keys.size() == 2) r.legacy_budget_key = keys[1];
  r.grant_id = args[kGrantId];
  r.ttl = absl::Milliseconds(ttl_ms);
  r.token = args[kToken];
  return r;
}

redis::RedisReply AgentBudgetReply::ToReply() const {
  const char* tag = "?";
  for (const auto& [o, name] : kOutcomes) {
    if (o == outcome) tag = name;
  }
  return redis::RedisReply::Array(
      {redis::RedisReply::String(tag),
       redis::RedisReply::String(absl::StrCat(spent))});
}

// {tag, spent}
absl::StatusOr<AgentBudgetReply> ParseAgentBudgetReply(
    const redis::RedisReply& reply) {
  auto elements = redis::ReplyArray(reply, 2, "goodwill_agent");
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  AgentBudgetReply out;
  bool known = false;
  for (const auto& [outcome, name] : kOutcomes) {
    if (e[0].is_text() && e[0].str == name) {
      out.outcome = outcome;
      known = true;
    }
  }
  if (!known) return Malformed(absl::StrCat("tag ", e[0].str));
  if (!e[1].is_text() || !absl::SimpleAtoi(e[1].str, &out.spent)) {
    return Malformed(absl::StrCat("spent ", e[1].str));
  }
  return out;
}

}  // namespace makegood::goodwill
