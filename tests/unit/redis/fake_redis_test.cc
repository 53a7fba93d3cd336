// The fake behind the unit tests must itself keep the RedisClient contract:
// one answer per call, faults in the order queued, lost replies that ran.
#include "tests/testing/fake_redis.h"

#include "gtest/gtest.h"

namespace makegood::testing {
namespace {

const redis::LuaScript kScript{"bump", "return 1", "sha"};

TEST(FakeRedis, QueuedAnswersAndFaultsComeFirstInOrderThenTheHandler) {
  FakeRedis redis;
  int ran = 0;
  redis.On("bump", [&](const FakeRedis::Call& call) {
    ++ran;
    EXPECT_EQ(call.keys, std::vector<std::string>{"k"});
    return absl::StatusOr<redis::RedisReply>(Reply(int64_t{7}));
  });
  redis.Answer("bump", Reply("STALE"));
  redis.Inject("bump", FakeRedis::Fault::kLoseReply);
  redis.Inject("bump", FakeRedis::Fault::kTimeout);

  EXPECT_EQ(redis.EvalSync(kScript, {"k"}, {})->str, "STALE");
  EXPECT_EQ(redis.EvalSync(kScript, {"k"}, {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ran, 1);  // The lost reply ran.
  EXPECT_EQ(redis.EvalSync(kScript, {"k"}, {}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ran, 1);  // The timeout did not.
  EXPECT_EQ(redis.EvalSync(kScript, {"k"}, {})->integer, 7);
  EXPECT_EQ(ran, 2);
  EXPECT_EQ(redis.count("bump"), 4);
  EXPECT_TRUE(redis.unexpected().empty());
}

TEST(FakeRedis, CommandsAreNamedByTheirUpperCaseVerb) {
  FakeRedis redis;
  redis.Answer("XLEN", Reply(int64_t{3}));
  EXPECT_EQ(redis.CommandSync({"xlen", "s"})->integer, 3);
  ASSERT_EQ(redis.calls("XLEN").size(), 1u);
  EXPECT_EQ(redis.calls("XLEN")[0].argv[1], "s");
}

TEST(FakeRedis, UnscriptedCallsAreInternalAndRecorded) {
  FakeRedis redis;
  EXPECT_EQ(redis.CommandSync({"GET", "x"}).status().code(),
            absl::StatusCode::kInternal);
  ASSERT_EQ(redis.unexpected().size(), 1u);
  EXPECT_EQ(redis.unexpected()[0].name, "GET");
}

TEST(FakeRedis, ARedisThatIsDownFailsEveryCallAtOnceWithoutRunningIt) {
  FakeRedis redis;
  int ran = 0;
  redis.On("PING", [&](const FakeRedis::Call&) {
    ++ran;
    return absl::StatusOr<redis::RedisReply>(Reply("PONG"));
  });
  redis.set_ready(false);
  EXPECT_EQ(redis.ready_connections(), 0);
  EXPECT_EQ(redis.CommandSync({"PING"}).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(ran, 0);
  redis.set_ready(true);
  EXPECT_EQ(redis.CommandSync({"PING"})->str, "PONG");
}

TEST(FakeRedis, ACallbackMayIssueTheNextCommand) {
  FakeRedis redis;
  redis.Answer("GET", Reply("a"));
  redis.Answer("GET", Reply("b"));
  std::string seen;
  redis.Command({"GET", "1"}, [&](absl::StatusOr<redis::RedisReply> first) {
    seen += first->str;
    redis.Command({"GET", "2"}, [&](absl::StatusOr<redis::RedisReply> second) {
      seen += second->str;
    });
  });
  EXPECT_EQ(seen, "ab");
}

TEST(FakeRedis, ACallbackOfARedisThatIsDownMayCallAgain) {
  FakeRedis redis;
  redis.set_ready(false);
  redis.Answer("GET", Reply("kept"));
  int answers = 0;
  redis.Command({"GET", "1"}, [&](absl::StatusOr<redis::RedisReply> first) {
    EXPECT_FALSE(first.ok());
    ++answers;
    redis.Command({"GET", "2"}, [&](absl::StatusOr<redis::RedisReply> second) {
      EXPECT_FALSE(second.ok());
      ++answers;
    });
  });
  EXPECT_EQ(answers, 2);
  redis.set_ready(true);
  EXPECT_EQ(redis.CommandSync({"GET", "3"})->str, "kept");  // Not consumed.
}

}  // namespace
}  // namespace makegood::testing
