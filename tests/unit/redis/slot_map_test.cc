// Unit tests of the Redis Cluster client's pure parts (slot_map.h): reading
// CLUSTER SLOTS, redirects, routing keys, a MULTI/EXEC block's slot, and the
// slot map itself.
#include "services/redis/slot_map.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/key_slot.h"

namespace makegood::redis {
namespace {

using ::testing::HasSubstr;

RedisReply Node(RedisReply ip, int64_t port, std::string id) {
  return RedisReply::Array({std::move(ip), RedisReply::Integer(port),
                            RedisReply::String(std::move(id)),
                            RedisReply::Array({})});
}

RedisReply Range(int64_t first, int64_t last, std::vector<RedisReply> nodes) {
  std::vector<RedisReply> entry = {RedisReply::Integer(first),
                                   RedisReply::Integer(last)};
  for (RedisReply& node : nodes) entry.push_back(std::move(node));
  return RedisReply::Array(std::move(entry));
}

const RedisAddress kAsked{"10.0.0.9", 7009};

// As Redis 7.0 answers: [first, last, primary, replica], 4 fields a node.
TEST(ParseClusterSlots, KeepsThePrimaryOfEachRange) {
  RedisReply reply = RedisReply::Array({
      Range(0, 5460,
            {Node(RedisReply::String("127.0.0.1"), 7000, "a"),
             Node(RedisReply::String("127.0.0.1"), 7003, "d")}),
      Range(5461, 10922, {Node(RedisReply::String("127.0.0.1"), 7001, "b")}),
      Range(10923, 16383,
            {Node(RedisReply::String("127.0.0.1"), 7002, "c"),
             Node(RedisReply::String("127.0.0.1"), 7005, "f")}),
  });
  auto ranges = ParseClusterSlots(reply, kAsked);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  EXPECT_EQ(*ranges, (std::vector<SlotRange>{
                         {0, 5460, {"127.0.0.1", 7000}},
                         {5461, 10922, {"127.0.0.1", 7001}},
                         {10923, 16383, {"127.0.0.1", 7002}},
                     }));
}

TEST(ParseClusterSlots, AnEmptyOrNilIpMeansTheNodeAsked) {
  RedisReply reply = RedisReply::Array({
      Range(0, 1, {Node(RedisReply::String(""), 7000, "a")}),
      Range(2, 3, {Node(RedisReply::Nil(), 7001, "b")}),
  });
  auto ranges = ParseClusterSlots(reply, kAsked);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  EXPECT_EQ(*ranges, (std::vector<SlotRange>{{0, 1, {"10.0.0.9", 7000}},
                                             {2, 3, {"10.0.0.9", 7001}}}));
}

TEST(ParseClusterSlots, AcceptsAnEmptyAnswer) {
  auto ranges = ParseClusterSlots(RedisReply::Array({}), kAsked);
  ASSERT_TRUE(ranges.ok());
  EXPECT_TRUE(ranges->empty());
}

TEST(ParseClusterSlots, RefusesOtherShapesSayingWhere) {
  const RedisReply good_node = Node(RedisReply::String("h"), 7000, "a");
  struct Case {
    RedisReply reply;
    const char* why;
  };
  std::vector<Case> cases;
  cases.push_back({RedisReply::String("x"), "not an array"});
  cases.push_back({RedisReply::Array({RedisReply::Integer(1)}),
                   "entry 0: not [first, last, primary"});
  cases.push_back(
      {RedisReply::Array({Range(0, 16384, {good_node})}), "slot range"});
  cases.push_back(
      {RedisReply::Array({Range(10, 9, {good_node})}), "slot range"});
  cases.push_back(
      {RedisReply::Array({Range(-1, 9, {good_node})}), "slot range"});
  cases.push_back({RedisReply::Array({Range(0, 1, {good_node}),
                                      Range(2, 3, {RedisReply::Integer(7)})}),
                   "entry 1: primary is not"});
  cases.push_back({RedisReply::Array({Range(
                       0, 1, {Node(RedisReply::Integer(1), 7000, "a")})}),
                   "primary is not"});
  cases.push_back({RedisReply::Array(
                       {Range(0, 1, {Node(RedisReply::String("h"), 0, "a")})}),
                   "primary is not"});
  for (const Case& c : cases) {
    auto ranges = ParseClusterSlots(c.reply, kAsked);
    EXPECT_EQ(ranges.status().code(), absl::StatusCode::kInternal) << c.why;
    EXPECT_THAT(ranges.status().message(), HasSubstr(c.why));
  }
}

TEST(ParseRedirect, ReadsMovedAndAsk) {
  const RedisAddress answered{"10.0.0.1", 7000};
  EXPECT_EQ(ParseRedirect("MOVED 3999 127.0.0.1:6381", answered),
            (Redirect{Redirect::Kind::kMoved, 3999, {"127.0.0.1", 6381}}));
  EXPECT_EQ(ParseRedirect("ASK 16383 node-b:7001", answered),
            (Redirect{Redirect::Kind::kAsk, 16383, {"node-b", 7001}}));
  // The last ':' ends an IPv6 host.
  EXPECT_EQ(ParseRedirect("MOVED 0 ::1:7002", answered),
            (Redirect{Redirect::Kind::kMoved, 0, {"::1", 7002}}));
  // An unknown endpoint: the node that answered, on the port given.
  EXPECT_EQ(ParseRedirect("MOVED 5 :7003", answered),
            (Redirect{Redirect::Kind::kMoved, 5, {"10.0.0.1", 7003}}));
}

TEST(ParseRedirect, OtherErrorsAndMalformedRedirectsAreNone) {
  const RedisAddress answered{"h", 1};
  for (const char* error :
       {"ERR unknown command",
        "TRYAGAIN Multiple keys request during rehashing",
        "CLUSTERDOWN The cluster is down", "MOVED", "MOVED 1", "MOVED x h:1",
        "MOVED 16384 h:1", "MOVED -1 h:1", "ASK 1 h", "ASK 1 h:0",
        "ASK 1 h:port", "MOVEDX 1 h:1"}) {
    EXPECT_EQ(ParseRedirect(error, answered), std::nullopt) << error;
  }
}

TEST(RoutingKey, IsTheFirstKeyArgumentOfAPlainCommand) {
  EXPECT_EQ(RoutingKey({"GET", "{p1}:a"}), "{p1}:a");
  EXPECT_EQ(RoutingKey({"hset", "k", "f", "v"}), "k");
  EXPECT_EQ(RoutingKey({"XADD", "s", "*", "f", "v"}), "s");
}

TEST(RoutingKey, IsTheFirstOfTheKeysOfAScript) {
  EXPECT_EQ(RoutingKey({"EVALSHA", "sha", "2", "{p1}:a", "{p1}:b", "arg"}),
            "{p1}:a");
  EXPECT_EQ(RoutingKey({"EVAL", "return 1", "1", "k"}), "k");
  EXPECT_EQ(RoutingKey({"EVAL", "return 1", "0", "arg"}), std::nullopt);
  EXPECT_EQ(RoutingKey({"EVALSHA", "sha", "x", "k"}), std::nullopt);
}

TEST(RoutingKey, IsTheFirstStreamOfAStreamRead) {
  EXPECT_EQ(RoutingKey({"XREADGROUP", "GROUP", "g", "c", "COUNT", "10", "BLOCK",
                        "500", "STREAMS", "{p3}:s", ">"}),
            "{p3}:s");
  EXPECT_EQ(RoutingKey({"XREAD", "streams", "s1", "0"}), "s1");
  EXPECT_EQ(RoutingKey({"XGROUP", "CREATE", "s", "g", "$"}), "s");
  EXPECT_EQ(RoutingKey({"XINFO", "GROUPS", "s"}), "s");
}

TEST(RoutingKey, IsNoneForCommandsWithoutKeys) {
  for (std::vector<std::string> argv :
       std::vector<std::vector<std::string>>{{"PING"},
                                             {"INFO", "memory"},
                                             {"CLUSTER", "SLOTS"},
                                             {"SCRIPT", "LOAD", "return 1"},
                                             {"DBSIZE"},
                                             {"SCAN", "0"},
                                             {"FLUSHALL"},
                                             {}}) {
    EXPECT_EQ(RoutingKey(argv), std::nullopt) << (argv.empty() ? "" : argv[0]);
  }
}

TEST(SlotMap, ServesWhatItWasGivenAndFollowsMoves) {
  SlotMap map;
  EXPECT_TRUE(map.empty());
  EXPECT_EQ(map.NodeOf(0), nullptr);
  map.Assign({{0, 8191, {"a", 1}}, {8192, 16000, {"b", 2}}});
  EXPECT_FALSE(map.empty());
  EXPECT_EQ(*map.NodeOf(0), (RedisAddress{"a", 1}));
  EXPECT_EQ(*map.NodeOf(8192), (RedisAddress{"b", 2}));
  EXPECT_EQ(map.NodeOf(16001), nullptr);
  EXPECT_EQ(map.NodeOf(kClusterSlots), nullptr);
  map.Set(5, {"c", 3});
  EXPECT_EQ(*map.NodeOf(5), (RedisAddress{"c", 3}));
  EXPECT_EQ(map.Primaries(),
            (std::vector<RedisAddress>{{"a", 1}, {"b", 2}, {"c", 3}}));
  // A new map replaces the old one, nodes no longer serving included.
  map.Assign({{0, 16383, {"b", 2}}});
  EXPECT_EQ(map.Primaries(), (std::vector<RedisAddress>{{"b", 2}}));
  EXPECT_EQ(*map.NodeOf(5), (RedisAddress{"b", 2}));
}

TEST(BlockSlot, IsTheOneSlotOfEveryKeyOfTheBlock) {
  auto slot = BlockSlot({{"HGETALL", "mg:{p3.x}:ledger:balances"},
                         {"XREVRANGE", "mg:{p3.x}:ledger", "+", "-"},
                         {"PING"},
                         {"EVALSHA", "abc", "1", "mg:{p3.x}:outbox", "a"}});
  ASSERT_TRUE(slot.ok()) << slot.status();
  EXPECT_EQ(*slot, KeySlot("p3.x"));
}

TEST(BlockSlot, RefusesKeysOfTwoSlotsNamingThem) {
  auto slot = BlockSlot(
      {{"HGET", "mg:{p3.x}:refund:r1", "state"}, {"HGET", "mg:meta", "x"}});
  ASSERT_EQ(slot.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(slot.status().message(), HasSubstr("mg:{p3.x}:refund:r1"));
  EXPECT_THAT(slot.status().message(), HasSubstr("\"mg:meta\" in slot"));
}

TEST(BlockSlot, RefusesABlockWithoutKeys) {
  EXPECT_EQ(BlockSlot({{"PING"}, {"TIME"}}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(BlockSlot({}).status().code(), absl::StatusCode::kInvalidArgument);
}

// The values Redis's CLUSTER KEYSLOT gives (checked on 7.0.15).
TEST(KeySlot, MatchesClusterKeyslot) {
  EXPECT_EQ(KeySlot("foo"), 12182);
  EXPECT_EQ(KeySlot("{user1000}.following"), KeySlot("user1000"));
  EXPECT_EQ(KeySlot("123456789"), 0x31C3 % kClusterSlots);
  // An empty tag hashes the whole key.
  EXPECT_EQ(KeySlot("{}foo"), KeySlot(std::string("{}foo")));
  EXPECT_NE(KeySlot("{}foo"), KeySlot("foo"));
}

}  // namespace
}  // namespace makegood::redis
