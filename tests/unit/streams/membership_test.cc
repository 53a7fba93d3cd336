// The consumers of a group share its streams: rendezvous ownership
// (OwnedStreams), the beat through membership.lua (Membership, on a
// FakeRedis), and StreamConsumer reading and reclaiming only what it owns.
#include "services/streams/membership.h"

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/streams/stream_consumer.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/fake_redis.h"

namespace makegood::streams {
namespace {

using redis::RedisReply;
using ::testing::ElementsAre;
using testing::FakeRedis;
using testing::NilReply;
using testing::Reply;

using Result = absl::StatusOr<RedisReply>;

RedisReply Names(std::vector<std::string> names) {
  std::vector<RedisReply> out;
  for (std::string& n : names) out.push_back(Reply(std::move(n)));
  return Reply(std::move(out));
}

// Owner of each of `streams` streams, as each member computes it.
std::vector<std::string> Owners(const std::vector<std::string>& live,
                                int streams) {
  std::vector<std::string> owner(streams);
  std::vector<int> claims(streams, 0);
  for (const std::string& m : live) {
    std::vector<bool> mine = OwnedStreams(live, m, streams);
    for (int s = 0; s < streams; ++s) {
      if (mine[s]) {
        owner[s] = m;
        ++claims[s];
      }
    }
  }
  for (int s = 0; s < streams; ++s) EXPECT_EQ(claims[s], 1) << "stream " << s;
  return owner;
}

TEST(Weight, IsStableAcrossProcessesAndBuilds) {
  // Golden values: every replica, whatever its build, must agree.
  EXPECT_EQ(Weight("pod-a", 0), 18286907745844665858u);
  EXPECT_EQ(Weight("pod-a", 63), 8930924799553971241u);
  EXPECT_EQ(Weight("pod-b", 0), 17436800932214723186u);
}

TEST(OwnedStreams, EveryStreamHasExactlyOneOwnerAndSharesAreEven) {
  for (int members = 1; members <= 8; ++members) {
    std::vector<std::string> live;
    for (int i = 0; i < members; ++i)
      live.push_back("pod-" + std::to_string(i));
    std::vector<std::string> owner = Owners(live, 64);
    std::map<std::string, int> share;
    for (const std::string& o : owner) ++share[o];
    for (const std::string& m : live) {
      // Rendezvous hashing is even on average, not exactly: within 2.5x of
      // the fair share, and everyone gets some.
      EXPECT_GE(share[m], 1) << members << " members";
      EXPECT_LE(share[m], 64 * 5 / (2 * members) + 1) << members << " members";
    }
  }
}

TEST(OwnedStreams, ADepartureMovesOnlyTheLeaversStreams) {
  std::vector<std::string> before = Owners({"a", "b", "c", "d"}, 64);
  std::vector<std::string> after = Owners({"a", "b", "d"}, 64);
  int moved = 0;
  for (int s = 0; s < 64; ++s) {
    if (before[s] != "c") {
      EXPECT_EQ(after[s], before[s]) << "stream " << s;
    } else {
      ++moved;
    }
  }
  EXPECT_GT(moved, 0);
}

TEST(OwnedStreams, AMemberNotLiveOwnsNothing) {
  std::vector<bool> owned = OwnedStreams({"a", "b"}, "c", 8);
  EXPECT_EQ(std::count(owned.begin(), owned.end(), true), 0);
  std::vector<bool> alone = OwnedStreams({"c"}, "c", 8);
  EXPECT_EQ(std::count(alone.begin(), alone.end(), true), 8);
}

TEST(Membership, BeatsWithItsTtlAndOwnsItsShareOfTheLiveMembers) {
  FakeRedis redis;
  redis.Answer("membership", Names({"b", "a"}));
  Membership members(redis, "mg:{w1}:consumers:g", "a", 16, absl::Seconds(6));
  EXPECT_EQ(std::count(members.owned().begin(), members.owned().end(), true),
            0);  // Nothing before the first beat.
  ASSERT_TRUE(members.Beat().ok());
  auto calls = redis.calls("membership");
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_THAT(calls[0].keys, ElementsAre("mg:{w1}:consumers:g"));
  EXPECT_THAT(calls[0].args, ElementsAre("a", "6000"));
  EXPECT_THAT(members.live(), ElementsAre("a", "b"));
  EXPECT_EQ(members.owned(), OwnedStreams({"a", "b"}, "a", 16));

  // Redis down: the last answer stands.
  redis.Inject("membership", FakeRedis::Fault::kTimeout);
  EXPECT_FALSE(members.Beat().ok());
  EXPECT_EQ(members.owned(), OwnedStreams({"a", "b"}, "a", 16));

  // A malformed answer is an error, not an empty group.
  redis.Answer("membership", Reply(int64_t{1}));
  EXPECT_EQ(members.Beat().code(), absl::StatusCode::kInternal);

  redis.Answer("membership", Names({"b"}));
  ASSERT_TRUE(members.Leave().ok());
  EXPECT_THAT(redis.calls("membership").back().args, ElementsAre("a", "0"));
  EXPECT_EQ(std::count(members.owned().begin(), members.owned().end(), true),
            0);
}

TEST(StreamConsumerSharing, ReadsAndReclaimsOnlyTheStreamsItOwns) {
  FakeRedis redis;
  testing::FakeClock clock{absl::FromUnixMillis(1'700'000'000'000)};
  absl::Duration monotonic = absl::Seconds(100);
  ConsumerOptions options;
  options.name = "test";
  options.group = "g";
  options.consumer = "a";
  for (int s = 0; s < 8; ++s)
    options.streams.push_back("s" + std::to_string(s));
  options.members_key = "mg:{w1}:consumers:g";
  options.member_ttl = absl::Seconds(6);
  options.monotonic_now = [&] { return monotonic; };
  options.sleep = [](absl::Duration) {};
  redis.On("XGROUP", [](const FakeRedis::Call&) -> Result {
    return absl::InternalError("BUSYGROUP Consumer Group name already exists");
  });
  redis.On("XAUTOCLAIM", [](const FakeRedis::Call&) -> Result {
    return Reply({Reply("0-0"), Reply(std::vector<RedisReply>{}),
                  Reply(std::vector<RedisReply>{})});
  });
  const std::vector<bool> mine = OwnedStreams({"a", "b"}, "a", 8);
  int first_mine = -1;
  for (int s = 0; s < 8; ++s) {
    if (mine[s]) {
      first_mine = s;
      break;
    }
  }
  ASSERT_GE(first_mine, 0);
  const std::string stream = "s" + std::to_string(first_mine);
  redis.On("XREADGROUP", [&](const FakeRedis::Call& call) -> Result {
    if (std::find(call.argv.begin(), call.argv.end(), "BLOCK") ==
        call.argv.end()) {
      return NilReply();  // Own pending: none.
    }
    return Reply({Reply(
        {Reply(stream),
         Reply({Reply({Reply("1-0"), Reply({Reply("k"), Reply("v")})})})})});
  });
  redis.On("membership", [](const FakeRedis::Call&) -> Result {
    return Names({"a", "b"});
  });
  std::vector<StreamEntry> handled;
  StreamConsumer consumer(
      redis, clock, options,
      [&]() -> absl::StatusOr<std::unique_ptr<redis::RedisClient>> {
        return testing::Borrow(redis);
      },
      [&](StreamEntry entry, StreamConsumer::Done done) {
        handled.push_back(std::move(entry));
        done();
      });
  ASSERT_TRUE(consumer.Open().ok());
  consumer.Poll();

  EXPECT_EQ(consumer.owned(), mine);
  // Own pending entries are resumed on every stream.
  auto reads = redis.calls("XREADGROUP");
  ASSERT_GE(reads.size(), 2u);
  for (int s = 0; s < 8; ++s) {
    EXPECT_NE(std::find(reads[0].argv.begin(), reads[0].argv.end(),
                        "s" + std::to_string(s)),
              reads[0].argv.end());
  }
  // New entries and reclaims: only the owned streams.
  const auto& read_new = reads.back().argv;
  for (int s = 0; s < 8; ++s) {
    const bool asked = std::find(read_new.begin(), read_new.end(),
                                 "s" + std::to_string(s)) != read_new.end();
    EXPECT_EQ(asked, mine[s]) << "stream " << s;
  }
  for (const FakeRedis::Call& claim : redis.calls("XAUTOCLAIM")) {
    const int s = std::stoi(claim.argv[1].substr(1));
    EXPECT_TRUE(mine[s]) << "reclaimed on a stream it does not own: " << s;
  }
  // The entry carries its index among all streams, not among those read.
  ASSERT_EQ(handled.size(), 1u);
  EXPECT_EQ(handled[0].stream, first_mine);

  // Stop leaves the group.
  consumer.Stop(absl::ZeroDuration());
  EXPECT_THAT(redis.calls("membership").back().args, ElementsAre("a", "0"));
}

TEST(StreamConsumerSharing, OwningNothingReadsNothingAndWaits) {
  FakeRedis redis;
  testing::FakeClock clock{absl::FromUnixMillis(1'700'000'000'000)};
  ConsumerOptions options;
  options.name = "test";
  options.group = "g";
  options.consumer = "a";
  options.streams = {"s0", "s1"};
  options.members_key = "k";
  options.monotonic_now = [] { return absl::Seconds(1); };
  std::vector<absl::Duration> slept;
  options.sleep = [&](absl::Duration d) { slept.push_back(d); };
  redis.On("XGROUP",
           [](const FakeRedis::Call&) -> Result { return Reply("OK"); });
  redis.On("XREADGROUP",
           [](const FakeRedis::Call&) -> Result { return NilReply(); });
  redis.Inject("membership", FakeRedis::Fault::kTimeout);  // Never beat yet.
  StreamConsumer consumer(
      redis, clock, options,
      [&]() -> absl::StatusOr<std::unique_ptr<redis::RedisClient>> {
        return testing::Borrow(redis);
      },
      [](StreamEntry, StreamConsumer::Done done) { done(); });
  ASSERT_TRUE(consumer.Open().ok());
  consumer.Poll();
  for (const FakeRedis::Call& read : redis.calls("XREADGROUP")) {
    EXPECT_EQ(std::find(read.argv.begin(), read.argv.end(), "BLOCK"),
              read.argv.end())
        << "read new entries while owning nothing";
  }
  EXPECT_EQ(redis.count("XAUTOCLAIM"), 0);
  EXPECT_FALSE(slept.empty());
}

}  // namespace
}  // namespace makegood::streams
