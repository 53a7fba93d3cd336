// The audit that every integration test's Redis runs must itself catch what
// it claims to: undeclared keys, keys in two slots, commands it cannot read.
#include "tests/testing/script_key_audit.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/key_slot.h"

namespace makegood::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

TEST(KeySlot, MatchesWhatRedisClusterKeyslotAnswers) {
  // Answers of CLUSTER KEYSLOT on redis-server 7.0.15.
  EXPECT_EQ(redis::KeySlot("foo"), 12182);
  EXPECT_EQ(redis::KeySlot("123456789"), 12739);
  EXPECT_EQ(redis::KeySlot("mg:{p0}:refund:x"), 15882);
  EXPECT_EQ(redis::KeySlot("mg:{p17}:a"), 10264);
  EXPECT_EQ(redis::KeySlot("{user1000}.following"), 3443);
  EXPECT_EQ(redis::KeySlot("{}x"), 10595);     // An empty tag is no tag.
  EXPECT_EQ(redis::KeySlot("a{}b{c}"), 7353);  // Only the first '{' counts.
  EXPECT_EQ(redis::KeySlot("x{"), 3596);       // An unclosed tag is no tag.
  EXPECT_EQ(redis::KeySlot("mg:{c9}:rl:c:abc"), 14595);
}

TEST(ParseMonitorLine, UnquotesEveryEscapeMonitorWrites) {
  std::string client;
  std::vector<std::string> argv;
  ASSERT_TRUE(ParseMonitorLine(
      R"(1796298454.084917 [0 lua] "GET" "a\"b\\c\x01\n")", &client, &argv));
  EXPECT_EQ(client, "lua");
  EXPECT_THAT(argv, ElementsAre("GET", std::string("a\"b\\c\x01\n")));
  ASSERT_TRUE(ParseMonitorLine(
      R"(1.5 [3 127.0.0.1:56304] "evalsha" "ab" "1" "k")", &client, &argv));
  EXPECT_EQ(client, "127.0.0.1:56304");
  EXPECT_THAT(argv, SizeIs(4));
  EXPECT_FALSE(ParseMonitorLine("OK", &client, &argv));
}

TEST(AuditScriptKeys, AcceptsAScriptThatTouchesOnlyItsKeys) {
  EXPECT_THAT(
      AuditScriptKeys(
          "OK\n"
          R"(1.0 [0 127.0.0.1:1] "evalsha" "s1" "2" "mg:{p1}:a" "mg:{p1}:b" "x")"
          "\n"
          R"(1.1 [0 lua] "HSET" "mg:{p1}:a" "f" "v")"
          "\n"
          R"(1.2 [0 lua] "DEL" "mg:{p1}:a" "mg:{p1}:b")"
          "\n"
          R"(1.3 [0 lua] "TIME")"
          "\n"
          R"(1.4 [0 127.0.0.1:2] "get" "other")"
          "\n"),
      IsEmpty());
}

TEST(AuditScriptKeys, ReportsAKeyTheScriptWasNotPassed) {
  std::vector<std::string> v =
      AuditScriptKeys(R"(1.0 [0 127.0.0.1:1] "evalsha" "s1" "1" "mg:{p1}:a")"
                      "\n"
                      R"(1.1 [0 lua] "HGET" "mg:{p1}:rating:r9" "f")"
                      "\n");
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_THAT(v[0], HasSubstr("touches mg:{p1}:rating:r9"));
  EXPECT_THAT(v[0], HasSubstr("script s1"));
}

TEST(AuditScriptKeys, ReportsKeysInTwoSlots) {
  std::vector<std::string> v = AuditScriptKeys(
      R"(1.0 [0 127.0.0.1:1] "eval" "return 1" "2" "mg:{p1}:a" "mg:{p2}:a")"
      "\n");
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_THAT(v[0], HasSubstr("2 hash slots"));
}

TEST(AuditScriptKeys, KeysOfOneScriptDoNotCarryToTheNextCall) {
  std::vector<std::string> v =
      AuditScriptKeys(R"(1.0 [0 127.0.0.1:1] "evalsha" "s1" "1" "mg:{p1}:a")"
                      "\n"
                      R"(1.1 [0 127.0.0.1:1] "evalsha" "s2" "1" "mg:{p1}:b")"
                      "\n"
                      R"(1.2 [0 lua] "GET" "mg:{p1}:a")"
                      "\n");
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_THAT(v[0], HasSubstr("script s2 touches mg:{p1}:a"));
}

TEST(AuditScriptKeys, ReportsACommandItCannotReadKeysFrom) {
  std::vector<std::string> v =
      AuditScriptKeys(R"(1.0 [0 127.0.0.1:1] "evalsha" "s1" "1" "k")"
                      "\n"
                      R"(1.1 [0 lua] "SINTERSTORE" "k" "a" "b")"
                      "\n");
  ASSERT_THAT(v, SizeIs(1));
  EXPECT_THAT(v[0], HasSubstr("SINTERSTORE"));
}

}  // namespace
}  // namespace makegood::testing
