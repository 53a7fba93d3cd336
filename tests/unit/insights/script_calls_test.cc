// The typed calls of the insights scripts (fold_decision_script.h,
// read_stats_script.h): every key comes from KeySchema and all of one call's
// keys lie in one hash slot, every argument sits where the script reads it,
// and every reply shape parses or is refused as INTERNAL naming the script.
// Also: the decision event's field names are the ones both sides share.
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/insights/decision_event.h"
#include "services/insights/fold_decision_script.h"
#include "services/insights/read_stats_script.h"
#include "services/redis/key_slot.h"
#include "services/store/decision_event_schema.h"
#include "services/store/key_schema.h"
#include "tests/testing/fake_redis.h"

namespace makegood::insights {
namespace {

using ::makegood::testing::NilReply;
using ::makegood::testing::Reply;
using redis::RedisReply;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

const absl::Time kNow = absl::FromUnixMillis(1780272000123);

template <typename T>
void ExpectMalformed(const absl::StatusOr<T>& parsed,
                     const std::string& script) {
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(parsed.status().message(), HasSubstr(script));
}

class InsightsScriptCallsTest : public ::testing::Test {
 protected:
  InsightsScriptCallsTest() : keys_(*store::KeySchema::Create(16)) {}

  store::KeySchema keys_;
};

TEST_F(InsightsScriptCallsTest, AggregateKeysAreTheKeySchemasInsightsKeys) {
  EXPECT_EQ(
      AggregateKey(keys_, 3, Dimension::kCourier, Granularity::kMinute, "co1"),
      keys_.InsightsKey(3, "courier", "m", "co1"));
  EXPECT_EQ(AggregateKey(keys_, 3, Dimension::kSku, Granularity::kHour, "sku1"),
            keys_.InsightsKey(3, "sku", "h", "sku1"));
}

TEST_F(InsightsScriptCallsTest, FoldSendsTheStreamThenEachSubjectsBuckets) {
  store::ScriptCall call = BuildFoldDecisionCall(
      keys_,
      FoldDecisionRequest{.partition = 3,
                          .group = "insights",
                          .entry_id = "7-0",
                          .now = kNow,
                          .at_ms = 1780272000000,
                          .minute_buckets_kept = 120,
                          .hour_buckets_kept = 192,
                          .currency = "EUR",
                          .contributions = {{.dimension = Dimension::kStore,
                                             .subject = "st1",
                                             .satisfaction = 80,
                                             .refunded = true,
                                             .refund_minor = 500},
                                            {.dimension = Dimension::kSku,
                                             .subject = "sku1",
                                             .satisfaction = 40,
                                             .refunded = false,
                                             .refund_minor = 0}}});
  EXPECT_THAT(
      call.keys,
      ElementsAre(
          keys_.DecisionsKey(3),
          AggregateKey(keys_, 3, Dimension::kStore, Granularity::kMinute,
                       "st1"),
          AggregateKey(keys_, 3, Dimension::kStore, Granularity::kHour, "st1"),
          AggregateKey(keys_, 3, Dimension::kSku, Granularity::kMinute, "sku1"),
          AggregateKey(keys_, 3, Dimension::kSku, Granularity::kHour, "sku1")));
  for (const std::string& key : call.keys) {
    EXPECT_EQ(redis::KeySlot(key), redis::KeySlot(call.keys[0])) << key;
  }
  // ARGV[1..7], then satisfaction, refunded, refund_minor per subject.
  EXPECT_THAT(call.args, ElementsAre("insights", "7-0", "1780272000123",
                                     "1780272000000", "120", "192", "EUR", "80",
                                     "1", "500", "40", "0", "0"));
}

TEST_F(InsightsScriptCallsTest, AnAcknowledgeOnlyFoldSendsTheStreamAlone) {
  store::ScriptCall call = BuildFoldDecisionCall(
      keys_, FoldDecisionRequest{.partition = 1,
                                 .group = "insights",
                                 .entry_id = "8-0",
                                 .now = kNow,
                                 .at_ms = 0,
                                 .minute_buckets_kept = 120,
                                 .hour_buckets_kept = 192,
                                 .currency = "",
                                 .contributions = {}});
  EXPECT_THAT(call.keys, ElementsAre(keys_.DecisionsKey(1)));
  EXPECT_THAT(call.args, ElementsAre("insights", "8-0", "1780272000123", "0",
                                     "120", "192", ""));
}

TEST(FoldDecisionReply, ParsesDupAndOkWithItsTwoBits) {
  auto dup = ParseFoldDecisionReply(Reply({Reply("DUP")}));
  ASSERT_TRUE(dup.ok()) << dup.status();
  EXPECT_TRUE(dup->duplicate);
  auto ok = ParseFoldDecisionReply(
      Reply({Reply("OK"), Reply(int64_t{0}), Reply(int64_t{1})}));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_FALSE(ok->duplicate);
  EXPECT_FALSE(ok->minute_folded);
  EXPECT_TRUE(ok->hour_folded);
}

TEST(FoldDecisionReply, RefusesAShortOkABitOutOfRangeOrAnUnknownAnswer) {
  ExpectMalformed(
      ParseFoldDecisionReply(Reply({Reply("OK"), Reply(int64_t{1})})),
      "fold_decision");
  ExpectMalformed(ParseFoldDecisionReply(Reply(
                      {Reply("OK"), Reply(int64_t{1}), Reply(int64_t{2})})),
                  "fold_decision");
  ExpectMalformed(ParseFoldDecisionReply(Reply({Reply("STALE")})),
                  "fold_decision");
  ExpectMalformed(ParseFoldDecisionReply(NilReply()), "fold_decision");
}

TEST_F(InsightsScriptCallsTest, ReadStatsSendsTheAggregateAndTheBucketRange) {
  store::ScriptCall call = BuildReadStatsCall(
      keys_, ReadStatsRequest{.partition = 2,
                              .dimension = Dimension::kStore,
                              .granularity = Granularity::kHour,
                              .subject = "st1",
                              .first_bucket = 494500,
                              .last_bucket = 494523});
  EXPECT_THAT(call.keys, ElementsAre(AggregateKey(keys_, 2, Dimension::kStore,
                                                  Granularity::kHour, "st1")));
  EXPECT_THAT(call.args, ElementsAre("494500", "494523"));
}

TEST(ReadStatsReply, ReadsTheSumsAndTheMoneyPerCurrency) {
  auto reply = ParseReadStatsReply(Reply(
      {Reply(int64_t{4}), Reply(int64_t{310}), Reply(int64_t{1}), Reply("EUR"),
       Reply(int64_t{500}), Reply("USD"), Reply(int64_t{70})}));
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->ratings, 4);
  EXPECT_EQ(reply->satisfaction_sum, 310);
  EXPECT_EQ(reply->refunded_ratings, 1);
  EXPECT_THAT(reply->refunded_minor,
              ElementsAre(Pair("EUR", 500), Pair("USD", 70)));
  auto empty = ParseReadStatsReply(
      Reply({Reply(int64_t{0}), Reply(int64_t{0}), Reply(int64_t{0})}));
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_TRUE(empty->refunded_minor.empty());
}

TEST(ReadStatsReply, RefusesMissingSumsACurrencyWithoutAmountOrNonNumbers) {
  ExpectMalformed(
      ParseReadStatsReply(Reply({Reply(int64_t{0}), Reply(int64_t{0})})),
      "read_stats");
  ExpectMalformed(
      ParseReadStatsReply(Reply({Reply(int64_t{0}), Reply(int64_t{0}),
                                 Reply(int64_t{0}), Reply("EUR")})),
      "read_stats");
  ExpectMalformed(ParseReadStatsReply(Reply(
                      {Reply("many"), Reply(int64_t{0}), Reply(int64_t{0})})),
                  "read_stats");
  ExpectMalformed(ParseReadStatsReply(Reply(
                      {Reply(int64_t{1}), Reply(int64_t{80}), Reply(int64_t{0}),
                       Reply(int64_t{7}), Reply(int64_t{5})})),
                  "read_stats");
}

// A decision event's field/value array, spelled with the shared names: the
// event's own fields (a refunded rating of store st1 by courier `courier`),
// then `lines`.
RedisReply EventReply(
    const std::string& courier,
    const std::vector<std::pair<std::string, std::string>>& lines) {
  namespace field = store::decision_event;
  std::vector<RedisReply> kv;
  auto add = [&kv](std::string k, std::string v) {
    kv.push_back(Reply(std::move(k)));
    kv.push_back(Reply(std::move(v)));
  };
  add(field::kRatingId, "r1");
  add(field::kAtMs, "1780272000000");
  add(field::kSatisfaction, "70");
  add(field::kOutcome, "REFUND");
  add(field::kRefundMinor, "300");
  add(field::kCurrency, "EUR");
  add(field::kStoreId, "st1");
  add(field::kCourierId, courier);
  for (const auto& [k, v] : lines) add(k, v);
  return Reply(std::move(kv));
}

// The reader takes its field names from the one schema the writer uses too;
// these are the per-line fields events had before "items", still read.
TEST(DecisionEventSchema, AnEventSpelledWithTheSharedNamesParses) {
  namespace field = store::decision_event;
  auto event =
      ParseDecisionEvent(EventReply("co1", {{field::kLines, "1"},
                                            {field::LineSku(0), "sku1"},
                                            {field::LineSatisfaction(0), "20"},
                                            {field::LineRefund(0), "300"}}));
  ASSERT_TRUE(event.ok()) << event.status();
  EXPECT_EQ(event->rating_id, "r1");
  EXPECT_EQ(event->at_ms, 1780272000000);
  EXPECT_EQ(event->satisfaction, 70);
  EXPECT_EQ(event->refund_minor, 300);
  EXPECT_EQ(event->courier_id, "co1");
  ASSERT_EQ(event->lines.size(), 1u);
  EXPECT_EQ(event->lines[0].sku, "sku1");
  EXPECT_EQ(event->lines[0].satisfaction, 20);
  EXPECT_EQ(event->lines[0].refund_minor, 300);
}

// The lines in one field, as rating/decision_event_fields.cc writes them.
TEST(DecisionEventSchema, LinesPackedInItemsParse) {
  namespace field = store::decision_event;
  auto event_with = [](const std::string& lines, const std::string& items) {
    return ParseDecisionEvent(
        EventReply("", {{field::kLines, lines}, {field::kItems, items}}));
  };
  auto event = event_with("2", "sku1\t20\t300\nsku2\t70\t0");
  ASSERT_TRUE(event.ok()) << event.status();
  ASSERT_EQ(event->lines.size(), 2u);
  EXPECT_EQ(event->lines[0].sku, "sku1");
  EXPECT_EQ(event->lines[0].satisfaction, 20);
  EXPECT_EQ(event->lines[0].refund_minor, 300);
  EXPECT_EQ(event->lines[1].sku, "sku2");
  EXPECT_EQ(event->lines[1].satisfaction, 70);
  EXPECT_EQ(event->lines[1].refund_minor, 0);
  auto none = event_with("0", "");
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->lines.empty());
  // Malformed: a count that disagrees, a row short of a column or with one
  // too many, a bad number, an empty row.
  for (const auto& [lines, items] :
       std::vector<std::pair<std::string, std::string>>{
           {"3", "sku1\t20\t300\nsku2\t70\t0"},
           {"1", "sku1\t20"},
           {"1", "sku1\t20\t300\textra"},
           {"1", "sku1\tlots\t300"},
           {"2", "sku1\t20\t300\n"}}) {
    EXPECT_EQ(event_with(lines, items).status().code(),
              absl::StatusCode::kInvalidArgument)
        << items;
  }
}

}  // namespace
}  // namespace makegood::insights
