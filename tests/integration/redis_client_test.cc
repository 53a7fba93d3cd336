// Integration tests of redis::HiredisClient against a real redis-server.
#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_join.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/hiredis_client.h"
#include "services/store/check_schema_script.h"
#include "services/store/lua/scripts.h"
#include "tests/testing/redis_counters.h"
#include "tests/testing/redis_server.h"

namespace makegood::store {
namespace {

using ::makegood::testing::RedisCounters;
using ::makegood::testing::RedisServer;
using ::testing::Contains;
using ::testing::Each;
using ::testing::HasSubstr;
using ::testing::Not;

class RedisClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_ = *std::move(server);
  }

  redis::RedisOptions Options() {
    redis::RedisOptions options;
    EXPECT_TRUE(redis::ParseRedisUrl(redis_->url(), &options).ok());
    options.command_timeout = absl::Milliseconds(300);
    options.connect_timeout = absl::Milliseconds(300);
    return options;
  }

  std::unique_ptr<redis::HiredisClient> Connect(redis::RedisOptions options) {
    auto client = redis::HiredisClient::Start(options);
    EXPECT_TRUE(client.ok()) << client.status();
    WaitReady(**client, options.connections);
    return *std::move(client);
  }

  // Waits (bounded) until `want` connections are ready. Connecting is
  // asynchronous and has no completion callback to wait on.
  static void WaitReady(const redis::HiredisClient& client, int want) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (client.ready_connections() < want && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_EQ(client.ready_connections(), want);
  }

  // `options` reporting to counters_.
  redis::RedisOptions Counted(redis::RedisOptions options) {
    options.observer = &counters_;
    return options;
  }

  // Before the server and the tests' clients, so it outlives them.
  RedisCounters counters_;
  std::unique_ptr<RedisServer> redis_;
};

TEST_F(RedisClientTest, CommandReturnsTheReply) {
  auto client = Connect(Options());
  ASSERT_TRUE(client->CommandSync({"SET", "k", "v"}).ok());
  auto reply = client->CommandSync({"GET", "k"});
  ASSERT_TRUE(reply.ok()) << reply.status();
  EXPECT_EQ(reply->type, redis::RedisReply::Type::kString);
  EXPECT_EQ(reply->str, "v");
  auto missing = client->CommandSync({"GET", "missing"});
  ASSERT_TRUE(missing.ok());
  EXPECT_TRUE(missing->is_nil());
}

TEST_F(RedisClientTest, ArgumentsAreBinarySafe) {
  auto client = Connect(Options());
  std::string value("a\0b\r\n c", 7);
  ASSERT_TRUE(client->CommandSync({"SET", "bin", value}).ok());
  auto reply = client->CommandSync({"GET", "bin"});
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->str, value);
}

TEST_F(RedisClientTest, ErrorReplyIsInternalWithRedisText) {
  auto client = Connect(Options());
  auto reply = client->CommandSync({"NOSUCHCOMMAND"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(reply.status().message(), HasSubstr("unknown command"));
}

TEST_F(RedisClientTest, ConcurrentCommandsFromManyThreadsAllComplete) {
  redis::RedisOptions options = Options();
  options.command_timeout = absl::Seconds(5);
  options.max_outstanding = 100000;  // All 20000 may be queued at once.
  auto client = Connect(options);
  constexpr int kThreads = 4;
  constexpr int kPerThread = 5000;
  absl::BlockingCounter done(kThreads * kPerThread);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        client->Command({"INCR", "counter"},
                        [&](absl::StatusOr<redis::RedisReply> reply) {
                          if (!reply.ok()) failures++;
                          done.DecrementCount();
                        });
      }
    });
  }
  for (auto& t : threads) t.join();
  done.Wait();
  EXPECT_EQ(failures.load(), 0);
  auto total = client->CommandSync({"GET", "counter"});
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(total->str, std::to_string(kThreads * kPerThread));
}

TEST_F(RedisClientTest, RepliesArriveInOrderPerCaller) {
  auto client = Connect(Options());
  constexpr int kCommands = 1000;
  absl::BlockingCounter done(kCommands);
  std::vector<int64_t> seen;
  absl::Mutex mu;
  for (int i = 0; i < kCommands; ++i) {
    client->Command({"RPUSH", "list", std::to_string(i)},
                    [&](absl::StatusOr<redis::RedisReply> reply) {
                      ASSERT_TRUE(reply.ok());
                      absl::MutexLock lock(&mu);
                      seen.push_back(reply->integer);
                      done.DecrementCount();
                    });
  }
  done.Wait();
  // Every RPUSH returned a distinct list length 1..kCommands.
  std::sort(seen.begin(), seen.end());
  for (int i = 0; i < kCommands; ++i) EXPECT_EQ(seen[i], i + 1);
}

TEST_F(RedisClientTest, EvalFallsBackToSourceAfterScriptFlush) {
  auto client = Connect(Counted(Options()));
  auto run = [&] {
    absl::Notification done;
    absl::StatusOr<redis::RedisReply> result;
    ScriptCall call =
        BuildCheckSchemaCall({.partitions = 8, .schema_version = 1});
    client->Eval(scripts::kCheckSchema, std::move(call.keys),
                 std::move(call.args),
                 [&](absl::StatusOr<redis::RedisReply> r) {
                   result = std::move(r);
                   done.Notify();
                 });
    done.WaitForNotification();
    return result;
  };
  auto first = run();  // Unknown SHA on a fresh server: NOSCRIPT, then EVAL.
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(first->elements.size(), 2u);
  EXPECT_EQ(first->elements[0].str, "8");
  EXPECT_EQ(counters_.noscript.load(), 1u);

  auto cached = run();  // Cached now: EVALSHA succeeds directly.
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(counters_.noscript.load(), 1u);

  ASSERT_TRUE(client->CommandSync({"SCRIPT", "FLUSH"}).ok());
  auto after_flush = run();
  ASSERT_TRUE(after_flush.ok()) << after_flush.status();
  EXPECT_EQ(counters_.noscript.load(), 2u);
}

TEST_F(RedisClientTest, SelectsTheDatabaseFromTheUrl) {
  redis::RedisOptions options = Options();
  ASSERT_TRUE(redis::ParseRedisUrl(
                  "redis://127.0.0.1:" + std::to_string(redis_->port()) + "/3",
                  &options)
                  .ok());
  auto client = Connect(options);
  ASSERT_TRUE(client->CommandSync({"SET", "in-db-3", "x"}).ok());
  redis::RedisOptions db0 = Options();
  auto other = Connect(db0);
  auto in0 = other->CommandSync({"EXISTS", "in-db-3"});
  ASSERT_TRUE(in0.ok());
  EXPECT_EQ(in0->integer, 0);
}

TEST_F(RedisClientTest, FailsFastWhileRedisIsDownAndRecoversByItself) {
  auto client = Connect(Counted(Options()));
  ASSERT_TRUE(redis_->Stop().ok());
  // The disconnect is noticed asynchronously; then every command fails fast.
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (client->ready_connections() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  absl::Time start = absl::Now();
  auto down = client->CommandSync({"PING"});
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));

  ASSERT_TRUE(redis_->Restart().ok());
  WaitReady(*client, client->options().connections);
  auto up = client->CommandSync({"PING"});
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(up->str, "PONG");
  EXPECT_GE(counters_.connects.load(), 4u);
}

TEST_F(RedisClientTest, HungRedisTimesOutAndTheConnectionIsReset) {
  redis::RedisOptions options = Options();
  options.connections = 1;
  auto client = Connect(Counted(options));
  redis_->Pause();
  absl::Time start = absl::Now();
  auto reply = client->CommandSync({"PING"});
  absl::Duration took = absl::Now() - start;
  redis_->Resume();
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(reply.status().message(), HasSubstr("did not answer"));
  EXPECT_GE(took, options.command_timeout);
  EXPECT_LT(took, options.command_timeout + absl::Seconds(1));
  EXPECT_EQ(counters_.timeouts.load(), 1u);
  WaitReady(*client, 1);
  auto after = client->CommandSync({"PING"});
  EXPECT_TRUE(after.ok()) << after.status();
}

TEST_F(RedisClientTest, RefusesCommandsBeyondTheOutstandingCap) {
  redis::RedisOptions options = Options();
  options.max_outstanding = 10;
  options.connections = 1;
  options.command_timeout = absl::Seconds(5);
  auto client = Connect(Counted(options));
  redis_->Pause();  // Nothing completes, so commands pile up.
  absl::BlockingCounter done(20);
  std::atomic<int> rejected{0};
  for (int i = 0; i < 20; ++i) {
    client->Command({"PING"}, [&](absl::StatusOr<redis::RedisReply> reply) {
      if (!reply.ok() &&
          reply.status().message() == "too many outstanding redis commands") {
        rejected++;
      }
      done.DecrementCount();
    });
  }
  EXPECT_EQ(rejected.load(), 10);
  EXPECT_EQ(counters_.rejected_full.load(), 10u);
  redis_->Resume();
  done.Wait();
}

TEST_F(RedisClientTest, UnreachableRedisNeverConnectsAndFailsFast) {
  redis::RedisOptions options = Options();
  ASSERT_TRUE(redis_->Stop().ok());
  auto client = redis::HiredisClient::Start(options);
  ASSERT_TRUE(client.ok());
  auto reply = (*client)->CommandSync({"PING"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ((*client)->ready_connections(), 0);
}

TEST_F(RedisClientTest, DestroyingTheClientFailsPendingCommands) {
  redis::RedisOptions options = Options();
  options.command_timeout = absl::Seconds(30);
  auto client = Connect(options);
  redis_->Pause();
  absl::Notification done;
  absl::Status status;
  client->Command({"PING"}, [&](absl::StatusOr<redis::RedisReply> reply) {
    status = reply.status();
    done.Notify();
  });
  client.reset();
  redis_->Resume();
  ASSERT_TRUE(done.HasBeenNotified());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
}

// The audit every test Redis runs (tests/testing/script_key_audit.h) sees
// what a real server's MONITOR prints: a script that builds a key itself,
// and one passed keys of two partitions, are both caught.
TEST_F(RedisClientTest, TheScriptKeyAuditCatchesUndeclaredAndCrossSlotKeys) {
  auto client = Connect(Options());
  const redis::LuaScript builds_a_key{
      "builds_a_key",
      "redis.call('SET', KEYS[1], '1') "
      "return redis.call('GET', ARGV[1] .. 'other')",
      "0000000000000000000000000000000000000001"};
  EXPECT_TRUE(client->EvalSync(builds_a_key, {"mg:{p1}:a"}, {"mg:{p1}:"}).ok());
  const redis::LuaScript two_slots{"two_slots", "return 1",
                                   "0000000000000000000000000000000000000002"};
  EXPECT_TRUE(client->EvalSync(two_slots, {"mg:{p1}:a", "mg:{p2}:a"}, {}).ok());
  const redis::LuaScript declared{
      "declared", "return redis.call('HSET', KEYS[1], 'f', 'v')",
      "0000000000000000000000000000000000000003"};
  EXPECT_TRUE(client->EvalSync(declared, {"mg:{p1}:h"}, {}).ok());
  redis_->set_key_audit(false);  // The violations are on purpose.
  // MONITOR's output reaches its file asynchronously. Three reports: the
  // undeclared key (run by EVAL after NOSCRIPT), and the two-slot call as
  // both its EVALSHA and its EVAL.
  std::vector<std::string> violations;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (violations.size() < 3 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    violations = redis_->AuditScriptKeys();
  }
  EXPECT_THAT(violations, Contains(HasSubstr("touches mg:{p1}:other")));
  EXPECT_THAT(violations, Contains(HasSubstr("2 hash slots")));
  EXPECT_THAT(violations, Each(Not(HasSubstr("mg:{p1}:h"))));
}

}  // namespace
}  // namespace makegood::store
