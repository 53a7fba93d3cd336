// The stream readers on a real Redis Cluster (3 primaries, 3 replicas):
// consumers sharing a group's streams read them slot by slot, each entry
// handled once; a consumer restarted under its name resumes its own pending
// entries on every node; the refund feed tells subscribers of notices on
// every node. On a single Redis each of these reads would be one command
// over every stream, which a cluster refuses (CROSSSLOT).
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/core/clock.h"
#include "services/redis/key_slot.h"
#include "services/redis/keyspace_notifications.h"
#include "services/redis/redis_client_factory.h"
#include "services/redis/redis_options.h"
#include "services/store/key_schema.h"
#include "services/store/refund_feed.h"
#include "services/streams/stream_consumer.h"
#include "tests/testing/eventually.h"
#include "tests/testing/redis_cluster.h"

namespace makegood::streams {
namespace {

using ::makegood::testing::Eventually;
using ::makegood::testing::RedisCluster;

constexpr int kPartitions = 12;

class StreamClusterTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = RedisCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
    // What the stream readers are woken by on a cluster.
    for (int n = 0; n < RedisCluster::kNodes; ++n) {
      ASSERT_TRUE(
          cluster_->Cli(n, {"CONFIG", "SET", "notify-keyspace-events", "Kt"})
              .ok());
    }
  }
  static void TearDownTestSuite() {
    delete cluster_;
    cluster_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    ASSERT_TRUE(redis::ParseRedisUrl(cluster_->url(), &options_).ok());
    auto client = redis::StartRedisClient(options_);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = *std::move(client);
    ASSERT_TRUE(Eventually([&] { return redis_->ready_connections() >= 3; }));
    auto keys = store::KeySchema::Create(kPartitions);
    ASSERT_TRUE(keys.ok());
    keys_ = std::make_unique<store::KeySchema>(*keys);
    const std::string test =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    std::set<int> primaries;
    for (int p = 0; p < kPartitions; ++p) {
      streams_.push_back(keys_->PartitionPrefix(p) + "test:" + test);
      auto node = cluster_->NodeServingSlot(redis::KeySlot(streams_.back()));
      ASSERT_TRUE(node.ok()) << node.status();
      primaries.insert(*node);
    }
    ASSERT_EQ(primaries.size(), 3u) << "the streams must span every primary";
    group_ = absl::StrCat("g-", test);
  }

  struct Consumer {
    std::unique_ptr<StreamConsumer> consumer;
    bool ack = true;
    absl::Mutex mu;
    std::vector<std::string> handled ABSL_GUARDED_BY(mu);  // "stream/id".
  };

  std::unique_ptr<Consumer> Start(const std::string& name, bool ack = true,
                                  bool notified = false) {
    auto c = std::make_unique<Consumer>();
    c->ack = ack;
    ConsumerOptions options;
    options.name = "test";
    options.group = group_;
    options.consumer = name;
    options.streams = streams_;
    options.members_key = absl::StrCat("mg:{w1}:consumers:", group_);
    options.member_ttl = absl::Milliseconds(900);
    options.block = absl::Milliseconds(100);
    options.retry_after = absl::Seconds(30);  // No reclaiming here.
    if (notified) options.notifications = NotificationsOf(options_);
    Consumer* raw = c.get();
    c->consumer = std::make_unique<StreamConsumer>(
        *redis_, RealClock(), options,
        BlockingReadClient(options_, options.block),
        [raw](StreamEntry entry, StreamConsumer::Done done) {
          {
            absl::MutexLock lock(&raw->mu);
            raw->handled.push_back(absl::StrCat(entry.stream, "/", entry.id));
          }
          if (!raw->ack) {
            done();
            return;
          }
          raw->consumer->Ack(entry, [done = std::move(done)](
                                        absl::Status) mutable { done(); });
        });
    EXPECT_TRUE(c->consumer->Start().ok());
    return c;
  }

  // One entry on every stream; their "stream/id"s.
  std::vector<std::string> AddOnePerStream() {
    std::vector<std::string> added;
    for (size_t s = 0; s < streams_.size(); ++s) {
      auto id = redis_->CommandSync({"XADD", streams_[s], "*", "k", "v"});
      EXPECT_TRUE(id.ok()) << id.status();
      if (id.ok()) added.push_back(absl::StrCat(s, "/", id->str));
    }
    return added;
  }

  static std::vector<std::string> Handled(Consumer& c) {
    absl::MutexLock lock(&c.mu);
    return c.handled;
  }

  static std::vector<std::string> HandledByBoth(Consumer& a, Consumer& b) {
    std::vector<std::string> handled = Handled(a);
    for (std::string& h : Handled(b)) handled.push_back(std::move(h));
    return handled;
  }

  // XREADGROUP calls served by every node so far (INFO commandstats).
  int64_t ReadsServed() {
    int64_t calls = 0;
    for (int n = 0; n < RedisCluster::kNodes; ++n) {
      auto served = cluster_->CommandCalls(n, "xreadgroup");
      EXPECT_TRUE(served.ok()) << served.status();
      calls += served.value_or(0);
    }
    return calls;
  }

  int64_t PendingEverywhere() {
    int64_t pending = 0;
    for (const std::string& stream : streams_) {
      auto reply = redis_->CommandSync({"XPENDING", stream, group_});
      EXPECT_TRUE(reply.ok()) << reply.status();
      if (reply.ok() && !reply->elements.empty()) {
        pending += reply->elements[0].integer;
      }
    }
    return pending;
  }

  static RedisCluster* cluster_;
  redis::RedisOptions options_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<store::KeySchema> keys_;
  std::vector<std::string> streams_;
  std::string group_;
};

RedisCluster* StreamClusterTest::cluster_ = nullptr;

TEST_F(StreamClusterTest, SharingConsumersHandleEveryEntryOnEveryNodeOnce) {
  auto a = Start("a");
  auto b = Start("b");
  // Both own a share before the entries come.
  ASSERT_TRUE(Eventually([&] {
    auto owned_a = a->consumer->owned(), owned_b = b->consumer->owned();
    int shared = 0;
    for (size_t s = 0; s < streams_.size(); ++s) {
      shared += (owned_a[s] ? 1 : 0) + (owned_b[s] ? 1 : 0);
    }
    return shared == kPartitions &&
           std::count(owned_a.begin(), owned_a.end(), true) > 0 &&
           std::count(owned_b.begin(), owned_b.end(), true) > 0;
  }));
  std::vector<std::string> added = AddOnePerStream();
  std::vector<std::string> more = AddOnePerStream();
  added.insert(added.end(), more.begin(), more.end());
  ASSERT_TRUE(
      Eventually([&] { return HandledByBoth(*a, *b).size() >= added.size(); }));
  EXPECT_THAT(HandledByBoth(*a, *b),
              ::testing::UnorderedElementsAreArray(added));
  EXPECT_TRUE(Eventually([&] { return PendingEverywhere() == 0; }));
  a->consumer->Stop(absl::Seconds(1));
  b->consumer->Stop(absl::Seconds(1));
}

TEST_F(StreamClusterTest,
       NotifiedConsumersAreWokenByEntriesAndSilentWhileIdle) {
  auto a = Start("a", /*ack=*/true, /*notified=*/true);
  auto b = Start("b", /*ack=*/true, /*notified=*/true);
  std::vector<std::string> added = AddOnePerStream();
  ASSERT_TRUE(
      Eventually([&] { return HandledByBoth(*a, *b).size() >= added.size(); }));
  // Idle: no read until an entry comes (a polling consumer reads every
  // stream it owns at least every `block`, 100 ms: some 240 reads in 2 s;
  // a blocking read cannot span slots). Only the read of everything every
  // 5 s, in case a notification was lost, may fall in the window.
  absl::SleepFor(absl::Milliseconds(500));
  const int64_t before = ReadsServed();
  absl::SleepFor(absl::Seconds(2));
  EXPECT_LE(ReadsServed() - before, 2 * kPartitions);
  std::vector<std::string> more = AddOnePerStream();
  added.insert(added.end(), more.begin(), more.end());
  ASSERT_TRUE(
      Eventually([&] { return HandledByBoth(*a, *b).size() >= added.size(); }));
  EXPECT_THAT(HandledByBoth(*a, *b),
              ::testing::UnorderedElementsAreArray(added));
  a->consumer->Stop(absl::Seconds(1));
  b->consumer->Stop(absl::Seconds(1));
}

TEST_F(StreamClusterTest, NotificationsSayOnlyWhichWatchedStreamsGotEntries) {
  auto notes =
      redis::KeyspaceNotifications::Start(options_, streams_, {"xadd"});
  ASSERT_TRUE(notes.ok()) << notes.status();
  std::vector<bool> watched(streams_.size(), false);
  watched[1] = watched[2] = true;
  (*notes)->Watch(watched);
  ASSERT_TRUE(Eventually(
      [&] { return (*notes)->enabled() && (*notes)->subscribers() == 3; }));
  // Watching starts with "read them once".
  EXPECT_THAT((*notes)->Wait(absl::ZeroDuration()),
              ::testing::UnorderedElementsAre(1, 2));
  EXPECT_THAT((*notes)->Wait(absl::Milliseconds(100)), ::testing::IsEmpty());
  for (int s : {0, 2, 3}) {
    ASSERT_TRUE(redis_->CommandSync({"XADD", streams_[s], "*", "k", "v"}).ok());
  }
  // Creating a group is no new entry.
  ASSERT_TRUE(
      redis_
          ->CommandSync({"XGROUP", "CREATE", streams_[1], "g", "0", "MKSTREAM"})
          .ok());
  std::vector<int> touched;
  ASSERT_TRUE(Eventually([&] {
    for (int s : (*notes)->Wait(absl::Milliseconds(100))) touched.push_back(s);
    return !touched.empty();
  }));
  absl::SleepFor(absl::Milliseconds(200));
  for (int s : (*notes)->Wait(absl::ZeroDuration())) touched.push_back(s);
  EXPECT_THAT(touched, ::testing::ElementsAre(2));
}

TEST_F(StreamClusterTest, APrimaryWithoutNotificationsMakesThemUntrusted) {
  // Checked when subscribing: readers then poll (stream_consumer.h).
  auto off = cluster_->NodeServingSlot(redis::KeySlot(streams_[0]));
  ASSERT_TRUE(off.ok());
  ASSERT_TRUE(
      cluster_->Cli(*off, {"CONFIG", "SET", "notify-keyspace-events", ""})
          .ok());
  auto notes =
      redis::KeyspaceNotifications::Start(options_, streams_, {"xadd"});
  ASSERT_TRUE(notes.ok()) << notes.status();
  (*notes)->Watch(std::vector<bool>(streams_.size(), true));
  ASSERT_TRUE(Eventually([&] { return (*notes)->subscribers() == 3; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE((*notes)->enabled());
  ASSERT_TRUE(
      cluster_->Cli(*off, {"CONFIG", "SET", "notify-keyspace-events", "Kt"})
          .ok());
}

TEST_F(StreamClusterTest, NotificationsFollowAFailoverToThePromotedReplica) {
  auto notes = redis::KeyspaceNotifications::Start(options_, streams_, {"xadd"},
                                                   absl::Seconds(1));
  ASSERT_TRUE(notes.ok()) << notes.status();
  (*notes)->Watch(std::vector<bool>(streams_.size(), true));
  ASSERT_TRUE(Eventually(
      [&] { return (*notes)->enabled() && (*notes)->subscribers() == 3; }));
  (*notes)->Wait(absl::ZeroDuration());  // The first subscription's "all".
  auto victim = cluster_->NodeServingSlot(redis::KeySlot(streams_[0]));
  ASSERT_TRUE(victim.ok());
  ASSERT_TRUE(cluster_->Kill(*victim).ok());
  ASSERT_TRUE(cluster_->WaitForPromotion(*victim, absl::Seconds(20)).ok());
  // Subscribed to the promoted replica: three subscribers, trusted again,
  // and every watched stream to be read once (events may have been lost).
  ASSERT_TRUE(Eventually(
      [&] { return (*notes)->enabled() && (*notes)->subscribers() == 3; }));
  (*notes)->Wait(absl::ZeroDuration());
  ASSERT_TRUE(Eventually([&] {
    return redis_->CommandSync({"XADD", streams_[0], "*", "k", "v"}).ok();
  }));
  EXPECT_TRUE(Eventually([&] {
    std::vector<int> touched = (*notes)->Wait(absl::Milliseconds(200));
    return std::find(touched.begin(), touched.end(), 0) != touched.end();
  }));
}

TEST_F(StreamClusterTest,
       ARestartedConsumerResumesItsPendingEntriesOnEveryNode) {
  auto first = Start("solo", /*ack=*/false);
  std::vector<std::string> added = AddOnePerStream();
  ASSERT_TRUE(
      Eventually([&] { return Handled(*first).size() >= added.size(); }));
  first->consumer->Stop(absl::Seconds(1));
  ASSERT_EQ(PendingEverywhere(), kPartitions);
  // The same name again: its own pending entries come first, from every
  // slot, long before retry_after would let anyone reclaim them.
  auto again = Start("solo");
  ASSERT_TRUE(
      Eventually([&] { return Handled(*again).size() >= added.size(); }));
  EXPECT_THAT(Handled(*again), ::testing::UnorderedElementsAreArray(added));
  EXPECT_TRUE(Eventually([&] { return PendingEverywhere() == 0; }));
  again->consumer->Stop(absl::Seconds(1));
}

TEST_F(StreamClusterTest, TheRefundFeedHearsNoticesOnEveryNode) {
  auto feed = store::RefundFeed::Start(options_, *keys_, absl::Hours(1));
  ASSERT_TRUE(feed.ok()) << feed.status();
  absl::Mutex mu;
  std::set<int> heard;
  for (int p = 0; p < kPartitions; ++p) {
    (*feed)->Subscribe(absl::StrCat("rf_", p), [&mu, &heard, p] {
      absl::MutexLock lock(&mu);
      heard.insert(p);
    });
  }
  // The feed reads from the moment it started (notices added in that very
  // millisecond included: the XADDs below come at once); wait until it has read
  // once (the heartbeat is an hour: only notices call subscribers, and the
  // start calls each once).
  ASSERT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return heard.size() == static_cast<size_t>(kPartitions);
  }));
  {
    absl::MutexLock lock(&mu);
    heard.clear();
  }
  const uint64_t before = (*feed)->notices();
  for (int p = 0; p < kPartitions; ++p) {
    ASSERT_TRUE(redis_
                    ->CommandSync({"XADD", keys_->RefundFeedKey(p), "*",
                                   "refund_id", absl::StrCat("rf_", p)})
                    .ok());
  }
  EXPECT_TRUE(Eventually([&] {
    absl::MutexLock lock(&mu);
    return heard.size() == static_cast<size_t>(kPartitions);
  }));
  EXPECT_EQ((*feed)->notices() - before, static_cast<uint64_t>(kPartitions));
}

}  // namespace
}  // namespace makegood::streams
