// ReadStreams on a FakeRedis: one blocking command on a single Redis; one
// non-blocking command per hash slot on a cluster, with every slot's
// entries kept when another slot fails.
#include "services/streams/stream_read.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/key_slot.h"
#include "tests/testing/fake_redis.h"

namespace makegood::streams {
namespace {

using redis::RedisReply;
using ::testing::ElementsAre;
using testing::FakeRedis;
using testing::Reply;
using ::testing::UnorderedElementsAre;

using Result = absl::StatusOr<RedisReply>;

// Streams in three slots; the last two share the tag {b}, so one slot.
const std::vector<std::string> kStreams = {"{a}:s", "{b}:s", "{b}:t"};

// An XREAD reply with one entry "<stream>-id" for every stream asked.
Result OneEntryEach(const FakeRedis::Call& call) {
  auto at = std::find(call.argv.begin(), call.argv.end(), "STREAMS");
  const size_t n = static_cast<size_t>(call.argv.end() - at - 1) / 2;
  std::vector<RedisReply> streams;
  for (size_t i = 0; i < n; ++i) {
    const std::string& stream = *(at + 1 + static_cast<std::ptrdiff_t>(i));
    streams.push_back(
        Reply({Reply(stream),
               Reply({Reply({Reply(absl::StrCat(stream, "-1")),
                             Reply({Reply("refund_id"), Reply("rf")})})})}));
  }
  return Reply(std::move(streams));
}

StreamRead Read() {
  return {.head = {"XREAD", "COUNT", "10"},
          .streams = kStreams,
          .ids = {"1-0", "2-0", "3-0"},
          .block = absl::Milliseconds(500)};
}

std::vector<std::string> Ids(const StreamReadResult& result) {
  std::vector<std::string> ids;
  for (const StreamEntry& e : result.entries) {
    ids.push_back(absl::StrCat(e.stream, "/", e.id));
  }
  return ids;
}

TEST(ReadStreams, OnOneRedisIsOneBlockingCommandOverEveryStream) {
  FakeRedis redis;
  redis.On("XREAD", OneEntryEach);
  StreamReadResult result = ReadStreams(redis, Read());
  ASSERT_TRUE(result.status.ok()) << result.status;
  ASSERT_EQ(redis.count("XREAD"), 1);
  EXPECT_THAT(redis.calls("XREAD")[0].argv,
              ElementsAre("XREAD", "COUNT", "10", "BLOCK", "500", "STREAMS",
                          "{a}:s", "{b}:s", "{b}:t", "1-0", "2-0", "3-0"));
  EXPECT_THAT(Ids(result), ElementsAre("0/{a}:s-1", "1/{b}:s-1", "2/{b}:t-1"));
}

TEST(ReadStreams, OnAClusterIsOneNonBlockingCommandPerSlot) {
  FakeRedis redis;
  redis.set_one_slot_per_command(true);
  redis.On("XREAD", OneEntryEach);
  StreamReadResult result = ReadStreams(redis, Read());
  ASSERT_TRUE(result.status.ok()) << result.status;
  std::vector<std::vector<std::string>> argvs;
  for (const FakeRedis::Call& call : redis.calls("XREAD")) {
    argvs.push_back(call.argv);
  }
  EXPECT_THAT(
      argvs, UnorderedElementsAre(
                 ElementsAre("XREAD", "COUNT", "10", "STREAMS", "{a}:s", "1-0"),
                 ElementsAre("XREAD", "COUNT", "10", "STREAMS", "{b}:s",
                             "{b}:t", "2-0", "3-0")));
  // Entries name their stream by its index in the read, whatever the slot.
  EXPECT_THAT(Ids(result),
              UnorderedElementsAre("0/{a}:s-1", "1/{b}:s-1", "2/{b}:t-1"));
  EXPECT_TRUE(redis.unexpected().empty());
}

TEST(ReadStreams, OnAClusterAFailedSlotKeepsTheOtherSlotsEntries) {
  FakeRedis redis;
  redis.set_one_slot_per_command(true);
  redis.On("XREAD", [](const FakeRedis::Call& call) -> Result {
    if (std::find(call.argv.begin(), call.argv.end(), "{a}:s") !=
        call.argv.end()) {
      return absl::UnavailableError("TRYAGAIN");
    }
    return OneEntryEach(call);
  });
  StreamReadResult result = ReadStreams(redis, Read());
  EXPECT_EQ(result.status.code(), absl::StatusCode::kUnavailable);
  // XREADGROUP has delivered these: dropping them would strand them until
  // they are reclaimed.
  EXPECT_THAT(Ids(result), UnorderedElementsAre("1/{b}:s-1", "2/{b}:t-1"));
}

TEST(ReadStreams, ACrossSlotReadIsWhatAClusterRefuses) {
  // The fake models the refusal ReadStreams avoids: one read over two slots.
  FakeRedis redis;
  redis.set_one_slot_per_command(true);
  redis.On("XREAD", OneEntryEach);
  auto reply =
      redis.CommandSync({"XREAD", "STREAMS", "{a}:s", "{b}:s", "0-0", "0-0"});
  ASSERT_FALSE(reply.ok());
  EXPECT_THAT(std::string(reply.status().message()),
              ::testing::StartsWith("CROSSSLOT"));
}

TEST(ReadStreams, AMismatchOfIdsAndStreamsIsRefusedWithoutACommand) {
  FakeRedis redis;
  StreamRead read = Read();
  read.ids.pop_back();
  EXPECT_EQ(ReadStreams(redis, read).status.code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(redis.calls().empty());
}

}  // namespace
}  // namespace makegood::streams
