// The typed call of close_troubles.lua: keys in the script's order, one slot.
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/key_slot.h"
#include "services/retention/close_troubles_script.h"

namespace makegood::retention {
namespace {

using ::testing::ElementsAre;

store::KeySchema Keys() { return *store::KeySchema::Create(64); }

TEST(CloseTroublesCall, SendsFourKeysPerTroubleAndStandsInForMissingOnes) {
  const store::KeySchema keys = Keys();
  CloseTroublesRequest request;
  request.partition = 5;
  request.due = {"rt_1\tm-1\trf_1\tstore-1\tcourier-1", "rt_2\tm-2\t\t\t",
                 "not a schedule member"};
  request.now = absl::FromUnixMillis(1780272000123);
  request.day = absl::Seconds(2);
  store::ScriptCall call = BuildCloseTroublesCall(keys, request);
  const std::string m1 = keys.TroublesKey(5, "m-1");
  const std::string m2 = keys.TroublesKey(5, "m-2");
  EXPECT_THAT(call.keys,
              ElementsAre(keys.TroublesDueKey(5), keys.RetentionKey(5), m1,
                          keys.RefundKey(5, "rf_1"),
                          keys.RetentionSubjectKey(5, "store", "store-1"),
                          keys.RetentionSubjectKey(5, "courier", "courier-1"),
                          m2, m2, m2, m2));
  // The unparsable member is left out of both.
  EXPECT_THAT(call.args, ElementsAre("1780272000123", "2000",
                                     "rt_1\tm-1\trf_1\tstore-1\tcourier-1",
                                     "rt_2\tm-2\t\t\t"));
  const int slot = redis::KeySlot(call.keys[0]);
  for (const std::string& key : call.keys) {
    EXPECT_EQ(redis::KeySlot(key), slot) << key;
  }
}

TEST(CloseTroublesReply, ParsesTheCountsAndRefusesOtherShapes) {
  redis::RedisReply reply = redis::RedisReply::Array(
      {redis::RedisReply::Integer(3), redis::RedisReply::Integer(1)});
  auto parsed = ParseCloseTroublesReply(reply);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->closed, 3);
  EXPECT_EQ(parsed->skipped, 1);
  EXPECT_EQ(
      ParseCloseTroublesReply(redis::RedisReply::Integer(3)).status().code(),
      absl::StatusCode::kInternal);
  EXPECT_EQ(ParseCloseTroublesReply(
                redis::RedisReply::Array({redis::RedisReply::Integer(3)}))
                .status()
                .code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace makegood::retention
