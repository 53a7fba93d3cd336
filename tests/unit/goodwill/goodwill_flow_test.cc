// GoodwillFlow without gRPC and without Redis: FakeRedis answers the two
// scripts from GoodwillModel (or with scripted replies) and injects faults.
#include "services/goodwill/goodwill_flow.h"

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/errors/errors.h"
#include "services/goodwill/goodwill_agent_script.h"
#include "services/goodwill/grant_goodwill_script.h"
#include "services/policy/policy_config.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"
#include "services/rating/snapshot.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_redis.h"
#include "tests/unit/goodwill/goodwill_model.h"

namespace makegood::goodwill {
namespace {

using ::makegood::testing::FakeRedis;
using ::makegood::testing::Reply;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kNow = absl::FromUnixSeconds(1'780'000'000);

policy_file::PolicySnapshot TestPolicy() {  // Currency EUR.
  absl::StatusOr<policy_file::PolicySnapshot> snapshot =
      policy_file::BuildPolicySnapshot(
          policy_proto::FromPolicyConfig(policy::DefaultPolicyConfig()), kNow);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return *snapshot;
}

v1::GrantGoodwillRequest Request(const std::string& key, int64_t amount,
                                 const std::string& member = "m-1") {
  v1::GrantGoodwillRequest r;
  r.set_idempotency_key(key);
  r.set_agent_id("agent-7");
  r.set_member_id(member);
  r.set_amount_minor(amount);
  r.set_currency("EUR");
  r.set_instrument(v1::INSTRUMENT_WALLET);
  r.set_reason("late_again");
  r.set_note("Third late delivery this month.");
  return r;
}

GrantReply Answer(GrantReply::Outcome outcome, int64_t member_remaining = 0,
                  int64_t refunded = 0, int64_t total = 0) {
  GrantReply reply;
  reply.outcome = outcome;
  reply.member_remaining = member_remaining;
  reply.refunded = refunded;
  reply.total = total;
  return reply;
}

class GoodwillFlowTest : public ::testing::Test {
 protected:
  GoodwillFlowTest() {
    model_.members.insert(keys_.MemberKey("m-1"));
    model_.members.insert(keys_.MemberKey("m-2"));
  }

  absl::StatusOr<v1::GrantGoodwillResponse> Grant(
      const v1::GrantGoodwillRequest& request) {
    std::optional<absl::StatusOr<v1::GrantGoodwillResponse>> result;
    flow_.Grant("support-app", request,
                [&](absl::StatusOr<v1::GrantGoodwillResponse> r) {
                  EXPECT_FALSE(result.has_value()) << "done ran twice";
                  result = std::move(r);
                });
    EXPECT_TRUE(result.has_value()) << "done did not run";
    if (!result.has_value()) return absl::UnknownError("no answer");
    return *std::move(result);
  }

  // The goodwill_agent calls so far, typed.
  std::vector<AgentBudgetRequest> AgentCalls() {
    std::vector<AgentBudgetRequest> out;
    for (const FakeRedis::Call& call : redis_.calls("goodwill_agent")) {
      absl::StatusOr<AgentBudgetRequest> r =
          AgentBudgetRequest::Parse(call.keys, call.args);
      EXPECT_TRUE(r.ok()) << r.status();
      if (r.ok()) out.push_back(*std::move(r));
    }
    return out;
  }

  std::vector<AgentBudgetRequest::Operation> Operations() {
    std::vector<AgentBudgetRequest::Operation> out;
    for (const AgentBudgetRequest& r : AgentCalls()) out.push_back(r.operation);
    return out;
  }

  std::string TodayKey() {
    return keys_.AgentBudgetKey("agent-7", rating::DayNumber(clock_.Now()));
  }

  // What the agent's day counts (0 when it holds nothing).
  int64_t Spent() {
    auto day = model_.days.find(TodayKey());
    return day == model_.days.end() ? 0 : day->second.spent;
  }

  GoodwillOptions options_{.agent_daily_budget_minor = 1000,
                           .member_budget_minor = 600};
  store::KeySchema keys_ = *store::KeySchema::Create(64);
  policy_file::ActivePolicy policy_{TestPolicy()};
  testing::FakeClock clock_{kNow};
  FakeRedis redis_;
  GoodwillModel model_{redis_};
  GoodwillFlow flow_{redis_, keys_, policy_, clock_, options_};
};

using Op = AgentBudgetRequest::Operation;

TEST_F(GoodwillFlowTest, ReservesGrantsAndConfirms) {
  absl::StatusOr<v1::GrantGoodwillResponse> response =
      Grant(Request("g-1", 250));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_FALSE(response->replayed());
  EXPECT_EQ(response->agent_budget_remaining_minor(), 750);
  EXPECT_EQ(response->member_budget_remaining_minor(), 350);
  const v1::Refund& refund = response->refund();
  EXPECT_THAT(refund.refund_id(), StartsWith("rf_"));
  EXPECT_EQ(refund.member_id(), "m-1");
  EXPECT_EQ(refund.amount_minor(), 250);
  EXPECT_EQ(refund.state(), v1::REFUND_STATE_ACCEPTED);
  EXPECT_EQ(refund.state_reason(), "goodwill");
  EXPECT_EQ(refund.created_at().seconds(), absl::ToUnixSeconds(kNow));

  EXPECT_THAT(Operations(), ::testing::ElementsAre(Op::kReserve, Op::kConfirm));
  std::vector<AgentBudgetRequest> agent = AgentCalls();
  EXPECT_EQ(agent[0].budget_key, TodayKey());
  EXPECT_EQ(agent[0].grant_id, refund.refund_id());
  EXPECT_EQ(agent[0].daily_budget, 1000);
  EXPECT_EQ(agent[0].token, agent[1].token);
  ASSERT_EQ(redis_.count("grant_goodwill"), 1);
  const GoodwillModel::Stored& stored = model_.grants.at(
      keys_.RefundKey(keys_.PartitionOf("m-1"), refund.refund_id()));
  EXPECT_EQ(stored.request.agent_remaining, 750);
  EXPECT_EQ(stored.request.caller, "support-app");
  EXPECT_EQ(stored.request.instrument, "wallet");
  EXPECT_EQ(stored.request.member_budget, 600);
  v1::Refund written;
  ASSERT_TRUE(written.ParseFromString(stored.request.refund_bytes));
  EXPECT_EQ(written.SerializeAsString(), refund.SerializeAsString());
  EXPECT_EQ(Spent(), 250);
  EXPECT_EQ(model_.days[TodayKey()].reservations[refund.refund_id()],
            "250:granted");
  EXPECT_TRUE(redis_.unexpected().empty());
}

TEST_F(GoodwillFlowTest, ARetryReplaysTheGrantAndChargesOnce) {
  auto first = Grant(Request("g-1", 250));
  auto again = Grant(Request("g-1", 250));
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_TRUE(again->replayed());
  again->set_replayed(false);
  EXPECT_EQ(again->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(Spent(), 250);
  EXPECT_EQ(model_.grants.size(), 1u);
  auto reused = Grant(Request("g-1", 300));
  EXPECT_EQ(reused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(reused.status()), "IDEMPOTENCY_KEY_REUSED");
  EXPECT_EQ(Spent(), 250) << "the reused key's reservation was released";
}

TEST_F(GoodwillFlowTest, AnExhaustedAgentBudgetRefusesBeforeGranting) {
  ASSERT_TRUE(Grant(Request("g-1", 600, "m-1")).ok());
  auto refused = Grant(Request("g-2", 500, "m-2"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(refused.status()), "AGENT_BUDGET_EXCEEDED");
  EXPECT_THAT(refused.status().message(), HasSubstr("400 left"));
  EXPECT_EQ(redis_.count("grant_goodwill"), 1) << "only the first granted";
  EXPECT_EQ(Spent(), 600);
}

TEST_F(GoodwillFlowTest, AGrantOnAnotherMembersOrderIsRefusedAndReleased) {
  model_.orders[keys_.OrderKey("m-1", "o-1")] = {"m-2", 3000, 0};
  v1::GrantGoodwillRequest request = Request("g-1", 300);
  request.set_order_id("o-1");
  request.set_instrument(v1::INSTRUMENT_ORIGINAL_PAYMENT);
  auto refused = Grant(request);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(ErrorReason(refused.status()), "NOT_ORDER_MEMBER");
  EXPECT_THAT(Operations(), ::testing::ElementsAre(Op::kReserve, Op::kRelease));
  std::vector<AgentBudgetRequest> agent = AgentCalls();
  EXPECT_EQ(agent[1].token, agent[0].token) << "releases its own reservation";
  EXPECT_EQ(Spent(), 0);
  EXPECT_TRUE(model_.grants.empty());
}

// Every refusal of grant_goodwill.lua: its status, its reason, and the
// reservation given back.
TEST_F(GoodwillFlowTest, EveryRefusalReleasesTheReservation) {
  struct Case {
    GrantReply reply;
    absl::StatusCode code;
    std::string reason;
    std::string message;
  };
  std::vector<Case> cases = {
      {Answer(GrantReply::kReused), absl::StatusCode::kFailedPrecondition,
       "IDEMPOTENCY_KEY_REUSED", "different request"},
      {Answer(GrantReply::kNoMember), absl::StatusCode::kNotFound,
       "MEMBER_NOT_FOUND", "member"},
      {Answer(GrantReply::kNoOrder), absl::StatusCode::kNotFound,
       "ORDER_NOT_FOUND", "order"},
      {Answer(GrantReply::kNotOwner), absl::StatusCode::kPermissionDenied,
       "NOT_ORDER_MEMBER", "another member"},
      {Answer(GrantReply::kMemberBudget, 100),
       absl::StatusCode::kFailedPrecondition, "MEMBER_BUDGET_EXCEEDED",
       "(30 days) has 100 left"},
      {Answer(GrantReply::kCeiling, 0, 2500, 3000),
       absl::StatusCode::kFailedPrecondition, "ORDER_FULLY_REFUNDED",
       "the order paid 3000 and 2500 is already refunded"},
  };
  for (const Case& c : cases) {
    redis_.Answer("grant_goodwill", c.reply.ToReply());
    auto refused = Grant(Request("g-1", 250));
    EXPECT_EQ(refused.status().code(), c.code) << c.reason;
    EXPECT_EQ(ErrorReason(refused.status()), c.reason);
    EXPECT_THAT(refused.status().message(), HasSubstr(c.message));
    EXPECT_EQ(Operations().back(), Op::kRelease) << c.reason;
    EXPECT_EQ(Spent(), 0) << c.reason;
  }
}

TEST_F(GoodwillFlowTest, TheMemberBudgetAndTheOrdersCeilingHold) {
  ASSERT_TRUE(Grant(Request("g-1", 500)).ok());
  auto over = Grant(Request("g-2", 200));
  EXPECT_EQ(ErrorReason(over.status()), "MEMBER_BUDGET_EXCEEDED");
  EXPECT_THAT(over.status().message(), HasSubstr("100 left"));
  EXPECT_EQ(Spent(), 500);

  model_.orders[keys_.OrderKey("m-2", "o-2")] = {"m-2", 300, 250};
  v1::GrantGoodwillRequest money = Request("g-3", 100, "m-2");
  money.set_order_id("o-2");
  money.set_instrument(v1::INSTRUMENT_ORIGINAL_PAYMENT);
  auto ceiling = Grant(money);
  EXPECT_EQ(ErrorReason(ceiling.status()), "ORDER_FULLY_REFUNDED");
  EXPECT_EQ(Spent(), 500);
  money.set_amount_minor(50);
  ASSERT_TRUE(Grant(money).ok());
  EXPECT_EQ(model_.orders[keys_.OrderKey("m-2", "o-2")].refunded, 300);
  EXPECT_EQ(Spent(), 550);
}

TEST_F(GoodwillFlowTest, ALostReserveReplyIsReusedByTheRetry) {
  redis_.Inject("goodwill_agent", FakeRedis::Fault::kLoseReply);
  auto lost = Grant(Request("g-1", 250));
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(redis_.count("grant_goodwill"), 0);
  EXPECT_EQ(Spent(), 250) << "it ran: the reservation is held";

  auto retry = Grant(Request("g-1", 250));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_FALSE(retry->replayed());
  EXPECT_EQ(retry->agent_budget_remaining_minor(), 750);
  EXPECT_EQ(Spent(), 250) << "held once, counted once";
  EXPECT_EQ(model_.days[TodayKey()].reservations.begin()->second,
            "250:granted");
}

TEST_F(GoodwillFlowTest, ALostGrantReplyKeepsTheReservationAndTheRetryReplays) {
  redis_.Inject("grant_goodwill", FakeRedis::Fault::kLoseReply);
  auto lost = Grant(Request("g-1", 250));
  EXPECT_EQ(lost.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(Operations(), ::testing::ElementsAre(Op::kReserve))
      << "the grant may have run: nothing is released";
  EXPECT_EQ(model_.grants.size(), 1u);
  EXPECT_EQ(Spent(), 250);

  auto retry = Grant(Request("g-1", 250));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed());
  EXPECT_EQ(retry->agent_budget_remaining_minor(), 750);
  EXPECT_EQ(retry->member_budget_remaining_minor(), 350);
  EXPECT_EQ(retry->refund().amount_minor(), 250);
  EXPECT_EQ(Operations().back(), Op::kConfirm);
  EXPECT_EQ(Spent(), 250);
  EXPECT_EQ(model_.days[TodayKey()].reservations.begin()->second,
            "250:granted");
}

TEST_F(GoodwillFlowTest, ALostConfirmReplyStillAnswersAndTheRetryConfirms) {
  // The confirmation is the next goodwill_agent call once the grant ran.
  bool once = true;
  redis_.On("grant_goodwill", [&](const FakeRedis::Call& call) {
    if (std::exchange(once, false)) {
      redis_.Inject("goodwill_agent", FakeRedis::Fault::kTimeout);
    }
    return model_.Grant(call);
  });
  auto granted = Grant(Request("g-1", 250));
  ASSERT_TRUE(granted.ok()) << "the grant is made: a lost confirmation does "
                               "not fail it";
  EXPECT_EQ(Operations().back(), Op::kConfirm);
  EXPECT_EQ(Spent(), 250) << "the reservation still counts the grant";
  EXPECT_NE(model_.days[TodayKey()].reservations.begin()->second,
            "250:granted");

  auto retry = Grant(Request("g-1", 250));
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_TRUE(retry->replayed());
  EXPECT_EQ(Spent(), 250);
  EXPECT_EQ(model_.days[TodayKey()].reservations.begin()->second,
            "250:granted");
}

TEST_F(GoodwillFlowTest, ALostConfirmThatRanIsHarmless) {
  bool once = true;
  redis_.On("grant_goodwill", [&](const FakeRedis::Call& call) {
    if (std::exchange(once, false)) {
      redis_.Inject("goodwill_agent", FakeRedis::Fault::kLoseReply);
    }
    return model_.Grant(call);
  });
  auto granted = Grant(Request("g-1", 250));
  ASSERT_TRUE(granted.ok());
  EXPECT_EQ(Spent(), 250);
  EXPECT_EQ(model_.days[TodayKey()].reservations.begin()->second,
            "250:granted");
  auto retry = Grant(Request("g-1", 250));
  ASSERT_TRUE(retry.ok());
  EXPECT_EQ(Spent(), 250);
}

TEST_F(GoodwillFlowTest, AReplayOnAnotherDayGivesTodaysReservationBack) {
  auto first = Grant(Request("g-1", 250));
  ASSERT_TRUE(first.ok());
  const std::string first_day = TodayKey();
  clock_.Advance(absl::Hours(72));
  auto later = Grant(Request("g-1", 250));
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_TRUE(later->replayed());
  later->set_replayed(false);
  EXPECT_EQ(later->SerializeAsString(), first->SerializeAsString());
  EXPECT_EQ(Operations().back(), Op::kRelease);
  EXPECT_FALSE(model_.days.contains(TodayKey())) << "today holds nothing";
  EXPECT_EQ(model_.days[first_day].spent, 250);
}

TEST_F(GoodwillFlowTest, AFailedGrantCallKeepsTheReservation) {
  redis_.Inject("grant_goodwill", FakeRedis::Fault::kTimeout);
  auto failed = Grant(Request("g-1", 250));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kUnavailable);
  redis_.Inject("grant_goodwill", FakeRedis::Fault::kError);
  failed = Grant(Request("g-1", 250));
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(Operations(), ::testing::ElementsAre(Op::kReserve, Op::kReserve))
      << "it may have run: released only by a refusal";
  EXPECT_EQ(Spent(), 250);
  ASSERT_TRUE(Grant(Request("g-1", 250)).ok());
  EXPECT_EQ(Spent(), 250);
}

TEST_F(GoodwillFlowTest, RedisDownFailsUnavailableAndChangesNothing) {
  redis_.set_ready(false);
  auto down = Grant(Request("g-1", 250));
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(redis_.count("grant_goodwill"), 0);
  EXPECT_TRUE(model_.days.empty());
  EXPECT_TRUE(model_.grants.empty());
  redis_.set_ready(true);
  EXPECT_TRUE(Grant(Request("g-1", 250)).ok());
}

TEST_F(GoodwillFlowTest, ACurrencyOtherThanThePolicysIsRefusedWithoutRedis) {
  v1::GrantGoodwillRequest usd = Request("g-1", 100);
  usd.set_currency("GBP");  // not served by the default policy
  auto refused = Grant(usd);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorReason(refused.status()), "CURRENCY_NOT_SUPPORTED");
  EXPECT_TRUE(redis_.calls().empty());
}

TEST_F(GoodwillFlowTest, AMalformedReserveReplyIsInternalAndGrantsNothing) {
  for (redis::RedisReply bad :
       {Reply("NEW"), Reply({Reply("NEW")}), Reply({Reply("WHAT"), Reply("0")}),
        Reply({Reply("NEW"), Reply("lots")})}) {
    redis_.Answer("goodwill_agent", bad);
    auto result = Grant(Request("g-1", 250));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
  }
  EXPECT_EQ(redis_.count("grant_goodwill"), 0);
}

TEST_F(GoodwillFlowTest, AMalformedGrantReplyIsInternalAndReleases) {
  for (redis::RedisReply bad :
       {Reply(int64_t{1}), Reply({Reply("OK")}), Reply({Reply("SURPRISE")}),
        Reply({Reply("OK"), Reply("many")}),
        Reply({Reply("REPLAY"), Reply("pb")}),
        Reply({Reply("CEILING"), Reply("1")})}) {
    redis_.Answer("grant_goodwill", bad);
    auto result = Grant(Request("g-1", 250));
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(Operations().back(), Op::kRelease);
    EXPECT_EQ(Spent(), 0);
  }
}

TEST_F(GoodwillFlowTest, AStoredGrantThatDoesNotParseIsDataLoss) {
  GrantReply replay{.outcome = GrantReply::kReplay,
                    .refund_bytes = "\xff\xff not a refund",
                    .grant_day = rating::DayNumber(kNow)};
  redis_.Answer("grant_goodwill", replay.ToReply());
  auto result = Grant(Request("g-1", 250));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace makegood::goodwill
