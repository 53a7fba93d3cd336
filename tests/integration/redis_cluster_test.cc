// Integration tests of redis::ClusterClient against a real local Redis
// Cluster (testing::RedisCluster: 3 primaries, 3 replicas): routing,
// redirects during and after a slot migration, NOSCRIPT and recovery after
// a primary is killed.
#include "tests/testing/redis_cluster.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/cluster_client.h"
#include "services/redis/hiredis_client.h"
#include "services/redis/key_slot.h"
#include "services/redis/redis_client_factory.h"
#include "tests/testing/redis_counters.h"
#include "tests/testing/redis_server.h"

namespace makegood::redis {
namespace {

using ::makegood::testing::RedisCluster;
using ::makegood::testing::RedisCounters;
using ::testing::HasSubstr;

// Counts a call to INCR KEYS[1] after appending ARGV[1] to the list KEYS[2]:
// a write whose effects show whether it ran once, never or twice.
const LuaScript kAppend{
    "append",
    "redis.call('RPUSH', KEYS[2], ARGV[1]) return redis.call('INCR', KEYS[1])",
    "a253fa935166055f65c013ba5e20f71b03a7489b"};

// How often `node` answered with `error` (RedisCluster::ErrorCount); -1
// when it cannot be asked.
int64_t ErrorCount(RedisCluster& cluster, int node, const std::string& error) {
  return cluster.ErrorCount(node, error).value_or(-1);
}

class RedisClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = RedisCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
  }

  RedisOptions Options() {
    RedisOptions options;
    EXPECT_TRUE(ParseRedisUrl(cluster_->url(), &options).ok());
    options.observer = &counters_;
    return options;
  }

  std::unique_ptr<RedisClient> Connect(RedisOptions options) {
    auto client = StartRedisClient(options);
    EXPECT_TRUE(client.ok()) << client.status();
    if (!client.ok()) return nullptr;
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while ((*client)->ready_connections() == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    EXPECT_GT((*client)->ready_connections(), 0);
    return *std::move(client);
  }

  // Before the cluster and the clients, so it outlives them.
  RedisCounters counters_;
  std::unique_ptr<RedisCluster> cluster_;
};

TEST_F(RedisClusterTest, CommandsAndScriptsGoToThePrimaryOfTheirSlot) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  constexpr int kKeys = 24;
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = absl::StrCat("{p", i, "}:value");
    ASSERT_TRUE(client->CommandSync({"SET", key, absl::StrCat(i)}).ok());
    auto count = client->EvalSync(
        kAppend,
        {absl::StrCat("{p", i, "}:count"), absl::StrCat("{p", i, "}:log")},
        {"x"});
    ASSERT_TRUE(count.ok()) << count.status();
    EXPECT_EQ(count->integer, 1);
  }
  absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
  ASSERT_TRUE(primaries.ok()) << primaries.status();
  ASSERT_EQ(primaries->size(), 3u);
  std::vector<int64_t> expected(RedisCluster::kNodes, 0);
  for (int i = 0; i < kKeys; ++i) {
    for (const char* suffix : {"value", "count", "log"}) {
      const std::string key = absl::StrCat("{p", i, "}:", suffix);
      absl::StatusOr<int> node = cluster_->NodeServingSlot(KeySlot(key));
      ASSERT_TRUE(node.ok()) << node.status();
      EXPECT_TRUE(cluster_->Holds(*node, key).value_or(false)) << key;
      ++expected[*node];
    }
  }
  int used = 0;
  for (int node : *primaries) {
    EXPECT_EQ(*cluster_->DbSize(node), expected[node]) << "node " << node;
    if (expected[node] > 0) ++used;
  }
  EXPECT_EQ(used, 3) << "24 tags should land on every primary";
  // Reads come back from where the writes went; keyless commands work.
  auto value = client->CommandSync({"GET", "{p7}:value"});
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->str, "7");
  auto pong = client->CommandSync({"PING"});
  ASSERT_TRUE(pong.ok()) << pong.status();
  EXPECT_EQ(pong->str, "PONG");
}

TEST_F(RedisClusterTest, KeysOfTwoSlotsInOneCallAreRefusedAsCrossslot) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  auto reply = client->CommandSync({"MSET", "{a}:x", "1", "{b}:x", "2"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kInternal);
  EXPECT_THAT(reply.status().message(), HasSubstr("CROSSSLOT"));
}

TEST_F(RedisClusterTest, FollowsMovedAfterACompletedSlotMigration) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  const std::string key = "{moved}:k";
  const int slot = KeySlot(key);
  ASSERT_TRUE(client->CommandSync({"SET", key, "before"}).ok());
  absl::StatusOr<int> source = cluster_->NodeServingSlot(slot);
  ASSERT_TRUE(source.ok());
  absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
  ASSERT_TRUE(primaries.ok());
  const int target =
      (*primaries)[0] != *source ? (*primaries)[0] : (*primaries)[1];
  ASSERT_TRUE(cluster_->SetSlotImporting(slot, *source, target).ok());
  ASSERT_TRUE(cluster_->SetSlotMigrating(slot, *source, target).ok());
  ASSERT_EQ(cluster_->MigrateKeys(slot, *source, target).value_or(-1), 1);
  ASSERT_TRUE(cluster_->SetSlotNode(slot, target).ok());

  const int64_t moved_before = ErrorCount(*cluster_, *source, "MOVED");
  auto value = client->CommandSync({"GET", key});
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->str, "before");
  EXPECT_EQ(ErrorCount(*cluster_, *source, "MOVED"), moved_before + 1)
      << "the client had the old map, so the source said MOVED once";
  // The map was patched: the next command goes straight to the target.
  ASSERT_TRUE(client->CommandSync({"SET", key, "after"}).ok());
  EXPECT_EQ(ErrorCount(*cluster_, *source, "MOVED"), moved_before + 1);
  EXPECT_EQ(*cluster_->Cli(target, {"GET", key}), "after");
}

// The slot of one hash tag moves step by step while writes to it run: new
// keys meet ASK, scripts over present and missing keys meet TRYAGAIN, and
// once the move ends MOVED. Every write that succeeded ran exactly once.
TEST_F(RedisClusterTest, WritesDuringAPausedMigrationRunExactlyOnce) {
  RedisOptions options = Options();
  options.command_timeout = absl::Seconds(5);  // TRYAGAIN waits the move out.
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  const std::string counter = "{mig}:counter";
  const std::string log = "{mig}:log:";
  const std::string fresh = "{mig}:fresh";
  const int slot = KeySlot(counter);
  ASSERT_TRUE(client->CommandSync({"SET", counter, "0"}).ok());
  absl::StatusOr<int> source = cluster_->NodeServingSlot(slot);
  ASSERT_TRUE(source.ok());
  absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
  ASSERT_TRUE(primaries.ok());
  const int target =
      (*primaries)[0] != *source ? (*primaries)[0] : (*primaries)[1];

  std::atomic<bool> stop{false};
  std::atomic<int64_t> incr_ok{0}, append_ok{0}, fresh_ok{0}, failed{0};
  absl::Mutex mu;
  std::vector<std::string> failures;
  auto note_failure = [&](const absl::Status& status) {
    ++failed;
    absl::MutexLock lock(&mu);
    if (failures.size() < 5) failures.push_back(status.ToString());
  };
  std::vector<std::thread> traffic;
  traffic.emplace_back([&] {
    while (!stop.load()) {
      auto r = client->CommandSync({"INCR", counter});
      r.ok() ? (void)++incr_ok : note_failure(r.status());
    }
  });
  // A new list each call: while the slot is migrating, the counter is there
  // and the list is not, which Redis answers with TRYAGAIN.
  traffic.emplace_back([&] {
    for (int i = 0; !stop.load(); ++i) {
      auto r = client->EvalSync(kAppend, {counter, absl::StrCat(log, i)},
                                {absl::StrCat(i)});
      r.ok() ? (void)++append_ok : note_failure(r.status());
    }
  });
  traffic.emplace_back([&] {
    while (!stop.load()) {
      auto r = client->CommandSync({"INCR", fresh});
      r.ok() ? (void)++fresh_ok : note_failure(r.status());
    }
  });
  const absl::Duration pause = absl::Milliseconds(300);
  absl::SleepFor(pause);
  ASSERT_TRUE(cluster_->SetSlotImporting(slot, *source, target).ok());
  absl::SleepFor(pause);
  ASSERT_TRUE(cluster_->SetSlotMigrating(slot, *source, target).ok());
  absl::SleepFor(pause);
  absl::StatusOr<int> moved = cluster_->MigrateKeys(slot, *source, target);
  ASSERT_TRUE(moved.ok()) << moved.status();
  absl::SleepFor(pause);
  ASSERT_TRUE(cluster_->SetSlotNode(slot, target).ok());
  absl::SleepFor(pause);
  stop.store(true);
  for (std::thread& t : traffic) t.join();

  EXPECT_GT(ErrorCount(*cluster_, *source, "ASK"), 0);
  EXPECT_GT(ErrorCount(*cluster_, *source, "TRYAGAIN") +
                ErrorCount(*cluster_, target, "TRYAGAIN"),
            0);
  EXPECT_GT(ErrorCount(*cluster_, *source, "MOVED"), 0);
  EXPECT_EQ(failed.load(), 0) << (failures.empty() ? "" : failures[0]);
  EXPECT_GT(incr_ok.load(), 0);
  EXPECT_GT(append_ok.load(), 0);
  EXPECT_GT(fresh_ok.load(), 0);
  // Everything now lives on the target, each write counted once.
  EXPECT_EQ(*cluster_->Cli(target, {"GET", counter}),
            absl::StrCat(incr_ok.load() + append_ok.load()));
  // The counter, the fresh key and one list per script that ran.
  EXPECT_EQ(*cluster_->DbSize(target), 2 + append_ok.load());
  EXPECT_EQ(*cluster_->Cli(target, {"GET", fresh}),
            absl::StrCat(fresh_ok.load()));
  EXPECT_EQ(*cluster_->DbSize(*source), 0);
  std::cout << "migration: " << incr_ok.load() << " INCR, " << append_ok.load()
            << " scripts, " << fresh_ok.load() << " new-key INCR; ASK "
            << ErrorCount(*cluster_, *source, "ASK") << ", TRYAGAIN "
            << ErrorCount(*cluster_, *source, "TRYAGAIN") +
                   ErrorCount(*cluster_, target, "TRYAGAIN")
            << ", MOVED " << ErrorCount(*cluster_, *source, "MOVED") << "\n";
}

// A primary is SIGKILLed under traffic: commands for its slots fail
// UNAVAILABLE within their deadline (never hang), then succeed again once
// its replica is promoted, with the same client. The promoted replica has
// no script cache: EVALSHA falls back to EVAL.
TEST_F(RedisClusterTest, AKilledPrimaryFailsUnavailableThenRecovers) {
  RedisOptions options = Options();
  options.command_timeout = absl::Seconds(1);
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
  ASSERT_TRUE(primaries.ok());
  const int victim = (*primaries)[0];
  // A tag served by the victim.
  std::string key;
  for (int i = 0; key.empty(); ++i) {
    std::string candidate = absl::StrCat("{kill", i, "}:count");
    absl::StatusOr<int> node = cluster_->NodeServingSlot(KeySlot(candidate));
    ASSERT_TRUE(node.ok()) << node.status();
    if (*node == victim) {
      key = candidate;
    }
  }
  const std::string log = key.substr(0, key.find('}') + 1) + ":log";
  auto first = client->EvalSync(kAppend, {key, log}, {"0"});
  ASSERT_TRUE(first.ok()) << first.status();
  const uint64_t noscript_before = counters_.noscript.load();

  std::atomic<bool> stop{false};
  std::atomic<int64_t> ok{0}, unavailable{0}, other{0};
  std::atomic<int64_t> slowest_ms{0};
  absl::Mutex mu;
  absl::Time first_failure = absl::InfiniteFuture();
  absl::Time last_failure = absl::InfinitePast();
  std::thread traffic([&] {
    while (!stop.load()) {
      const absl::Time start = absl::Now();
      auto r = client->CommandSync({"INCR", key});
      const absl::Time end = absl::Now();
      int64_t ms = absl::ToInt64Milliseconds(end - start);
      if (ms > slowest_ms.load()) slowest_ms.store(ms);
      if (r.ok()) {
        ++ok;
      } else {
        r.status().code() == absl::StatusCode::kUnavailable ? ++unavailable
                                                            : ++other;
        absl::MutexLock lock(&mu);
        first_failure = std::min(first_failure, start);
        last_failure = std::max(last_failure, end);
        absl::SleepFor(absl::Milliseconds(5));  // Failures come at once.
      }
    }
  });
  absl::SleepFor(absl::Milliseconds(200));
  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE(cluster_->Kill(victim).ok());
  absl::StatusOr<int> promoted =
      cluster_->WaitForPromotion(victim, absl::Seconds(30));
  const absl::Time promoted_at = absl::Now();
  if (!promoted.ok()) {
    stop.store(true);
    traffic.join();
    FAIL() << promoted.status();
  }
  // Commands succeed again without a new client.
  const absl::Time recover_deadline = promoted_at + absl::Seconds(10);
  int64_t ok_at_promotion = ok.load();
  while (ok.load() < ok_at_promotion + 20 && absl::Now() < recover_deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  stop.store(true);
  traffic.join();

  EXPECT_GE(ok.load(), ok_at_promotion + 20) << "no recovery after promotion";
  EXPECT_GT(unavailable.load(), 0);
  EXPECT_EQ(other.load(), 0) << "failures are UNAVAILABLE";
  EXPECT_LT(slowest_ms.load(), 1500) << "a command hung past its deadline";
  {
    absl::MutexLock lock(&mu);
    std::cout << "failover: promotion after "
              << absl::FormatDuration(promoted_at - killed_at)
              << "; commands failed from +"
              << absl::FormatDuration(first_failure - killed_at) << " to +"
              << absl::FormatDuration(last_failure - killed_at) << " ("
              << unavailable.load() << " UNAVAILABLE, " << ok.load()
              << " ok, slowest call " << slowest_ms.load() << " ms)\n";
    EXPECT_LT(last_failure - promoted_at, absl::Seconds(2))
        << "the client found the promoted replica late";
  }
  // The promoted replica never saw the script: NOSCRIPT, then EVAL.
  auto again = client->EvalSync(kAppend, {key, log}, {"1"});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(counters_.noscript.load(), noscript_before);
  EXPECT_TRUE(cluster_->Holds(*promoted, log).value_or(false));
}

// A primary that stops answering (SIGSTOP, shorter than the node timeout):
// its commands fail UNAVAILABLE at their deadline, the cap of outstanding
// commands holds, other primaries' slots are not held up, and it is used
// again once it answers.
TEST_F(RedisClusterTest, AStalledPrimaryFailsItsCommandsAtTheirDeadline) {
  RedisOptions options = Options();
  options.command_timeout = absl::Milliseconds(300);
  options.max_outstanding = 2;
  auto client = Connect(options);
  ASSERT_NE(client, nullptr);
  absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
  ASSERT_TRUE(primaries.ok());
  const int stalled = (*primaries)[0];
  std::string key, other;
  for (int i = 0; key.empty() || other.empty(); ++i) {
    std::string candidate = absl::StrCat("{stall", i, "}:k");
    absl::StatusOr<int> node = cluster_->NodeServingSlot(KeySlot(candidate));
    ASSERT_TRUE(node.ok());
    (*node == stalled ? key : other) = candidate;
  }
  ASSERT_TRUE(client->CommandSync({"SET", key, "v"}).ok());
  cluster_->node(stalled).Pause();
  absl::Notification first_done;
  absl::Status first;
  const absl::Time start = absl::Now();
  client->Command({"GET", key}, [&](absl::StatusOr<RedisReply> reply) {
    first = reply.status();
    first_done.Notify();
  });
  // One more fits under the cap of 2; a third is refused at once.
  absl::Notification second_done;
  client->Command({"GET", key},
                  [&](absl::StatusOr<RedisReply>) { second_done.Notify(); });
  auto refused = client->CommandSync({"GET", other});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(refused.status().message(), HasSubstr("too many outstanding"));
  ASSERT_TRUE(first_done.WaitForNotificationWithTimeout(absl::Seconds(2)));
  const absl::Duration waited = absl::Now() - start;
  ASSERT_TRUE(second_done.WaitForNotificationWithTimeout(absl::Seconds(2)));
  cluster_->node(stalled).Resume();
  EXPECT_EQ(first.code(), absl::StatusCode::kUnavailable) << first;
  EXPECT_GE(waited, absl::Milliseconds(290));
  EXPECT_LT(waited, absl::Milliseconds(800));
  // The connection was reset and comes back.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  absl::StatusOr<RedisReply> value = client->CommandSync({"GET", key});
  while (!value.ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    value = client->CommandSync({"GET", key});
  }
  ASSERT_TRUE(value.ok()) << value.status();
  EXPECT_EQ(value->str, "v");
  EXPECT_TRUE(client->CommandSync({"SET", other, "w"}).ok());
}

// CLUSTER.md's trap: a script touching a key it was not passed, in its own
// slot, succeeds on a cluster; the audit of every node's MONITOR log (as on
// a single test server) still catches it.
TEST_F(RedisClusterTest, TheScriptKeyAuditWatchesEveryNode) {
  auto client = Connect(Options());
  ASSERT_NE(client, nullptr);
  const LuaScript builds_a_key{"builds_a_key",
                               "redis.call('SET', KEYS[1], '1') "
                               "return redis.call('GET', ARGV[1] .. 'other')",
                               "0000000000000000000000000000000000000001"};
  EXPECT_TRUE(client->EvalSync(builds_a_key, {"{audit}:a"}, {"{audit}:"}).ok());
  absl::StatusOr<int> node = cluster_->NodeServingSlot(KeySlot("{audit}:a"));
  ASSERT_TRUE(node.ok());
  cluster_->node(*node).set_key_audit(false);  // The violation is on purpose.
  // MONITOR's output reaches its file asynchronously.
  std::vector<std::string> violations;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (violations.empty() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    violations = cluster_->node(*node).AuditScriptKeys();
  }
  EXPECT_THAT(violations,
              ::testing::Contains(HasSubstr("touches {audit}:other")));
}

TEST_F(RedisClusterTest, BadUrlsAndOptionsAreRefusedSayingWhy) {
  RedisOptions options;
  absl::Status bad = ParseRedisUrl("redis-cluster://127.0.0.1:1/0", &options);
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.message(), HasSubstr("only db 0"));
  bad = ParseRedisUrl("redis-cluster://a:1,,b:2", &options);
  EXPECT_THAT(bad.message(), HasSubstr("node 2: host is empty"));

  ASSERT_TRUE(ParseRedisUrl(cluster_->url(), &options).ok());
  auto hiredis = HiredisClient::Start(options);
  EXPECT_EQ(hiredis.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(hiredis.status().message(), HasSubstr("StartRedisClient"));
  RedisOptions with_db = options;
  with_db.db = 1;
  EXPECT_THAT(ClusterClient::Start(with_db).status().message(),
              HasSubstr("only db 0"));
  RedisOptions none;
  EXPECT_EQ(ClusterClient::Start(none).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ClusterClientTest, FailsAtOnceWhileNoNodeAnswers) {
  RedisOptions options;
  // A port nothing listens on: the slot map never comes.
  ASSERT_TRUE(ParseRedisUrl("redis-cluster://127.0.0.1:1", &options).ok());
  auto client = StartRedisClient(options);
  ASSERT_TRUE(client.ok());
  const absl::Time start = absl::Now();
  auto reply = (*client)->CommandSync({"GET", "k"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(absl::Now() - start, absl::Milliseconds(100));
  EXPECT_EQ((*client)->ready_connections(), 0);
}

// A redis-cluster:// URL naming a server without cluster support: CLUSTER
// SLOTS is refused, so commands fail at once rather than go anywhere.
TEST(ClusterClientTest, ASingleServerIsNoCluster) {
  auto server = testing::RedisServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  RedisOptions options;
  ASSERT_TRUE(ParseRedisUrl(
                  absl::StrCat("redis-cluster://127.0.0.1:", (*server)->port()),
                  &options)
                  .ok());
  auto client = StartRedisClient(options);
  ASSERT_TRUE(client.ok());
  absl::SleepFor(absl::Milliseconds(300));  // Several refresh attempts.
  auto reply = (*client)->CommandSync({"SET", "k", "v"});
  EXPECT_EQ(reply.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(reply.status().message(), HasSubstr("slot map not known"));
  EXPECT_EQ((*client)->ready_connections(), 0);
}

}  // namespace
}  // namespace makegood::redis
