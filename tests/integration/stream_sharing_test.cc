// Consumers of one group share its streams on a real Redis
// (streams/membership.h): each entry is handled once, by the owner of its
// stream; a consumer that stops hands its share over at once, and one that
// dies (stops beating) after its member_ttl.
#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/core/clock.h"
#include "services/redis/hiredis_client.h"
#include "services/streams/membership.h"
#include "services/streams/stream_consumer.h"
#include "tests/testing/eventually.h"
#include "tests/testing/redis_server.h"

namespace makegood::streams {
namespace {

using ::makegood::testing::Eventually;
using ::makegood::testing::RedisServer;

constexpr int kStreams = 16;
constexpr char kMembers[] = "mg:{w1}:consumers:g";

class StreamSharingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_TRUE(redis::ParseRedisUrl(server_->url(), &options_).ok());
    auto client = redis::HiredisClient::Start(options_);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = *std::move(client);
    ASSERT_TRUE(Eventually([&] { return redis_->ready_connections() > 0; }));
    for (int s = 0; s < kStreams; ++s) {
      streams_.push_back(absl::StrCat("mg:{p", s, "}:test"));
    }
  }

  struct Consumer {
    std::unique_ptr<StreamConsumer> consumer;
    absl::Mutex mu;
    std::vector<int> handled ABSL_GUARDED_BY(mu);  // Stream of each entry.
  };

  std::unique_ptr<Consumer> Start(const std::string& name) {
    auto c = std::make_unique<Consumer>();
    ConsumerOptions options;
    options.name = "test";
    options.group = "g";
    options.consumer = name;
    options.streams = streams_;
    options.members_key = kMembers;
    options.member_ttl = absl::Milliseconds(600);
    options.block = absl::Milliseconds(50);
    options.retry_after = absl::Milliseconds(300);
    Consumer* raw = c.get();
    c->consumer = std::make_unique<StreamConsumer>(
        *redis_, RealClock(), options,
        BlockingReadClient(options_, options.block),
        [raw](StreamEntry entry, StreamConsumer::Done done) {
          {
            absl::MutexLock lock(&raw->mu);
            raw->handled.push_back(entry.stream);
          }
          raw->consumer->Ack(entry, [done = std::move(done)](
                                        absl::Status) mutable { done(); });
        });
    EXPECT_TRUE(c->consumer->Start().ok());
    return c;
  }

  void AddOnePerStream() {
    for (const std::string& s : streams_) {
      ASSERT_TRUE(redis_->CommandSync({"XADD", s, "*", "k", "v"}).ok());
    }
  }

  static std::vector<int> Handled(Consumer& c) {
    absl::MutexLock lock(&c.mu);
    return c.handled;
  }

  static int Count(const std::vector<bool>& owned) {
    return static_cast<int>(std::count(owned.begin(), owned.end(), true));
  }

  std::unique_ptr<RedisServer> server_;
  redis::RedisOptions options_;
  std::unique_ptr<redis::HiredisClient> redis_;
  std::vector<std::string> streams_;
};

TEST_F(StreamSharingTest, EachStreamIsReadByItsOwnerAndAStopHandsItsShareOver) {
  auto a = Start("a");
  auto b = Start("b");
  // Both see both (before that, one may own everything and the other
  // nothing): their shares are complementary.
  ASSERT_TRUE(Eventually([&] {
    return a->consumer->owned() == OwnedStreams({"a", "b"}, "a", kStreams) &&
           b->consumer->owned() == OwnedStreams({"a", "b"}, "b", kStreams);
  }));
  const std::vector<bool> owned_by_a = a->consumer->owned();
  EXPECT_GT(Count(owned_by_a), 0);
  EXPECT_LT(Count(owned_by_a), kStreams);

  AddOnePerStream();
  ASSERT_TRUE(Eventually(
      [&] { return Handled(*a).size() + Handled(*b).size() == kStreams; }));
  for (int s : Handled(*a)) EXPECT_TRUE(owned_by_a[s]) << "a read " << s;
  for (int s : Handled(*b)) EXPECT_FALSE(owned_by_a[s]) << "b read " << s;

  // b stops cleanly: a owns everything at its next beat, not after the ttl.
  b->consumer->Stop(absl::Seconds(1));
  EXPECT_EQ(Count(b->consumer->owned()), 0);
  ASSERT_TRUE(
      Eventually([&] { return Count(a->consumer->owned()) == kStreams; },
                 absl::Milliseconds(500)));
  AddOnePerStream();
  ASSERT_TRUE(Eventually([&] {
    return Handled(*a).size() ==
           static_cast<size_t>(Count(owned_by_a)) + kStreams;
  }));
  a->consumer->Stop(absl::Seconds(1));
}

TEST_F(StreamSharingTest, ADeadMembersShareMovesAfterItsTtl) {
  // A member that beat once and died: it holds its share for its ttl.
  Membership ghost(*redis_, kMembers, "ghost", kStreams, absl::Seconds(2));
  ASSERT_TRUE(ghost.Beat().ok());
  auto a = Start("a");
  ASSERT_TRUE(Eventually([&] {
    return a->consumer->owned() == OwnedStreams({"a", "ghost"}, "a", kStreams);
  }));
  EXPECT_LT(Count(a->consumer->owned()), kStreams);
  // Then everything, with no restart.
  ASSERT_TRUE(
      Eventually([&] { return Count(a->consumer->owned()) == kStreams; },
                 absl::Seconds(5)));
  auto members = redis_->CommandSync({"HKEYS", kMembers});
  ASSERT_TRUE(members.ok());
  ASSERT_EQ(members->elements.size(), 1u);
  EXPECT_EQ(members->elements[0].str, "a");
  a->consumer->Stop(absl::Seconds(1));
}

}  // namespace
}  // namespace makegood::streams
