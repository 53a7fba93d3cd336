// The insights Aggregator on a FakeRedis: one pass of its read loop at a
// time (Poll), fold_decision.lua answered by the test.
#include "services/insights/aggregator.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_redis.h"

namespace makegood::insights {
namespace {

using redis::RedisReply;
using ::testing::ElementsAre;
using testing::FakeRedis;
using testing::NilReply;
using testing::Reply;

using Result = absl::StatusOr<RedisReply>;

constexpr int64_t kNowMs = 1'700'000'060'000;

RedisReply Fields(std::vector<std::string> kv) {
  std::vector<RedisReply> fields;
  for (std::string& s : kv) fields.push_back(Reply(std::move(s)));
  return Reply(std::move(fields));
}

std::vector<std::string> Decision() {
  return {"rating_id",    "r1",  "at_ms",      "1700000000000",
          "satisfaction", "80",  "outcome",    "REFUND",
          "refund_minor", "500", "currency",   "EUR",
          "store_id",     "st1", "courier_id", "co1",
          "lines",        "1",   "sku.0",      "sku1",
          "sat.0",        "80",  "refund.0",   "500"};
}

RedisReply Folded(int64_t counted) {
  return Reply({Reply("OK"), Reply(int64_t{1}), Reply(counted)});
}

class AggregatorTest : public ::testing::Test {
 protected:
  AggregatorTest() : keys_(*store::KeySchema::Create(2)) {
    options_.consumer = "a1";
    // Alone in its group: it owns every partition (streams/membership.h).
    redis_.On("membership", [](const testing::FakeRedis::Call&) {
      return absl::StatusOr<redis::RedisReply>(
          testing::Reply({testing::Reply("a1")}));
    });
    options_.retry_after = absl::Seconds(10);
    options_.monotonic_now = [this] { return monotonic_; };
    options_.sleep = [](absl::Duration) {};
    redis_.On("XGROUP",
              [](const FakeRedis::Call&) -> Result { return Reply("OK"); });
    redis_.On("XREADGROUP",
              [](const FakeRedis::Call&) -> Result { return NilReply(); });
    redis_.On("XAUTOCLAIM", [](const FakeRedis::Call&) -> Result {
      return Reply({Reply("0-0"), Reply(std::vector<RedisReply>{})});
    });
  }

  std::unique_ptr<Aggregator> Make() {
    auto aggregator =
        std::make_unique<Aggregator>(redis_, keys_, clock_, options_);
    EXPECT_TRUE(aggregator->Open([this] { return Client(); }).ok());
    return aggregator;
  }

  absl::StatusOr<std::unique_ptr<redis::RedisClient>> Client() {
    return testing::Borrow(redis_);
  }

  // The next new read returns entry `id` with `fields` from partition 1.
  void QueueNew(std::string id, RedisReply fields) {
    redis_.Answer("XREADGROUP", NilReply());  // Own pending: none.
    redis_.Answer(
        "XREADGROUP",
        Reply({Reply(
            {Reply(keys_.DecisionsKey(1)),
             Reply({Reply({Reply(std::move(id)), std::move(fields)})})})}));
  }

  FakeRedis redis_;
  store::KeySchema keys_;
  testing::FakeClock clock_{absl::FromUnixMillis(kNowMs)};
  AggregatorOptions options_;
  absl::Duration monotonic_ = absl::Seconds(100);
};

TEST_F(AggregatorTest, FoldsADecisionIntoEachSubjectsBucketsAndAcksIt) {
  QueueNew("7-0", Fields(Decision()));
  redis_.Answer("fold_decision", Folded(1));
  auto aggregator = Make();
  aggregator->Poll();
  auto folds = redis_.calls("fold_decision");
  ASSERT_EQ(folds.size(), 1u);
  EXPECT_THAT(folds[0].keys,
              ElementsAre(keys_.DecisionsKey(1),
                          keys_.InsightsKey(1, "store", "m", "st1"),
                          keys_.InsightsKey(1, "store", "h", "st1"),
                          keys_.InsightsKey(1, "courier", "m", "co1"),
                          keys_.InsightsKey(1, "courier", "h", "co1"),
                          keys_.InsightsKey(1, "sku", "m", "sku1"),
                          keys_.InsightsKey(1, "sku", "h", "sku1")));
  ASSERT_GE(folds[0].args.size(), 7u);
  EXPECT_EQ(folds[0].args[0], "insights");  // The group it XACKs.
  EXPECT_EQ(folds[0].args[1], "7-0");
  EXPECT_EQ(folds[0].args[2], absl::StrCat(kNowMs));
  EXPECT_EQ(folds[0].args[3], "1700000000000");
  EXPECT_EQ(folds[0].args[6], "EUR");
  AggregatorStats stats = aggregator->stats();
  EXPECT_EQ(stats.folded, 1u);
  EXPECT_EQ(stats.skipped + stats.stale + stats.failed, 0u);
  EXPECT_TRUE(redis_.unexpected().empty());
}

TEST_F(AggregatorTest, TooOldAndRepeatedEventsAreCountedAsSuch) {
  QueueNew("7-0", Fields(Decision()));
  redis_.Answer("fold_decision", Folded(0));
  auto aggregator = Make();
  aggregator->Poll();
  EXPECT_EQ(aggregator->stats().stale, 1u);
  redis_.Answer(
      "XREADGROUP",
      Reply({Reply({Reply(keys_.DecisionsKey(0)),
                    Reply({Reply({Reply("8-0"), Fields(Decision())})})})}));
  redis_.Answer("fold_decision", Reply({Reply("DUP")}));
  aggregator->Poll();
  EXPECT_EQ(aggregator->stats().duplicates, 1u);
  EXPECT_EQ(redis_.calls("fold_decision")[1].keys[0], keys_.DecisionsKey(0));
  EXPECT_EQ(aggregator->stats().folded, 0u);
}

TEST_F(AggregatorTest, AMalformedEventIsAcknowledgedWithoutBeingCounted) {
  std::vector<std::string> bad = Decision();
  bad[3] = "yesterday";  // at_ms.
  QueueNew("7-0", Fields(bad));
  redis_.Answer("fold_decision", Folded(0));
  auto aggregator = Make();
  aggregator->Poll();
  auto folds = redis_.calls("fold_decision");
  ASSERT_EQ(folds.size(), 1u);
  EXPECT_THAT(folds[0].keys, ElementsAre(keys_.DecisionsKey(1)));
  EXPECT_EQ(folds[0].args[1], "7-0");
  EXPECT_EQ(folds[0].args[3], "0");  // No time, no contributions.
  AggregatorStats stats = aggregator->stats();
  EXPECT_EQ(stats.skipped, 1u);
  EXPECT_EQ(stats.folded + stats.stale, 0u);
}

TEST_F(AggregatorTest, ATrimmedEntryIsAcknowledgedWithoutBeingCounted) {
  QueueNew("7-0", NilReply());
  redis_.Answer("fold_decision", Folded(0));
  auto aggregator = Make();
  aggregator->Poll();
  EXPECT_EQ(redis_.count("fold_decision"), 1);
  EXPECT_EQ(aggregator->stats().skipped, 1u);
}

TEST_F(AggregatorTest, AFailedFoldStaysPendingAndIsFoldedOnTheNextClaim) {
  QueueNew("7-0", Fields(Decision()));
  redis_.Inject("fold_decision", FakeRedis::Fault::kTimeout);
  auto aggregator = Make();
  aggregator->Poll();
  EXPECT_EQ(aggregator->stats().failed, 1u);
  EXPECT_EQ(aggregator->stats().folded, 0u);

  redis_.Answer("XAUTOCLAIM",
                Reply({Reply("0-0"), Reply(std::vector<RedisReply>{})}));
  redis_.Answer("XAUTOCLAIM",
                Reply({Reply("0-0"),
                       Reply({Reply({Reply("7-0"), Fields(Decision())})})}));
  redis_.Answer("fold_decision", Folded(1));
  monotonic_ += absl::Seconds(5);  // retry_after / 2.
  aggregator->Poll();
  auto claims = redis_.calls("XAUTOCLAIM");
  ASSERT_EQ(claims.size(), 4u);
  EXPECT_THAT(claims[3].argv,
              ElementsAre("XAUTOCLAIM", keys_.DecisionsKey(1), "insights", "a1",
                          "10000", "0-0", "COUNT", "100"));
  EXPECT_EQ(redis_.count("XPENDING"), 0);  // Never dead-lettered.
  AggregatorStats stats = aggregator->stats();
  EXPECT_EQ(stats.folded, 1u);
  EXPECT_EQ(stats.reclaimed, 1u);
}

TEST_F(AggregatorTest, ALostFoldReplyIsADuplicateOnRetry) {
  QueueNew("7-0", Fields(Decision()));
  redis_.On("fold_decision",
            [](const FakeRedis::Call&) -> Result { return Folded(1); });
  redis_.Inject("fold_decision", FakeRedis::Fault::kLoseReply);
  auto aggregator = Make();
  aggregator->Poll();
  EXPECT_EQ(aggregator->stats().failed, 1u);
  redis_.Answer("XAUTOCLAIM",
                Reply({Reply("0-0"), Reply(std::vector<RedisReply>{})}));
  redis_.Answer("XAUTOCLAIM",
                Reply({Reply("0-0"),
                       Reply({Reply({Reply("7-0"), Fields(Decision())})})}));
  redis_.Answer("fold_decision", Reply({Reply("DUP")}));
  monotonic_ += absl::Seconds(5);
  aggregator->Poll();
  EXPECT_EQ(aggregator->stats().duplicates, 1u);
  EXPECT_EQ(aggregator->stats().folded, 0u);
}

TEST_F(AggregatorTest, BadOptionsAreRefused) {
  options_.read_count = 0;
  Aggregator aggregator(redis_, keys_, clock_, options_);
  EXPECT_EQ(aggregator.Open([this] { return Client(); }).code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace makegood::insights
