#include "services/goodwill/grant_goodwill_script.h"

#include <array>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace makegood::goodwill {
namespace {

// KEYS and ARGV as grant_goodwill.lua documents them.
enum Key {
  kMember,
  kMemberStats,
  kOrder,
  kRefund,
  kMemberRefunds,
  kOrderRefunds,
  kLedger,
  kLedgerBalances,
  kOutbox,
  kRefundEvents,
  kGoodwill,
  kNotifications,
  kKeys
};
enum Arg {
  kFingerprint,
  kNowMs,
  kRefundId,
  kAmount,
  kCurrency,
  kInstrument,
  kMemberBudget,
  kDay,
  kAgentId,
  kCaller,
  kReason,
  kNote,
  kOrderId,
  kRefundBytes,
  kAgentRemaining,
  kMemberId,
  kArgs
};

// Each answer's tag and its size.
struct Shape {
  GrantReply::Outcome outcome;
  const char* tag;
  size_t size;
};
constexpr std::array<Shape, 8> kShapes = {{
    {GrantReply::kOk, "OK", 2},
    {GrantReply::kReplay, "REPLAY", 5},
    {GrantReply::kReused, "REUSED", 1},
    {GrantReply::kNoMember, "NO_MEMBER", 1},
    {GrantReply::kNoOrder, "NO_ORDER", 1},
    {GrantReply::kNotOwner, "NOT_OWNER", 1},
    {GrantReply::kMemberBudget, "MEMBER_BUDGET", 2},
    {GrantReply::kCeiling, "CEILING", 3},
}};

absl::Status Malformed(absl::string_view what) {
  return absl::InternalError(absl::StrCat("grant_goodwill answered ", what));
}

redis::RedisReply Text(std::string s) {
  return redis::RedisReply::String(std::move(s));
}

}  // namespace

GrantKeys GrantKeys::For(const store::KeySchema& schema,
                         absl::string_view member_id,
                         absl::string_view order_id,
                         absl::string_view refund_id) {
  const int partition = schema.PartitionOf(member_id);
  GrantKeys k;
  k.member = schema.MemberKey(member_id);
  k.member_stats = schema.MemberStatsKey(member_id);
  k.order = schema.OrderKey(member_id, order_id);
  k.refund = schema.RefundKey(partition, refund_id);
  k.member_refunds = schema.MemberRefundsKey(partition, member_id);
  k.order_refunds = schema.OrderRefundsKey(partition, order_id);
  k.ledger = schema.LedgerKey(partition);
  k.ledger_balances = schema.LedgerBalancesKey(partition);
  k.outbox = schema.OutboxKey(partition);
  k.refund_events = schema.RefundEventsKey(partition, refund_id);
  k.goodwill = schema.GoodwillKey(partition);
  k.notifications = schema.NotificationsKey(partition);
  return k;
}

std::vector<std::string> GrantRequest::Keys() const {
  std::vector<std::string> out(kKeys);
  out[kMember] = keys.member;
  out[kMemberStats] = keys.member_stats;
  out[kOrder] = keys.order;
  out[kRefund] = keys.refund;
  out[kMemberRefunds] = keys.member_refunds;
  out[kOrderRefunds] = keys.order_refunds;
  out[kLedger] = keys.ledger;
  out[kLedgerBalances] = keys.ledger_balances;
  out[kOutbox] = keys.outbox;
  out[kRefundEvents] = keys.refund_events;
  out[kGoodwill] = keys.goodwill;
  out[kNotifications] = keys.notifications;
  return out;
}

std::vector<std::string> GrantRequest::Args() const {
  std::vector<std::string> args(kArgs);
  args[kFingerprint] = fingerprint;
  args[kNowMs] = absl::StrCat(now_ms);
  args[kRefundId] = refund_id;
  args[kAmount] = absl::StrCat(amount);
  args[kCurrency] = currency;
  args[kInstrument] = instrument;
  args[kMemberBudget] = absl::StrCat(member_budget);
  args[kDay] = absl::StrCat(day);
  args[kAgentId] = agent_id;
  args[kCaller] = caller;
  args[kReason] = reason;
  args[kNote] = note;
  args[kOrderId] = order_id;
  args[kRefundBytes] = refund_bytes;
  args[kAgentRemaining] = absl::StrCat(agent_remaining);
  args[kMemberId] = member_id;
  return args;
}

absl::StatusOr<GrantRequest> GrantRequest::Parse(
    const std::vector<std::string>& keys,
    const std::vector<std::string>& args) {
  if (keys.size() != kKeys || args.size() != kArgs) {
    return absl::InvalidArgumentError(
        absl::StrCat("grant_goodwill takes ", kKeys, " keys and ", kArgs,
                     " args, got ", keys.size(), " and ", args.size()));
  }
  GrantRequest r;
  if (!absl::SimpleAtoi(args[kNowMs], &r.now_ms) ||
      !absl::SimpleAtoi(args[kAmount], &r.amount) ||
      !absl::SimpleAtoi(args[kMemberBudget], &r.member_budget) ||
      !absl::SimpleAtoi(args[kDay], &r.day) ||
      !absl::SimpleAtoi(args[kAgentRemaining], &r.agent_remaining)) {
    return absl::InvalidArgumentError("grant_goodwill: malformed args");
  }
  r.keys.member = keys[kMember];
  r.keys.member_stats = keys[kMemberStats];
  r.keys.order = keys[kOrder];
  r.keys.refund = keys[kRefund];
  r.keys.member_refunds = keys[kMemberRefunds];
  r.keys.order_refunds = keys[kOrderRefunds];
  r.keys.ledger = keys[kLedger];
  r.keys.ledger_balances = keys[kLedgerBalances];
  r.keys.outbox = keys[kOutbox];
  r.keys.refund_events = keys[kRefundEvents];
  r.keys.goodwill = keys[kGoodwill];
  r.keys.notifications = keys[kNotifications];
  r.fingerprint = args[kFingerprint];
  r.refund_id = args[kRefundId];
  r.currency = args[kCurrency];
  r.instrument = args[kInstrument];
  r.agent_id = args[kAgentId];
  r.caller = args[kCaller];
  r.reason = args[kReason];
  r.note = args[kNote];
  r.order_id = args[kOrderId];
  r.refund_bytes = args[kRefundBytes];
  r.member_id = args[kMemberId];
  return r;
}

redis::RedisReply GrantReply::ToReply() const {
  const Shape* shape = &kShapes[0];
  for (const Shape& s : kShapes) {
    if (s.outcome == outcome) shape = &s;
  }
  std::vector<redis::RedisReply> e = {Text(shape->tag)};
  switch (outcome) {
    case kOk:
    case kMemberBudget:
      e.push_back(Text(absl::StrCat(member_remaining)));
      break;
    case kReplay:
      e.push_back(Text(refund_bytes));
      e.push_back(Text(absl::StrCat(agent_remaining)));
      e.push_back(Text(absl::StrCat(member_remaining)));
      e.push_back(Text(absl::StrCat(grant_day)));
      break;
    case kCeiling:
      e.push_back(Text(absl::StrCat(refunded)));
      e.push_back(Text(absl::StrCat(total)));
      break;
    default:
      break;
  }
  return redis::RedisReply::Array(std::move(e));
}

absl::StatusOr<GrantReply> ParseGrantReply(const redis::RedisReply& reply) {
  auto elements = redis::ReplyArray(reply, 1, "grant_goodwill");
  if (!elements.ok()) return elements.status();
  const std::vector<redis::RedisReply>& e = **elements;
  const Shape* shape = nullptr;
  for (const Shape& s : kShapes) {
    if (e[0].is_text() && e[0].str == s.tag) shape = &s;
  }
  if (shape == nullptr) return Malformed(e[0].str);
  if (e.size() < shape->size) {
    return Malformed(absl::StrCat(shape->tag, " with ", e.size(), " fields"));
  }
  auto integer = [&](size_t i, int64_t& out) {
    return e[i].is_text() && absl::SimpleAtoi(e[i].str, &out);
  };
  GrantReply out;
  out.outcome = shape->outcome;
  bool ok = true;
  switch (out.outcome) {
    case GrantReply::kOk:
    case GrantReply::kMemberBudget:
      ok = integer(1, out.member_remaining);
      break;
    case GrantReply::kReplay:
      ok = e[1].is_text() && integer(2, out.agent_remaining) &&
           integer(3, out.member_remaining) && integer(4, out.grant_day);
      out.refund_bytes = e[1].str;
      break;
    case GrantReply::kCeiling:
      ok = integer(1, out.refunded) && integer(2, out.total);
      break;
    default:
      break;
  }
  if (!ok) return Malformed(absl::StrCat(shape->tag, " with malformed fields"));
  return out;
}

}  // namespace makegood::goodwill
