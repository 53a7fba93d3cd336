// The typed calls of the settlement scripts: every key comes from KeySchema
// and lies in one hash slot, every argument sits where the script reads it,
// every answer parses into its typed reply, and a reply of the wrong shape is
// INTERNAL naming the script, never a crash. The providers built on
// wallet_pay and sandbox_pay turn those replies into payout results; a reply
// they cannot read is an unknown outcome, never a guess. The scripts
// themselves run against a real server in tests/integration.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/key_slot.h"
#include "services/settlement/reconcile_script.h"
#include "services/settlement/sandbox_pay_script.h"
#include "services/settlement/sandbox_provider.h"
#include "services/settlement/settle_begin_script.h"
#include "services/settlement/settle_finish_script.h"
#include "services/settlement/wallet_pay_script.h"
#include "services/settlement/wallet_provider.h"
#include "services/store/key_schema.h"
#include "tests/testing/fake_redis.h"

namespace makegood::settlement {
namespace {

using ::makegood::testing::FakeRedis;
using ::makegood::testing::NilReply;
using ::makegood::testing::Reply;
using redis::RedisReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const absl::Time kNow = absl::FromUnixMillis(1780272000123);

class SettlementScriptsTest : public ::testing::Test {
 protected:
  SettlementScriptsTest()
      : keys_(*store::KeySchema::Create(64)), p_(keys_.PartitionOf("m-1")) {}

  // Every key of one call hashes to one Redis Cluster slot, the member's.
  void ExpectOneSlot(const std::vector<std::string>& keys) const {
    ASSERT_FALSE(keys.empty());
    const int slot = redis::KeySlot(keys_.RefundFeedKey(p_));
    for (const std::string& key : keys) {
      EXPECT_EQ(redis::KeySlot(key), slot) << key << " is in another slot";
    }
  }

  store::KeySchema keys_;
  int p_;
};

void ExpectMalformed(const absl::Status& status, const std::string& script) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_THAT(status.message(), HasSubstr(script));
}

// Replies no script answers: not an array, empty, a non-text answer.
std::vector<RedisReply> NotAnAnswer() {
  return {NilReply(),
          Reply("OK"),
          Reply(int64_t{1}),
          Reply(std::vector<RedisReply>{}),
          Reply({Reply(int64_t{1})}),
          Reply({NilReply()})};
}

// --- settle_begin ----------------------------------------------------------

TEST_F(SettlementScriptsTest, SettleBeginSendsTheRefundsKeysAndItsArguments) {
  ScriptCall call =
      BuildSettleBeginCall(keys_, SettleBeginRequest{.partition = p_,
                                                     .refund_id = "rf_1",
                                                     .now = kNow,
                                                     .card_provider = "sandbox",
                                                     .actor = "settlement:w1"});
  EXPECT_THAT(call.keys, ElementsAre(keys_.RefundKey(p_, "rf_1"),
                                     keys_.RefundEventsKey(p_, "rf_1"),
                                     keys_.RefundFeedKey(p_)));
  ExpectOneSlot(call.keys);
  // ARGV[1] now ms, ARGV[2] card provider, ARGV[3] actor.
  EXPECT_THAT(call.args,
              ElementsAre("1780272000123", "sandbox", "settlement:w1"));
}

RedisReply Begun(std::string tag) {
  return Reply({Reply(std::move(tag)), Reply("sandbox"), Reply("1250"),
                Reply("EUR"), Reply("original_payment"), Reply("m-1"),
                Reply("o-1"), Reply("pi_1"), Reply("2"),
                Reply("1700000000000")});
}

TEST_F(SettlementScriptsTest, SettleBeginSettleAndResumeCarryTheRefund) {
  auto settle = ParseSettleBeginReply(Begun("SETTLE"));
  ASSERT_TRUE(settle.ok()) << settle.status();
  EXPECT_EQ(settle->answer, SettleBeginAnswer::kSettle);
  EXPECT_EQ(settle->provider, "sandbox");
  EXPECT_EQ(settle->amount_minor, 1250);
  EXPECT_EQ(settle->currency, "EUR");
  EXPECT_EQ(settle->instrument, "original_payment");
  EXPECT_EQ(settle->member_id, "m-1");
  EXPECT_EQ(settle->order_id, "o-1");
  EXPECT_EQ(settle->payment_reference, "pi_1");
  EXPECT_EQ(settle->attempts, 2);
  EXPECT_EQ(settle->created_at_ms, 1700000000000);

  auto resume = ParseSettleBeginReply(Begun("RESUME"));
  ASSERT_TRUE(resume.ok()) << resume.status();
  EXPECT_EQ(resume->answer, SettleBeginAnswer::kResume);
  EXPECT_EQ(resume->provider, "sandbox");
}

TEST_F(SettlementScriptsTest, SettleBeginFinalAndMissingParse) {
  auto final_ = ParseSettleBeginReply(Reply({Reply("FINAL"), Reply("FAILED")}));
  ASSERT_TRUE(final_.ok()) << final_.status();
  EXPECT_EQ(final_->answer, SettleBeginAnswer::kFinal);
  EXPECT_EQ(final_->state, "FAILED");

  auto missing = ParseSettleBeginReply(Reply({Reply("MISSING")}));
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_EQ(missing->answer, SettleBeginAnswer::kMissing);
}

TEST_F(SettlementScriptsTest, MalformedSettleBeginRepliesAreInternal) {
  std::vector<RedisReply> malformed = NotAnAnswer();
  malformed.push_back(Reply({Reply("SETTLED")}));  // Unknown answer.
  malformed.push_back(Reply({Reply("FINAL")}));    // No state.
  // A SETTLE cut short (a nil field truncates a Lua reply).
  malformed.push_back(Reply({Reply("SETTLE"), Reply("sandbox")}));
  RedisReply amount = Begun("SETTLE");
  amount.elements[2] = Reply("12.50");
  malformed.push_back(amount);
  RedisReply created = Begun("RESUME");
  created.elements[9] = NilReply();
  malformed.push_back(created);
  RedisReply provider = Begun("SETTLE");
  provider.elements[1] = Reply(int64_t{1});
  malformed.push_back(provider);
  for (const RedisReply& reply : malformed) {
    ExpectMalformed(ParseSettleBeginReply(reply).status(), "settle_begin");
  }
}

// --- settle_finish ---------------------------------------------------------

SettleFinishRequest AFinish(int partition) {
  return SettleFinishRequest{.partition = partition,
                             .refund_id = "rf_1",
                             .member_id = "m-1",
                             .order_id = "o-1",
                             .now = kNow,
                             .result = SettleFinishResult::kDeclined,
                             .provider_reference = "re_1",
                             .reason = "card_declined",
                             .entry_id = "5-0",
                             .group = "settlement",
                             .fallback = "wallet",
                             .actor = "settlement:w1",
                             .deliveries = 3,
                             .entry = "type=refund_accepted refund_id=rf_1"};
}

TEST_F(SettlementScriptsTest, SettleFinishSendsTheTwelveKeysAndTenArguments) {
  ScriptCall call = BuildSettleFinishCall(keys_, AFinish(p_));
  EXPECT_THAT(
      call.keys,
      ElementsAre(
          keys_.RefundKey(p_, "rf_1"), keys_.RefundEventsKey(p_, "rf_1"),
          keys_.RefundFeedKey(p_), keys_.OutboxKey(p_), keys_.LedgerKey(p_),
          keys_.LedgerBalancesKey(p_), keys_.OrderKey("m-1", "o-1"),
          keys_.WalletKey(p_, "m-1"), keys_.NotificationsKey(p_),
          keys_.DeadOutboxKey(p_), keys_.TasksKey(p_), keys_.AttentionKey(p_)));
  ExpectOneSlot(call.keys);
  EXPECT_THAT(call.args,
              ElementsAre("1780272000123", "declined", "re_1", "card_declined",
                          "5-0", "settlement", "wallet", "settlement:w1", "3",
                          "type=refund_accepted refund_id=rf_1"));
}

TEST_F(SettlementScriptsTest, SettleFinishNamesEachResultAsTheScriptReadsIt) {
  const std::pair<SettleFinishResult, const char*> results[] = {
      {SettleFinishResult::kSucceeded, "succeeded"},
      {SettleFinishResult::kDeclined, "declined"},
      {SettleFinishResult::kAttention, "attention"},
      {SettleFinishResult::kAck, "ack"}};
  for (const auto& [result, name] : results) {
    SettleFinishRequest request = AFinish(p_);
    request.result = result;
    EXPECT_EQ(BuildSettleFinishCall(keys_, request).args[1], name);
  }
}

TEST_F(SettlementScriptsTest, SettleFinishKeysStayInTheEntrysPartition) {
  // A poison entry: no member id, and an order id of another partition. The
  // keys are still all in the outbox's slot, or Redis Cluster refuses them.
  SettleFinishRequest request = AFinish(p_);
  request.member_id = "";
  request.order_id = "o-elsewhere";
  ScriptCall call = BuildSettleFinishCall(keys_, request);
  EXPECT_EQ(call.keys[6], keys_.OrderKeyIn(p_, "o-elsewhere"));
  EXPECT_EQ(call.keys[7], keys_.WalletKey(p_, ""));
  ExpectOneSlot(call.keys);
}

TEST_F(SettlementScriptsTest, EverySettleFinishAnswerParses) {
  auto parse = [](std::vector<RedisReply> e) {
    return ParseSettleFinishReply(Reply(std::move(e)));
  };
  for (const char* state : {"SUCCEEDED", "FAILED", "NEEDS_ATTENTION"}) {
    auto done = parse({Reply("DONE"), Reply(state)});
    ASSERT_TRUE(done.ok()) << done.status();
    EXPECT_EQ(done->answer, SettleFinishAnswer::kDone);
    EXPECT_EQ(done->state, state);
    EXPECT_FALSE(done->reversed);
  }
  auto reversed = parse({Reply("DONE"), Reply("SUCCEEDED"), Reply("REVERSED")});
  ASSERT_TRUE(reversed.ok()) << reversed.status();
  EXPECT_TRUE(reversed->reversed);

  auto already = parse({Reply("ALREADY"), Reply("REVERSED")});
  ASSERT_TRUE(already.ok()) << already.status();
  EXPECT_EQ(already->answer, SettleFinishAnswer::kAlready);
  EXPECT_EQ(already->state, "REVERSED");
  auto not_final = parse({Reply("NOT_FINAL"), Reply("ACCEPTED")});
  ASSERT_TRUE(not_final.ok()) << not_final.status();
  EXPECT_EQ(not_final->answer, SettleFinishAnswer::kNotFinal);
  EXPECT_EQ(not_final->state, "ACCEPTED");
  EXPECT_EQ(parse({Reply("DEAD")})->answer, SettleFinishAnswer::kDead);
  EXPECT_EQ(parse({Reply("MISSING")})->answer, SettleFinishAnswer::kMissing);
}

TEST_F(SettlementScriptsTest, SettleFinishAnswerNamesAreTheScriptsTags) {
  for (SettleFinishAnswer answer :
       {SettleFinishAnswer::kDone, SettleFinishAnswer::kAlready,
        SettleFinishAnswer::kNotFinal, SettleFinishAnswer::kDead,
        SettleFinishAnswer::kMissing}) {
    std::vector<RedisReply> e = {Reply(SettleFinishAnswerName(answer))};
    if (answer == SettleFinishAnswer::kDone ||
        answer == SettleFinishAnswer::kAlready ||
        answer == SettleFinishAnswer::kNotFinal) {
      e.push_back(Reply("FAILED"));
    }
    auto parsed = ParseSettleFinishReply(Reply(std::move(e)));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->answer, answer);
  }
}

TEST_F(SettlementScriptsTest, MalformedSettleFinishRepliesAreInternal) {
  std::vector<RedisReply> malformed = NotAnAnswer();
  malformed.push_back(Reply({Reply("FINISHED")}));
  malformed.push_back(Reply({Reply("DONE")}));  // No state.
  malformed.push_back(Reply({Reply("ALREADY")}));
  malformed.push_back(Reply({Reply("NOT_FINAL"), Reply(int64_t{3})}));
  malformed.push_back(Reply({Reply("DONE"), Reply("ACCEPTED")}));
  malformed.push_back(
      Reply({Reply("DONE"), Reply("SUCCEEDED"), Reply("SOMETHING")}));
  malformed.push_back(
      Reply({Reply("DONE"), Reply("FAILED"), Reply("REVERSED")}));
  for (const RedisReply& reply : malformed) {
    ExpectMalformed(ParseSettleFinishReply(reply).status(), "settle_finish");
  }
}

// --- wallet_pay ------------------------------------------------------------

TEST_F(SettlementScriptsTest, WalletPaySendsTheMembersWalletAndItsArguments) {
  ScriptCall call = BuildWalletPayCall(
      keys_, WalletPayRequest{.mode = WalletPayRequest::Mode::kPay,
                              .book = WalletPayRequest::Book::kCoupon,
                              .member_id = "m-1",
                              .refund_id = "rf_1",
                              .currency = "EUR",
                              .amount_minor = 1250});
  EXPECT_THAT(call.keys, ElementsAre(keys_.WalletKey(p_, "m-1")));
  ExpectOneSlot(call.keys);
  // ARGV[1] mode, ARGV[2] book, ARGV[3] refund id, ARGV[4] currency,
  // ARGV[5] amount.
  EXPECT_THAT(call.args, ElementsAre("pay", "coupon", "rf_1", "EUR", "1250"));

  ScriptCall lookup = BuildWalletPayCall(
      keys_, WalletPayRequest{.mode = WalletPayRequest::Mode::kLookup,
                              .book = WalletPayRequest::Book::kWallet,
                              .member_id = "m-1",
                              .refund_id = "rf_1",
                              .currency = "EUR",
                              .amount_minor = 0});
  EXPECT_THAT(lookup.args, ElementsAre("lookup", "wallet", "rf_1", "EUR", "0"));
}

TEST_F(SettlementScriptsTest, EveryWalletPayAnswerParses) {
  auto ok = ParseWalletPayReply(Reply({Reply("OK"), Reply("wallet:rf_1")}));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->answer, WalletPayAnswer::kOk);
  EXPECT_EQ(ok->reference, "wallet:rf_1");
  auto not_found = ParseWalletPayReply(Reply({Reply("NOT_FOUND")}));
  ASSERT_TRUE(not_found.ok()) << not_found.status();
  EXPECT_EQ(not_found->answer, WalletPayAnswer::kNotFound);
}

TEST_F(SettlementScriptsTest, MalformedWalletPayRepliesAreInternal) {
  std::vector<RedisReply> malformed = NotAnAnswer();
  malformed.push_back(Reply({Reply("OK")}));  // No reference.
  malformed.push_back(Reply({Reply("OK"), NilReply()}));
  malformed.push_back(Reply({Reply("CREDITED"), Reply("wallet:rf_1")}));
  for (const RedisReply& reply : malformed) {
    ExpectMalformed(ParseWalletPayReply(reply).status(), "wallet_pay");
  }
}

// --- sandbox_pay -----------------------------------------------------------

TEST_F(SettlementScriptsTest, SandboxPaySendsThePartitionsBooksAndArguments) {
  const std::pair<SandboxPayRequest::Mode, const char*> modes[] = {
      {SandboxPayRequest::Mode::kPay, "pay"},
      {SandboxPayRequest::Mode::kDecline, "decline"},
      {SandboxPayRequest::Mode::kLookup, "lookup"}};
  for (const auto& [mode, name] : modes) {
    ScriptCall call = BuildSandboxPayCall(
        keys_, SandboxPayRequest{.mode = mode,
                                 .member_id = "m-1",
                                 .refund_id = "rf_1",
                                 .amount_minor = 1250,
                                 .reference = "sbx_re_rf_1",
                                 .decline_reason = "card_declined"});
    EXPECT_THAT(call.keys, ElementsAre(keys_.SandboxPaymentsKey(p_)));
    ExpectOneSlot(call.keys);
    // ARGV[1] mode, ARGV[2] refund id, ARGV[3] amount, ARGV[4] reference,
    // ARGV[5] decline reason.
    EXPECT_THAT(call.args, ElementsAre(name, "rf_1", "1250", "sbx_re_rf_1",
                                       "card_declined"));
  }
}

TEST_F(SettlementScriptsTest, EverySandboxPayAnswerParses) {
  auto paid = ParseSandboxPayReply(Reply({Reply("SUCCEEDED"), Reply("re_1")}));
  ASSERT_TRUE(paid.ok()) << paid.status();
  EXPECT_EQ(paid->answer, SandboxPayAnswer::kSucceeded);
  EXPECT_EQ(paid->reference, "re_1");
  auto declined =
      ParseSandboxPayReply(Reply({Reply("DECLINED"), Reply("card_declined")}));
  ASSERT_TRUE(declined.ok()) << declined.status();
  EXPECT_EQ(declined->answer, SandboxPayAnswer::kDeclined);
  EXPECT_EQ(declined->decline_reason, "card_declined");
  EXPECT_EQ(declined->reference, "");
  auto not_found = ParseSandboxPayReply(Reply({Reply("NOT_FOUND")}));
  ASSERT_TRUE(not_found.ok()) << not_found.status();
  EXPECT_EQ(not_found->answer, SandboxPayAnswer::kNotFound);
}

TEST_F(SettlementScriptsTest, MalformedSandboxPayRepliesAreInternal) {
  std::vector<RedisReply> malformed = NotAnAnswer();
  malformed.push_back(Reply({Reply("SUCCEEDED")}));  // No reference.
  malformed.push_back(Reply({Reply("DECLINED")}));   // No reason.
  malformed.push_back(Reply({Reply("DECLINED"), Reply(int64_t{7})}));
  malformed.push_back(Reply({Reply("PAID"), Reply("re_1")}));
  for (const RedisReply& reply : malformed) {
    ExpectMalformed(ParseSandboxPayReply(reply).status(), "sandbox_pay");
  }
}

// --- reconcile_refund ------------------------------------------------------

TEST_F(SettlementScriptsTest, ReconcileRefundSendsTheRefundsKeysAndArguments) {
  ScriptCall call = BuildReconcileRefundCall(
      keys_, ReconcileRefundRequest{.partition = p_,
                                    .refund_id = "rf_1",
                                    .now = kNow,
                                    .actor = "operator:reconcile",
                                    .reason = "reconciled:paid"});
  EXPECT_THAT(call.keys,
              ElementsAre(keys_.RefundKey(p_, "rf_1"),
                          keys_.RefundEventsKey(p_, "rf_1"),
                          keys_.RefundFeedKey(p_), keys_.AttentionKey(p_)));
  ExpectOneSlot(call.keys);
  // ARGV[1] now ms, ARGV[2] actor, ARGV[3] reason.
  EXPECT_THAT(call.args, ElementsAre("1780272000123", "operator:reconcile",
                                     "reconciled:paid"));
}

TEST_F(SettlementScriptsTest, EveryReconcileRefundAnswerParses) {
  auto parse = [](std::vector<RedisReply> e) {
    return ParseReconcileRefundReply(Reply(std::move(e)));
  };
  EXPECT_EQ(parse({Reply("REOPENED")})->answer,
            ReconcileRefundAnswer::kReopened);
  EXPECT_EQ(parse({Reply("NOT_SENT")})->answer,
            ReconcileRefundAnswer::kNotSent);
  EXPECT_EQ(parse({Reply("MISSING")})->answer, ReconcileRefundAnswer::kMissing);
  auto skipped = parse({Reply("SKIPPED"), Reply("SUCCEEDED")});
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  EXPECT_EQ(skipped->answer, ReconcileRefundAnswer::kSkipped);
  EXPECT_EQ(skipped->state, "SUCCEEDED");
  for (ReconcileRefundAnswer answer :
       {ReconcileRefundAnswer::kReopened, ReconcileRefundAnswer::kNotSent,
        ReconcileRefundAnswer::kSkipped, ReconcileRefundAnswer::kMissing}) {
    auto parsed = parse({Reply(ReconcileRefundAnswerName(answer)), Reply("x")});
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->answer, answer);
  }
}

TEST_F(SettlementScriptsTest, MalformedReconcileRefundRepliesAreInternal) {
  std::vector<RedisReply> malformed = NotAnAnswer();
  malformed.push_back(Reply({Reply("SKIPPED")}));  // No state.
  malformed.push_back(Reply({Reply("REOPEN")}));
  for (const RedisReply& reply : malformed) {
    ExpectMalformed(ParseReconcileRefundReply(reply).status(),
                    "reconcile_refund");
  }
}

// --- The providers over their scripts --------------------------------------

PayoutRequest APayout() {
  PayoutRequest request;
  request.refund_id = "rf_1";
  request.member_id = "m-1";
  request.order_id = "o-1";
  request.amount_minor = 1250;
  request.currency = "EUR";
  return request;
}

// The provider's answer to one Pay (or Lookup), synchronously on FakeRedis.
template <typename Provider>
PayoutResult PayWith(Provider& provider, bool lookup = false) {
  PayoutResult out{PayoutOutcome::kNotFound, "unset", "unset"};
  auto done = [&out](PayoutResult r) { out = std::move(r); };
  if (lookup) {
    provider.Lookup(APayout(), done);
  } else {
    provider.Pay(APayout(), done);
  }
  return out;
}

TEST_F(SettlementScriptsTest, WalletProviderReadsEachWalletPayAnswer) {
  FakeRedis redis;
  WalletProvider coupon(redis, keys_, WalletProvider::Kind::kCoupon);
  redis.Answer("wallet_pay", Reply({Reply("OK"), Reply("coupon:rf_1")}));
  PayoutResult paid = PayWith(coupon);
  EXPECT_EQ(paid.outcome, PayoutOutcome::kSucceeded);
  EXPECT_EQ(paid.provider_reference, "coupon:rf_1");
  EXPECT_EQ(paid.reason, "credited");
  ASSERT_EQ(redis.calls("wallet_pay").size(), 1u);
  EXPECT_THAT(redis.calls("wallet_pay")[0].keys,
              ElementsAre(keys_.WalletKey(p_, "m-1")));
  EXPECT_THAT(redis.calls("wallet_pay")[0].args,
              ElementsAre("pay", "coupon", "rf_1", "EUR", "1250"));

  redis.Answer("wallet_pay", Reply({Reply("NOT_FOUND")}));
  EXPECT_EQ(PayWith(coupon, /*lookup=*/true).outcome, PayoutOutcome::kNotFound);
  EXPECT_EQ(redis.calls("wallet_pay")[1].args[0], "lookup");

  // Unreadable or unanswered: unknown, never "not found" (which pays).
  redis.Answer("wallet_pay", Reply({Reply("OK")}));
  PayoutResult malformed = PayWith(coupon, /*lookup=*/true);
  EXPECT_EQ(malformed.outcome, PayoutOutcome::kUnknown);
  EXPECT_EQ(malformed.reason, "malformed_reply");
  redis.Inject("wallet_pay", FakeRedis::Fault::kTimeout);
  PayoutResult lost = PayWith(coupon, /*lookup=*/true);
  EXPECT_EQ(lost.outcome, PayoutOutcome::kUnknown);
  EXPECT_EQ(lost.reason, "redis_unavailable");
}

TEST_F(SettlementScriptsTest, SandboxProviderReadsEachSandboxPayAnswer) {
  FakeRedis redis;
  SandboxProvider sandbox(redis, keys_, SandboxOptions{});
  redis.Answer("sandbox_pay",
               Reply({Reply("SUCCEEDED"), Reply("sbx_re_rf_1")}));
  PayoutResult paid = PayWith(sandbox);
  EXPECT_EQ(paid.outcome, PayoutOutcome::kSucceeded);
  EXPECT_EQ(paid.provider_reference, "sbx_re_rf_1");
  EXPECT_EQ(paid.reason, "paid");
  ASSERT_EQ(redis.calls("sandbox_pay").size(), 1u);
  EXPECT_THAT(redis.calls("sandbox_pay")[0].keys,
              ElementsAre(keys_.SandboxPaymentsKey(p_)));
  EXPECT_THAT(
      redis.calls("sandbox_pay")[0].args,
      ElementsAre("pay", "rf_1", "1250", "sbx_re_rf_1", "card_declined"));

  redis.Answer("sandbox_pay", Reply({Reply("DECLINED"), Reply("card_lost")}));
  PayoutResult declined = PayWith(sandbox);
  EXPECT_EQ(declined.outcome, PayoutOutcome::kDeclined);
  EXPECT_EQ(declined.reason, "card_lost");

  redis.Answer("sandbox_pay", Reply({Reply("NOT_FOUND")}));
  EXPECT_EQ(PayWith(sandbox, /*lookup=*/true).outcome,
            PayoutOutcome::kNotFound);
  EXPECT_EQ(redis.calls("sandbox_pay")[2].args[0], "lookup");

  redis.Answer("sandbox_pay", Reply({Reply("SUCCEEDED")}));
  PayoutResult malformed = PayWith(sandbox, /*lookup=*/true);
  EXPECT_EQ(malformed.outcome, PayoutOutcome::kUnknown);
  EXPECT_EQ(malformed.reason, "malformed_reply");
  redis.Inject("sandbox_pay", FakeRedis::Fault::kTimeout);
  PayoutResult lost = PayWith(sandbox, /*lookup=*/true);
  EXPECT_EQ(lost.outcome, PayoutOutcome::kUnknown);
  EXPECT_EQ(lost.reason, "unreachable");
}

}  // namespace
}  // namespace makegood::settlement
