// SettlementWorker on a FakeRedis and fake providers: one pass of its read
// loop at a time (Poll), the settle scripts answered by the test.
#include "services/settlement/worker.h"

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_redis.h"

namespace makegood::settlement {
namespace {

using redis::RedisReply;
using ::testing::ElementsAre;
using testing::FakeRedis;
using testing::NilReply;
using testing::Reply;

using Result = absl::StatusOr<RedisReply>;

constexpr int64_t kNowMs = 1'700'000'060'000;
constexpr int64_t kAcceptedMs = 1'700'000'000'000;  // A minute before.

// Answers scripted per call; records every request.
class FakeProvider final : public PaymentProvider {
 public:
  explicit FakeProvider(std::string name) : name_(std::move(name)) {}
  absl::string_view name() const override { return name_; }
  void Pay(const PayoutRequest& request,
           absl::AnyInvocable<void(PayoutResult)> done) override {
    paid.push_back(request);
    done(Next(pay_answers));
  }
  void Lookup(const PayoutRequest& request,
              absl::AnyInvocable<void(PayoutResult)> done) override {
    looked_up.push_back(request);
    done(Next(lookup_answers));
  }

  std::deque<PayoutResult> pay_answers;
  std::deque<PayoutResult> lookup_answers;
  std::vector<PayoutRequest> paid;
  std::vector<PayoutRequest> looked_up;

 private:
  static PayoutResult Next(std::deque<PayoutResult>& answers) {
    if (answers.empty()) return {PayoutOutcome::kUnknown, "", "unscripted"};
    PayoutResult r = answers.front();
    answers.pop_front();
    return r;
  }
  std::string name_;
};

RedisReply OutboxEntry(std::string id, std::vector<std::string> kv) {
  std::vector<RedisReply> fields;
  for (std::string& s : kv) fields.push_back(Reply(std::move(s)));
  return Reply({Reply(std::move(id)), Reply(std::move(fields))});
}

std::vector<std::string> Accepted(std::string refund_id) {
  return {"type",         "refund_accepted",
          "refund_id",    std::move(refund_id),
          "member_id",    "m1",
          "order_id",     "o1",
          "amount_minor", "1250",
          "currency",     "EUR"};
}

// settle_begin.lua's answer for a refund to pay with `provider`.
RedisReply Begun(std::string tag, std::string provider) {
  return Reply({Reply(std::move(tag)), Reply(std::move(provider)),
                Reply("1250"), Reply("EUR"), Reply(""), Reply("m1"),
                Reply("o1"), Reply("pi_1"), Reply("1"),
                Reply(absl::StrCat(kAcceptedMs))});
}

class SettlementWorkerTest : public ::testing::Test {
 protected:
  SettlementWorkerTest() : keys_(*store::KeySchema::Create(2)) {
    options_.consumer = "w1";
    // Alone in its group: it owns every partition (streams/membership.h).
    redis_.On("membership", [](const testing::FakeRedis::Call&) {
      return absl::StatusOr<redis::RedisReply>(
          testing::Reply({testing::Reply("w1")}));
    });
    options_.retry_after = absl::Seconds(4);
    options_.max_deliveries = 3;
    options_.monotonic_now = [this] { return monotonic_; };
    options_.sleep = [](absl::Duration) {};
    options_.on_result = [this](absl::string_view p, absl::string_view r) {
      results_.push_back(absl::StrCat(p, ":", r));
    };
    redis_.On("XGROUP",
              [](const FakeRedis::Call&) -> Result { return Reply("OK"); });
    redis_.On("XREADGROUP",
              [](const FakeRedis::Call&) -> Result { return NilReply(); });
    redis_.On("XAUTOCLAIM", [](const FakeRedis::Call&) -> Result {
      return Reply({Reply("0-0"), Reply(std::vector<RedisReply>{})});
    });
  }

  std::unique_ptr<SettlementWorker> Make() {
    auto worker = std::make_unique<SettlementWorker>(
        redis_, keys_, clock_,
        absl::flat_hash_map<std::string, PaymentProvider*>{
            {"wallet", &wallet_}, {"coupon", &coupon_}, {"sandbox", &card_}},
        options_);
    EXPECT_TRUE(worker->Open([this] { return Client(); }).ok());
    return worker;
  }

  absl::StatusOr<std::unique_ptr<redis::RedisClient>> Client() {
    return testing::Borrow(redis_);
  }

  // The next new read returns `entry` from partition 1's outbox (after the
  // own-pending read, which finds nothing).
  void QueueNew(RedisReply entry) {
    redis_.Answer("XREADGROUP", NilReply());
    redis_.Answer(
        "XREADGROUP",
        Reply({Reply({Reply(keys_.OutboxKey(1)), Reply({std::move(entry)})})}));
  }

  // The next reclaim of partition 1 takes `entry`, delivered `deliveries`
  // times.
  void QueueReclaim(RedisReply entry, int64_t deliveries) {
    std::string id = entry.elements[0].str;
    redis_.Answer("XAUTOCLAIM",
                  Reply({Reply("0-0"), Reply(std::vector<RedisReply>{})}));
    redis_.Answer("XAUTOCLAIM",
                  Reply({Reply("0-0"), Reply({std::move(entry)})}));
    redis_.Answer("XPENDING",
                  Reply({Reply({Reply(id), Reply("w0"), Reply(int64_t{9000}),
                                Reply(deliveries)})}));
  }

  FakeRedis redis_;
  store::KeySchema keys_;
  testing::FakeClock clock_{absl::FromUnixMillis(kNowMs)};
  WorkerOptions options_;
  absl::Duration monotonic_ = absl::Seconds(100);
  FakeProvider wallet_{"wallet"};
  FakeProvider coupon_{"coupon"};
  FakeProvider card_{"sandbox"};
  std::vector<std::string> results_;
};

TEST_F(SettlementWorkerTest, SettlesAnAcceptedRefundAndAcksItInTheFinishStep) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.Answer("settle_begin", Begun("SETTLE", "sandbox"));
  card_.pay_answers.push_back({PayoutOutcome::kSucceeded, "re_1", ""});
  redis_.Answer("settle_finish", Reply({Reply("DONE"), Reply("SUCCEEDED")}));
  auto worker = Make();
  worker->Poll();

  auto begin = redis_.calls("settle_begin");
  ASSERT_EQ(begin.size(), 1u);
  EXPECT_THAT(begin[0].keys, ElementsAre(keys_.RefundKey(1, "rf_1"),
                                         keys_.RefundEventsKey(1, "rf_1"),
                                         keys_.RefundFeedKey(1)));
  EXPECT_THAT(begin[0].args,
              ElementsAre(absl::StrCat(kNowMs), "sandbox", "settlement:w1"));
  ASSERT_EQ(card_.paid.size(), 1u);
  EXPECT_EQ(card_.paid[0].refund_id, "rf_1");
  EXPECT_EQ(card_.paid[0].payment_reference, "pi_1");
  EXPECT_EQ(card_.paid[0].amount_minor, 1250);

  auto finish = redis_.calls("settle_finish");
  ASSERT_EQ(finish.size(), 1u);
  EXPECT_THAT(
      finish[0].keys,
      ElementsAre(keys_.RefundKey(1, "rf_1"), keys_.RefundEventsKey(1, "rf_1"),
                  keys_.RefundFeedKey(1), keys_.OutboxKey(1),
                  keys_.LedgerKey(1), keys_.LedgerBalancesKey(1),
                  keys_.OrderKeyIn(1, "o1"), keys_.WalletKey(1, "m1"),
                  keys_.NotificationsKey(1), keys_.DeadOutboxKey(1),
                  keys_.TasksKey(1), keys_.AttentionKey(1)));
  EXPECT_THAT(finish[0].args,
              ElementsAre(absl::StrCat(kNowMs), "succeeded", "re_1", "paid",
                          "5-0", "settlement", "wallet", "settlement:w1", "1",
                          "type=refund_accepted refund_id=rf_1 member_id=m1 "
                          "order_id=o1 amount_minor=1250 currency=EUR"));
  WorkerStats stats = worker->stats();
  EXPECT_EQ(stats.succeeded, 1u);
  EXPECT_EQ(stats.lag_total, absl::Minutes(1));
  EXPECT_EQ(stats.lag_max, absl::Minutes(1));
  EXPECT_THAT(results_, ElementsAre("sandbox:succeeded"));
  EXPECT_TRUE(redis_.unexpected().empty());
}

TEST_F(SettlementWorkerTest, ADeclinedRefundIsRecordedAsDeclined) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.Answer("settle_begin", Begun("SETTLE", "sandbox"));
  card_.pay_answers.push_back({PayoutOutcome::kDeclined, "", "card_closed"});
  redis_.Answer("settle_finish", Reply({Reply("DONE"), Reply("FAILED")}));
  auto worker = Make();
  worker->Poll();
  auto finish = redis_.calls("settle_finish");
  ASSERT_EQ(finish.size(), 1u);
  EXPECT_EQ(finish[0].args[1], "declined");
  EXPECT_EQ(finish[0].args[3], "card_closed");
  EXPECT_EQ(worker->stats().failed, 1u);
  EXPECT_EQ(worker->stats().succeeded, 0u);
}

TEST_F(SettlementWorkerTest,
       AnUnknownAnswerIsRetriedAfterRetryAfterLookingUpFirst) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.Answer("settle_begin", Begun("SETTLE", "sandbox"));
  card_.pay_answers.push_back({PayoutOutcome::kUnknown, "", "timeout"});
  auto worker = Make();
  worker->Poll();
  EXPECT_EQ(redis_.count("settle_finish"), 0);  // Left pending.
  EXPECT_EQ(worker->stats().unknown, 1u);
  EXPECT_THAT(results_, ElementsAre("sandbox:unknown"));

  // Not yet: the next reclaim is due after retry_after / 2.
  monotonic_ += absl::Seconds(1);
  worker->Poll();
  EXPECT_EQ(redis_.count("XAUTOCLAIM"), 2);

  // Then the entry, idle for retry_after, is taken over and resumed.
  QueueReclaim(OutboxEntry("5-0", Accepted("rf_1")), 2);
  redis_.Answer("settle_begin", Begun("RESUME", "sandbox"));
  card_.lookup_answers.push_back({PayoutOutcome::kNotFound, "", ""});
  card_.pay_answers.push_back({PayoutOutcome::kSucceeded, "re_1", ""});
  redis_.Answer("settle_finish", Reply({Reply("DONE"), Reply("SUCCEEDED")}));
  monotonic_ += absl::Seconds(1);
  worker->Poll();
  auto claims = redis_.calls("XAUTOCLAIM");
  ASSERT_EQ(claims.size(), 4u);
  EXPECT_EQ(claims[3].argv[4], "4000");  // Min idle: retry_after.
  EXPECT_EQ(card_.looked_up.size(), 1u);
  EXPECT_EQ(card_.paid.size(), 2u);
  auto finish = redis_.calls("settle_finish");
  ASSERT_EQ(finish.size(), 1u);
  EXPECT_EQ(finish[0].args[8], "2");  // Deliveries.
  WorkerStats stats = worker->stats();
  EXPECT_EQ(stats.resumed, 1u);
  EXPECT_EQ(stats.reclaimed, 1u);
  EXPECT_EQ(stats.succeeded, 1u);
}

TEST_F(SettlementWorkerTest, AResumedRefundTheProviderPaidIsNotPaidAgain) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.Answer("settle_begin", Begun("RESUME", "wallet"));
  wallet_.lookup_answers.push_back({PayoutOutcome::kSucceeded, "w_1", ""});
  redis_.Answer("settle_finish", Reply({Reply("DONE"), Reply("SUCCEEDED")}));
  auto worker = Make();
  worker->Poll();
  EXPECT_TRUE(wallet_.paid.empty());
  ASSERT_EQ(redis_.calls("settle_finish").size(), 1u);
  EXPECT_EQ(redis_.calls("settle_finish")[0].args[2], "w_1");
}

TEST_F(SettlementWorkerTest, NotFinalLeavesTheEntryPendingAndCountsIt) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.Answer("settle_begin", Begun("SETTLE", "sandbox"));
  card_.pay_answers.push_back({PayoutOutcome::kSucceeded, "re_1", ""});
  redis_.Answer("settle_finish",
                Reply({Reply("NOT_FINAL"), Reply("ACCEPTED")}));
  auto worker = Make();
  worker->Poll();
  WorkerStats stats = worker->stats();
  EXPECT_EQ(stats.not_final, 1u);
  EXPECT_EQ(stats.succeeded, 0u);
  EXPECT_EQ(stats.lag_total, absl::ZeroDuration());
  // Still pending, not in flight: the next claim begins it again.
  QueueReclaim(OutboxEntry("5-0", Accepted("rf_1")), 2);
  redis_.Answer("settle_begin", Result(absl::UnavailableError("down")));
  monotonic_ += absl::Seconds(2);
  worker->Poll();
  EXPECT_EQ(redis_.count("settle_begin"), 2);
}

TEST_F(SettlementWorkerTest,
       PastMaxDeliveriesTheRefundIsSetAsideForAnOperator) {
  auto worker = Make();
  worker->Poll();
  QueueReclaim(OutboxEntry("5-0", Accepted("rf_1")), 4);
  redis_.Answer("settle_finish",
                Reply({Reply("DONE"), Reply("NEEDS_ATTENTION")}));
  monotonic_ += absl::Seconds(2);
  worker->Poll();
  EXPECT_EQ(redis_.count("settle_begin"), 0);
  auto finish = redis_.calls("settle_finish");
  ASSERT_EQ(finish.size(), 1u);
  EXPECT_EQ(finish[0].args[1], "attention");
  EXPECT_EQ(finish[0].args[3], "max_deliveries_exceeded");
  EXPECT_EQ(finish[0].args[8], "4");
  EXPECT_EQ(finish[0].keys[9], keys_.DeadOutboxKey(1));
  EXPECT_EQ(finish[0].keys[11], keys_.AttentionKey(1));
  WorkerStats stats = worker->stats();
  EXPECT_EQ(stats.attention, 1u);
  EXPECT_EQ(stats.dead_letters, 1u);
  EXPECT_EQ(redis_.count("XADD"), 0);  // The script dead-letters, not XADD.
}

TEST_F(SettlementWorkerTest, APoisonEntryIsLeftPendingThenDeadLettered) {
  QueueNew(OutboxEntry("5-0", {"type", "something_else"}));
  auto worker = Make();
  worker->Poll();
  EXPECT_EQ(redis_.count("settle_begin"), 0);
  EXPECT_EQ(redis_.count("settle_finish"), 0);
  QueueReclaim(OutboxEntry("5-0", {"type", "something_else"}), 4);
  redis_.Answer("settle_finish", Reply({Reply("DEAD")}));
  monotonic_ += absl::Seconds(2);
  worker->Poll();
  auto finish = redis_.calls("settle_finish");
  ASSERT_EQ(finish.size(), 1u);
  // Keys of the outbox's own partition even without ids.
  EXPECT_EQ(finish[0].keys[0], keys_.RefundKey(1, ""));
  EXPECT_EQ(worker->stats().dead_letters, 1u);
}

TEST_F(SettlementWorkerTest, ARefundAlreadyFinalIsAcknowledgedWithoutPaying) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.Answer("settle_begin", Reply({Reply("FINAL"), Reply("SUCCEEDED")}));
  redis_.Answer("settle_finish", Reply({Reply("ALREADY"), Reply("SUCCEEDED")}));
  auto worker = Make();
  worker->Poll();
  EXPECT_TRUE(card_.paid.empty());
  auto finish = redis_.calls("settle_finish");
  ASSERT_EQ(finish.size(), 1u);
  EXPECT_EQ(finish[0].args[1], "ack");
  EXPECT_EQ(finish[0].args[3], "already_final");
  EXPECT_EQ(worker->stats().succeeded, 0u);
}

TEST_F(SettlementWorkerTest,
       ALostBeginReplyPaysNothingAndLeavesTheEntryPending) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.On("settle_begin", [](const FakeRedis::Call&) -> Result {
    return Begun("SETTLE", "sandbox");
  });
  redis_.Inject("settle_begin", FakeRedis::Fault::kLoseReply);
  auto worker = Make();
  worker->Poll();
  EXPECT_TRUE(card_.paid.empty());
  EXPECT_EQ(redis_.count("settle_finish"), 0);
}

TEST_F(SettlementWorkerTest, AReversalOnSettlingIsCounted) {
  QueueNew(OutboxEntry("5-0", Accepted("rf_1")));
  redis_.Answer("settle_begin", Begun("SETTLE", "coupon"));
  coupon_.pay_answers.push_back({PayoutOutcome::kSucceeded, "c_1", ""});
  redis_.Answer("settle_finish",
                Reply({Reply("DONE"), Reply("SUCCEEDED"), Reply("REVERSED")}));
  auto worker = Make();
  worker->Poll();
  EXPECT_EQ(coupon_.paid.size(), 1u);
  EXPECT_EQ(worker->stats().reversed, 1u);
  EXPECT_EQ(worker->stats().succeeded, 1u);
}

TEST_F(SettlementWorkerTest, AMissingProviderIsRefusedAtStart) {
  SettlementWorker worker(
      redis_, keys_, clock_,
      absl::flat_hash_map<std::string, PaymentProvider*>{{"wallet", &wallet_}},
      options_);
  EXPECT_EQ(worker.Open([this] { return Client(); }).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace makegood::settlement
