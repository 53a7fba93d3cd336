// The typed calls of goodwill_agent.lua and grant_goodwill.lua: requests
// survive their own argv, every answer survives its reply, malformed answers
// are INTERNAL, and one grant's keys stay in one hash slot.
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/goodwill/goodwill_agent_script.h"
#include "services/goodwill/grant_goodwill_script.h"
#include "services/goodwill/lua/scripts.h"
#include "services/store/key_schema.h"
#include "tests/testing/fake_redis.h"

namespace makegood::goodwill {
namespace {

using ::makegood::testing::Reply;
using ::testing::HasSubstr;

// The hash tag of a key ("{p12.4ns}"), or "" when it has none.
std::string HashTag(const std::string& key) {
  size_t open = key.find('{');
  size_t close = key.find('}', open);
  if (open == std::string::npos || close == std::string::npos) return "";
  return key.substr(open, close - open + 1);
}

TEST(AgentBudgetRequest, ArgvAsTheScriptDocumentsIt) {
  store::KeySchema schema = *store::KeySchema::Create(64);
  AgentBudgetRequest r;
  r.operation = AgentBudgetRequest::kRelease;
  r.budget_key = schema.AgentBudgetKey("agent-7", 20600);
  r.grant_id = "rf_1_ab";
  r.amount = 250;
  r.daily_budget = 1000;
  r.ttl = absl::Hours(48);
  r.token = "tok";
  EXPECT_THAT(r.Keys(), ::testing::ElementsAre(r.budget_key));
  EXPECT_THAT(r.Args(), ::testing::ElementsAre("release", "rf_1_ab", "250",
                                               "1000", "172800000", "tok"));
  // The script's own header says the same.
  EXPECT_THAT(std::string(scripts::kGoodwillAgent.source),
              HasSubstr("ARGV[1] 'reserve' | 'release' | 'confirm'"));
}

TEST(AgentBudgetRequest, ACurrencysDaySendsTheDayBeforeCurrenciesInItsSlot) {
  store::KeySchema schema = *store::KeySchema::Create(64);
  AgentBudgetRequest r;
  r.budget_key = schema.AgentBudgetKey("agent-7", "KRW", 20600);
  r.legacy_budget_key = schema.AgentBudgetKey("agent-7", 20600);
  EXPECT_THAT(r.Keys(),
              ::testing::ElementsAre(r.budget_key, r.legacy_budget_key));
  EXPECT_EQ(HashTag(r.Keys()[0]), HashTag(r.Keys()[1]));
  EXPECT_NE(r.budget_key, schema.AgentBudgetKey("agent-7", "EUR", 20600));
  // Ids may hold ':': another agent's day never has this key.
  EXPECT_NE(schema.AgentBudgetKey("a:KRW", 20600),
            schema.AgentBudgetKey("a", "KRW", 20600));
  auto back = AgentBudgetRequest::Parse(r.Keys(), r.Args());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->legacy_budget_key, r.legacy_budget_key);
  EXPECT_FALSE(AgentBudgetRequest::Parse({"a", "b", "c"}, r.Args()).ok());
}

TEST(AgentBudgetRequest, ParsesItsOwnArgv) {
  for (auto op : {AgentBudgetRequest::kReserve, AgentBudgetRequest::kRelease,
                  AgentBudgetRequest::kConfirm}) {
    AgentBudgetRequest r{.operation = op,
                         .budget_key = "k",
                         .legacy_budget_key = "",
                         .grant_id = "g",
                         .amount = 7,
                         .daily_budget = 9,
                         .ttl = absl::Seconds(3),
                         .token = "t"};
    auto back = AgentBudgetRequest::Parse(r.Keys(), r.Args());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->Args(), r.Args());
    EXPECT_EQ(back->Keys(), r.Keys());
  }
  EXPECT_FALSE(AgentBudgetRequest::Parse({"k"}, {"reserve"}).ok());
  EXPECT_FALSE(
      AgentBudgetRequest::Parse({"k"}, {"spend", "g", "1", "2", "3", "t"})
          .ok());
}

TEST(AgentBudgetReply, EveryAnswerSurvivesItsReply) {
  for (auto outcome : {AgentBudgetReply::kNew, AgentBudgetReply::kHeld,
                       AgentBudgetReply::kRefused, AgentBudgetReply::kReleased,
                       AgentBudgetReply::kKept, AgentBudgetReply::kConfirmed}) {
    AgentBudgetReply reply{.outcome = outcome, .spent = 420};
    auto back = ParseAgentBudgetReply(reply.ToReply());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->outcome, outcome);
    EXPECT_EQ(back->spent, 420);
  }
  auto parsed = ParseAgentBudgetReply(Reply({Reply("REFUSED"), Reply("900")}));
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->outcome, AgentBudgetReply::kRefused);
  EXPECT_EQ(parsed->spent, 900);
}

TEST(AgentBudgetReply, MalformedAnswersAreInternal) {
  for (const redis::RedisReply& bad :
       {testing::NilReply(), Reply("NEW"), Reply({Reply("NEW")}),
        Reply({Reply("NEWISH"), Reply("1")}), Reply({Reply("NEW"), Reply("")}),
        Reply({Reply("NEW"), testing::NilReply()})}) {
    EXPECT_EQ(ParseAgentBudgetReply(bad).status().code(),
              absl::StatusCode::kInternal);
  }
}

GrantRequest SampleGrant(const store::KeySchema& schema) {
  GrantRequest r;
  r.keys = GrantKeys::For(schema, "m-1", "o-1", "rf_5_cafe");
  r.fingerprint = "fp";
  r.now_ms = 1'780'000'000'000;
  r.refund_id = "rf_5_cafe";
  r.amount = 250;
  r.currency = "EUR";
  r.instrument = "original_payment";
  r.member_budget = 5000;
  r.day = 20601;
  r.agent_id = "agent-7";
  r.caller = "support-app";
  r.reason = "late_again";
  r.note = "sorry";
  r.order_id = "o-1";
  r.refund_bytes = std::string("\x08\x01", 2);
  r.agent_remaining = 750;
  r.member_id = "m-1";
  return r;
}

TEST(GrantRequest, ParsesItsOwnArgv) {
  store::KeySchema schema = *store::KeySchema::Create(64);
  GrantRequest r = SampleGrant(schema);
  auto back = GrantRequest::Parse(r.Keys(), r.Args());
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->Keys(), r.Keys());
  EXPECT_EQ(back->Args(), r.Args());
  EXPECT_EQ(back->keys.refund,
            schema.RefundKey(schema.PartitionOf("m-1"), "rf_5_cafe"));
  EXPECT_EQ(back->agent_remaining, 750);
  EXPECT_EQ(back->order_id, "o-1");
  EXPECT_FALSE(GrantRequest::Parse(r.Keys(), {"too", "few"}).ok());
}

// Redis Cluster runs a script only when every key it is passed hashes to one
// slot: a grant's keys are all of the member's partition, with an order or
// without one.
TEST(GrantKeys, AreAllInTheMembersPartition) {
  store::KeySchema schema = *store::KeySchema::Create(64);
  for (const char* order_id : {"o-1", ""}) {
    GrantRequest r = SampleGrant(schema);
    r.keys = GrantKeys::For(schema, "m-1", order_id, "rf_5_cafe");
    const std::string tag =
        absl::StrCat("{", schema.PartitionTag(schema.PartitionOf("m-1")), "}");
    std::vector<std::string> keys = r.Keys();
    EXPECT_EQ(keys.size(), 12u);
    for (const std::string& key : keys) {
      EXPECT_EQ(HashTag(key), tag) << key;
    }
  }
  GrantKeys k = GrantKeys::For(schema, "m-1", "o-1", "rf_5_cafe");
  const int p = schema.PartitionOf("m-1");
  EXPECT_EQ(k.member, schema.MemberKey("m-1"));
  EXPECT_EQ(k.order, schema.OrderKey("m-1", "o-1"));
  EXPECT_EQ(k.refund_events, schema.RefundEventsKey(p, "rf_5_cafe"));
  EXPECT_EQ(k.ledger_balances, schema.LedgerBalancesKey(p));
  EXPECT_EQ(k.goodwill, schema.GoodwillKey(p));
  EXPECT_EQ(k.notifications, schema.NotificationsKey(p));
}

TEST(GrantReply, EveryAnswerSurvivesItsReply) {
  auto answer = [](GrantReply::Outcome outcome, int64_t member_remaining = 0,
                   int64_t refunded = 0, int64_t total = 0) {
    GrantReply reply;
    reply.outcome = outcome;
    reply.member_remaining = member_remaining;
    reply.refunded = refunded;
    reply.total = total;
    return reply;
  };
  GrantReply replay = answer(GrantReply::kReplay, 350);
  replay.refund_bytes = "pb";
  replay.agent_remaining = 750;
  replay.grant_day = 20601;
  std::vector<GrantReply> replies = {
      answer(GrantReply::kOk, 350),
      replay,
      answer(GrantReply::kReused),
      answer(GrantReply::kNoMember),
      answer(GrantReply::kNoOrder),
      answer(GrantReply::kNotOwner),
      answer(GrantReply::kMemberBudget, -20),
      answer(GrantReply::kCeiling, 0, 2500, 3000),
  };
  for (const GrantReply& reply : replies) {
    auto back = ParseGrantReply(reply.ToReply());
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(back->outcome, reply.outcome);
    EXPECT_EQ(back->member_remaining, reply.member_remaining);
    EXPECT_EQ(back->refund_bytes, reply.refund_bytes);
    EXPECT_EQ(back->agent_remaining, reply.agent_remaining);
    EXPECT_EQ(back->grant_day, reply.grant_day);
    EXPECT_EQ(back->refunded, reply.refunded);
    EXPECT_EQ(back->total, reply.total);
  }
}

TEST(GrantReply, MalformedAnswersAreInternal) {
  for (const redis::RedisReply& bad :
       {testing::NilReply(), Reply("OK"), Reply({}), Reply({Reply("OK")}),
        Reply({Reply("GRANTED"), Reply("1")}),
        Reply({Reply("OK"), Reply("1.5")}),
        Reply({Reply("REPLAY"), Reply("pb"), Reply("1"), Reply("2")}),
        Reply({Reply("REPLAY"), Reply("pb"), Reply("1"), Reply("2"),
               Reply("day")}),
        Reply({Reply("MEMBER_BUDGET")}),
        Reply({Reply("CEILING"), Reply("1"), testing::NilReply()})}) {
    EXPECT_EQ(ParseGrantReply(bad).status().code(),
              absl::StatusCode::kInternal);
  }
}

}  // namespace
}  // namespace makegood::goodwill
