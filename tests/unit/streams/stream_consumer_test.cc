// StreamConsumer on a FakeRedis: group creation, pending-first reads,
// reclaiming, dead letters, acks, and a fault on each step. Poll runs one
// pass of the loop on the test's thread; the fake answers inline.
#include "services/streams/stream_consumer.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
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

RedisReply Entry(std::string id, std::vector<std::string> kv) {
  std::vector<RedisReply> fields;
  for (std::string& s : kv) fields.push_back(Reply(std::move(s)));
  return Reply({Reply(std::move(id)), Reply(std::move(fields))});
}

// An XREADGROUP reply holding `entries` of `stream`.
RedisReply Read(std::string stream, std::vector<RedisReply> entries) {
  return Reply({Reply({Reply(std::move(stream)), Reply(std::move(entries))})});
}

RedisReply Claim(std::string cursor, std::vector<RedisReply> entries) {
  return Reply({Reply(std::move(cursor)), Reply(std::move(entries)),
                Reply(std::vector<RedisReply>{})});
}

// XPENDING's answer for one entry delivered `deliveries` times.
RedisReply Pending(std::string id, int64_t deliveries) {
  return Reply({Reply({Reply(std::move(id)), Reply("c"), Reply(int64_t{10}),
                       Reply(deliveries)})});
}

bool IsOwnPendingRead(const FakeRedis::Call& call) {
  return std::find(call.argv.begin(), call.argv.end(), "BLOCK") ==
         call.argv.end();
}

class StreamConsumerTest : public ::testing::Test {
 protected:
  StreamConsumerTest() {
    options_.name = "test";
    options_.group = "g";
    options_.consumer = "c";
    options_.streams = {"s0", "s1"};
    options_.dead_letter_streams = {"s0:dead", "s1:dead"};
    options_.retry_after = absl::Seconds(5);
    options_.monotonic_now = [this] { return monotonic_; };
    options_.sleep = [this](absl::Duration d) { slept_.push_back(d); };
    // By default: groups exist, nothing pending, nothing to claim, nothing
    // new.
    redis_.On("XGROUP", [](const FakeRedis::Call&) -> Result {
      return absl::InternalError(
          "BUSYGROUP Consumer Group name already exists");
    });
    redis_.On("XREADGROUP",
              [](const FakeRedis::Call&) -> Result { return NilReply(); });
    redis_.On("XAUTOCLAIM", [](const FakeRedis::Call&) -> Result {
      return Claim("0-0", {});
    });
  }

  std::unique_ptr<StreamConsumer> Make(bool dead_letter_hook = false) {
    StreamConsumer::Handler hook = nullptr;
    if (dead_letter_hook) {
      hook = [this](StreamEntry entry, StreamConsumer::Done done) {
        dead_.push_back(std::move(entry));
        done();
      };
    }
    auto consumer = std::make_unique<StreamConsumer>(
        redis_, clock_, options_,
        [this]() -> absl::StatusOr<std::unique_ptr<redis::RedisClient>> {
          return testing::Borrow(redis_);
        },
        [this](StreamEntry entry, StreamConsumer::Done done) {
          handled_.push_back(entry);
          if (hold_) {
            held_.push_back(std::move(done));
          } else {
            done();
          }
        },
        std::move(hook));
    EXPECT_TRUE(consumer->Open().ok());
    return consumer;
  }

  std::vector<std::string> HandledIds() const {
    std::vector<std::string> ids;
    for (const StreamEntry& e : handled_) {
      ids.push_back(absl::StrCat(e.stream, "/", e.id));
    }
    return ids;
  }

  FakeRedis redis_;
  testing::FakeClock clock_{absl::FromUnixMillis(1'700'000'000'000)};
  ConsumerOptions options_;
  absl::Duration monotonic_ = absl::Seconds(100);
  std::vector<absl::Duration> slept_;
  std::vector<StreamEntry> handled_;
  std::vector<StreamEntry> dead_;
  bool hold_ = false;  // Keep entries in flight (done not called).
  std::vector<StreamConsumer::Done> held_;
};

TEST_F(StreamConsumerTest,
       CreatesItsGroupOnEveryStreamAndTakesBusyGroupAsDone) {
  redis_.Answer("XGROUP", Reply("OK"));  // s0 new; s1 answers BUSYGROUP.
  auto consumer = Make();
  consumer->Poll();
  auto groups = redis_.calls("XGROUP");
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_THAT(groups[0].argv,
              ElementsAre("XGROUP", "CREATE", "s0", "g", "0", "MKSTREAM"));
  EXPECT_EQ(groups[1].argv[2], "s1");
  EXPECT_TRUE(slept_.empty());
  EXPECT_GE(redis_.count("XREADGROUP"), 2);  // Own pending, then new.
  consumer->Poll();
  EXPECT_EQ(redis_.count("XGROUP"), 2);  // Once per start.
  EXPECT_TRUE(redis_.unexpected().empty());
}

TEST_F(StreamConsumerTest,
       AFailedGroupCreationIsRetriedAfterAPauseBeforeReading) {
  redis_.Inject("XGROUP", FakeRedis::Fault::kTimeout);
  auto consumer = Make();
  consumer->Poll();
  EXPECT_EQ(redis_.count("XREADGROUP"), 0);
  EXPECT_THAT(slept_, ElementsAre(options_.group_retry));
  consumer->Poll();
  EXPECT_EQ(redis_.count("XGROUP"), 4);
  EXPECT_GE(redis_.count("XREADGROUP"), 1);
}

TEST_F(StreamConsumerTest, ReadsItsOwnPendingEntriesPageByPageBeforeNewOnes) {
  options_.read_count = 2;
  // Own pending: s0 has 1-0 and 2-0, then 3-0; s1 nothing.
  redis_.Answer("XREADGROUP", Read("s0", {Entry("1-0", {"k", "a"}),
                                          Entry("2-0", {"k", "b"})}));
  redis_.Answer("XREADGROUP", Read("s0", {Entry("3-0", {"k", "c"})}));
  redis_.Answer("XREADGROUP", NilReply());
  // New.
  redis_.Answer("XREADGROUP", Read("s1", {Entry("9-0", {"k", "d"})}));
  auto consumer = Make();
  consumer->Poll();
  EXPECT_THAT(HandledIds(), ElementsAre("0/1-0", "0/2-0", "0/3-0", "1/9-0"));
  EXPECT_EQ(handled_[0].Field("k"), "a");
  EXPECT_FALSE(handled_[0].reclaimed);
  auto reads = redis_.calls("XREADGROUP");
  ASSERT_EQ(reads.size(), 4u);
  EXPECT_THAT(reads[0].argv,
              ElementsAre("XREADGROUP", "GROUP", "g", "c", "COUNT", "2",
                          "STREAMS", "s0", "s1", "0", "0"));
  // Only the stream that had entries is asked again, after the last one.
  EXPECT_THAT(reads[1].argv, ElementsAre("XREADGROUP", "GROUP", "g", "c",
                                         "COUNT", "2", "STREAMS", "s0", "2-0"));
  EXPECT_THAT(reads[2].argv, ElementsAre("XREADGROUP", "GROUP", "g", "c",
                                         "COUNT", "2", "STREAMS", "s0", "3-0"));
  EXPECT_THAT(reads[3].argv,
              ElementsAre("XREADGROUP", "GROUP", "g", "c", "COUNT", "2",
                          "BLOCK", "500", "STREAMS", "s0", "s1", ">", ">"));
  // Own pending is read once per start.
  consumer->Poll();
  EXPECT_FALSE(IsOwnPendingRead(redis_.calls("XREADGROUP").back()));
  EXPECT_EQ(consumer->stats().delivered, 4u);
}

TEST_F(StreamConsumerTest, AFailedOwnPendingReadResumesWhereItStopped) {
  options_.read_count = 1;
  redis_.Answer("XREADGROUP", Read("s0", {Entry("1-0", {})}));
  redis_.Inject("XREADGROUP", FakeRedis::Fault::kLoseReply);
  auto consumer = Make();
  consumer->Poll();
  EXPECT_THAT(HandledIds(), ElementsAre("0/1-0"));
  // The pass went on: reclaim and a new read.
  EXPECT_EQ(redis_.count("XAUTOCLAIM"), 2);
  auto reads = redis_.calls("XREADGROUP");
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_FALSE(IsOwnPendingRead(reads[2]));
  consumer->Poll();
  reads = redis_.calls("XREADGROUP");
  ASSERT_GE(reads.size(), 4u);
  EXPECT_THAT(reads[3].argv, ElementsAre("XREADGROUP", "GROUP", "g", "c",
                                         "COUNT", "1", "STREAMS", "s0", "1-0"));
}

TEST_F(StreamConsumerTest, ReclaimsIdleEntriesPageByPageEveryHalfRetryAfter) {
  redis_.Answer("XAUTOCLAIM", Claim("3-0", {Entry("2-0", {"k", "v"})}));
  redis_.Answer("XAUTOCLAIM", Claim("0-0", {Entry("3-0", {"k", "w"})}));
  auto consumer = Make();
  consumer->Poll();
  EXPECT_THAT(HandledIds(), ElementsAre("0/2-0", "0/3-0"));
  EXPECT_TRUE(handled_[0].reclaimed);
  auto claims = redis_.calls("XAUTOCLAIM");
  ASSERT_EQ(claims.size(), 3u);  // s0 twice (cursor), s1 once.
  EXPECT_THAT(claims[0].argv, ElementsAre("XAUTOCLAIM", "s0", "g", "c", "5000",
                                          "0-0", "COUNT", "100"));
  EXPECT_EQ(claims[1].argv[5], "3-0");
  EXPECT_EQ(claims[2].argv[1], "s1");
  EXPECT_EQ(consumer->stats().reclaimed, 2u);
  EXPECT_EQ(redis_.count("XPENDING"), 0);  // No max_deliveries: not asked.

  consumer->Poll();
  EXPECT_EQ(redis_.count("XAUTOCLAIM"), 3);  // Not due yet.
  monotonic_ += absl::Milliseconds(2500);
  consumer->Poll();
  EXPECT_EQ(redis_.count("XAUTOCLAIM"), 5);
}

TEST_F(StreamConsumerTest, AFailedReclaimSkipsOnlyThatStream) {
  redis_.Inject("XAUTOCLAIM", FakeRedis::Fault::kTimeout);
  redis_.Answer("XAUTOCLAIM", Claim("0-0", {Entry("7-0", {})}));
  auto consumer = Make();
  consumer->Poll();
  EXPECT_THAT(HandledIds(), ElementsAre("1/7-0"));
}

TEST_F(StreamConsumerTest, AnEntryPastMaxDeliveriesGoesToTheDeadLetterStream) {
  options_.max_deliveries = 3;
  redis_.Answer("XAUTOCLAIM", Claim("0-0", {Entry("2-0", {"k", "v"}),
                                            Entry("4-0", {"k", "w"})}));
  redis_.Answer("XPENDING", Pending("2-0", 4));
  redis_.Answer("XPENDING", Pending("4-0", 3));
  redis_.On("XADD",
            [](const FakeRedis::Call&) -> Result { return Reply("9-0"); });
  redis_.On("XACK",
            [](const FakeRedis::Call&) -> Result { return Reply(int64_t{1}); });
  redis_.On("XDEL",
            [](const FakeRedis::Call&) -> Result { return Reply(int64_t{1}); });
  auto consumer = Make();
  consumer->Poll();
  // 4-0 was delivered 3 times: handled once more. 2-0: dead-lettered.
  EXPECT_THAT(HandledIds(), ElementsAre("0/4-0"));
  EXPECT_EQ(handled_[0].deliveries, 3);
  EXPECT_THAT(redis_.calls("XPENDING")[0].argv,
              ElementsAre("XPENDING", "s0", "g", "2-0", "2-0", "1"));
  auto added = redis_.calls("XADD");
  ASSERT_EQ(added.size(), 1u);
  EXPECT_THAT(added[0].argv, ElementsAre("XADD", "s0:dead", "*", "entry_id",
                                         "2-0", "deliveries", "4", "dead_at_ms",
                                         "1700000000000", "k", "v"));
  ASSERT_EQ(redis_.calls("XACK").size(), 1u);
  EXPECT_THAT(redis_.calls("XACK")[0].argv,
              ElementsAre("XACK", "s0", "g", "2-0"));
  EXPECT_THAT(redis_.calls("XDEL")[0].argv, ElementsAre("XDEL", "s0", "2-0"));
  EXPECT_EQ(consumer->stats().dead_lettered, 1u);
  EXPECT_EQ(consumer->stats().delivered, 1u);
}

TEST_F(StreamConsumerTest,
       ALostDeadLetterCopyLeavesTheEntryPendingForTheNextClaim) {
  options_.max_deliveries = 1;
  redis_.On("XAUTOCLAIM", [](const FakeRedis::Call& call) -> Result {
    if (call.argv[1] == "s1") return Claim("0-0", {});
    return Claim("0-0", {Entry("2-0", {})});
  });
  redis_.On("XPENDING",
            [](const FakeRedis::Call&) -> Result { return Pending("2-0", 2); });
  redis_.On("XADD",
            [](const FakeRedis::Call&) -> Result { return Reply("9-0"); });
  redis_.On("XACK",
            [](const FakeRedis::Call&) -> Result { return Reply(int64_t{1}); });
  redis_.On("XDEL",
            [](const FakeRedis::Call&) -> Result { return Reply(int64_t{1}); });
  redis_.Inject("XADD", FakeRedis::Fault::kLoseReply);
  auto consumer = Make();
  consumer->Poll();
  EXPECT_EQ(redis_.count("XADD"), 1);
  EXPECT_EQ(redis_.count("XACK"), 0);  // Not acked without a known copy.
  monotonic_ += absl::Seconds(3);
  consumer->Poll();  // Not in flight any more: dead-lettered again.
  EXPECT_EQ(redis_.count("XADD"), 2);
  EXPECT_EQ(redis_.count("XACK"), 1);
  EXPECT_TRUE(handled_.empty());
}

TEST_F(StreamConsumerTest, TheDeadLetterHookReplacesTheDefaultCopy) {
  options_.max_deliveries = 2;
  redis_.Answer("XAUTOCLAIM", Claim("0-0", {Entry("2-0", {"k", "v"})}));
  redis_.Answer("XPENDING", Pending("2-0", 3));
  auto consumer = Make(/*dead_letter_hook=*/true);
  consumer->Poll();
  ASSERT_EQ(dead_.size(), 1u);
  EXPECT_EQ(dead_[0].id, "2-0");
  EXPECT_EQ(dead_[0].deliveries, 3);
  EXPECT_EQ(redis_.count("XADD"), 0);
  EXPECT_TRUE(handled_.empty());
  EXPECT_TRUE(redis_.unexpected().empty());
}

TEST_F(StreamConsumerTest, AFailedDeliveryCountIsTakenAsOneDelivery) {
  options_.max_deliveries = 1;
  redis_.Answer("XAUTOCLAIM", Claim("0-0", {Entry("2-0", {})}));
  redis_.Inject("XPENDING", FakeRedis::Fault::kTimeout);
  auto consumer = Make(/*dead_letter_hook=*/true);
  consumer->Poll();
  EXPECT_THAT(HandledIds(), ElementsAre("0/2-0"));
  EXPECT_TRUE(dead_.empty());
}

TEST_F(StreamConsumerTest, AnEntryInFlightIsNotHandedOutTwice) {
  hold_ = true;
  redis_.On("XAUTOCLAIM", [](const FakeRedis::Call& call) -> Result {
    if (call.argv[1] == "s1") return Claim("0-0", {});
    return Claim("0-0", {Entry("2-0", {})});
  });
  auto consumer = Make();
  consumer->Poll();
  monotonic_ += absl::Seconds(3);
  consumer->Poll();
  EXPECT_THAT(HandledIds(), ElementsAre("0/2-0"));
  EXPECT_EQ(consumer->stats().reclaimed, 2u);
  std::exchange(held_[0], nullptr)();
  monotonic_ += absl::Seconds(3);
  consumer->Poll();
  EXPECT_THAT(HandledIds(), ElementsAre("0/2-0", "0/2-0"));
}

TEST_F(StreamConsumerTest, NewReadsAskOnlyForTheRoomLeft) {
  hold_ = true;
  options_.max_in_flight = 3;
  redis_.Answer("XREADGROUP", NilReply());  // Own pending.
  redis_.Answer("XREADGROUP", Read("s0", {Entry("1-0", {})}));
  auto consumer = Make();
  consumer->Poll();
  consumer->Poll();
  auto reads = redis_.calls("XREADGROUP");
  ASSERT_EQ(reads.size(), 3u);
  EXPECT_EQ(reads[1].argv[5], "3");
  EXPECT_EQ(reads[2].argv[5], "2");
}

TEST_F(StreamConsumerTest, AFailedNewReadPausesAndHandsOutNothing) {
  redis_.Answer("XREADGROUP", NilReply());  // Own pending.
  redis_.Inject("XREADGROUP", FakeRedis::Fault::kLoseReply);
  auto consumer = Make();
  consumer->Poll();
  EXPECT_TRUE(handled_.empty());
  EXPECT_THAT(slept_, ElementsAre(absl::Milliseconds(50)));
}

TEST_F(StreamConsumerTest,
       OnAClusterReadsEachSlotWithoutBlockingAndWaitsLongerWhileIdle) {
  // s0 and s1 hash to different slots: one read each, never a CROSSSLOT.
  redis_.set_one_slot_per_command(true);
  options_.block = absl::Milliseconds(50);
  int new_reads_of_s1 = 0;
  redis_.On("XREADGROUP", [&](const FakeRedis::Call& call) -> Result {
    const bool new_read = call.argv.back() == ">";
    if (new_read && call.argv[call.argv.size() - 2] == "s1" &&
        ++new_reads_of_s1 == 1) {
      return Read("s1", {Entry("5-0", {"k", "v"})});
    }
    return NilReply();
  });
  auto consumer = Make();
  consumer->Poll();  // Own pending (nothing), then new: 5-0 on s1.
  EXPECT_THAT(HandledIds(), ElementsAre("1/5-0"));
  EXPECT_TRUE(slept_.empty());  // Something came: read again at once.
  for (int i = 0; i < 5; ++i) consumer->Poll();
  EXPECT_THAT(slept_,
              ElementsAre(absl::Milliseconds(10), absl::Milliseconds(20),
                          absl::Milliseconds(40), absl::Milliseconds(50),
                          absl::Milliseconds(50)));
  for (const FakeRedis::Call& call : redis_.calls("XREADGROUP")) {
    EXPECT_EQ(std::count(call.argv.begin(), call.argv.end(), "BLOCK"), 0);
    // GROUP g c COUNT n STREAMS <one stream> <one id>.
    EXPECT_EQ(call.argv.size(), 9u) << absl::StrJoin(call.argv, " ");
  }
  EXPECT_TRUE(redis_.unexpected().empty());
}

TEST_F(StreamConsumerTest, NoGroupOnAReadCreatesTheGroupsAgain) {
  redis_.Answer("XREADGROUP", NilReply());  // Own pending.
  redis_.Answer("XREADGROUP",
                Result(absl::InternalError("NOGROUP No such key 's0'")));
  auto consumer = Make();
  consumer->Poll();
  EXPECT_EQ(redis_.count("XGROUP"), 2);
  consumer->Poll();
  EXPECT_EQ(redis_.count("XGROUP"), 4);
  // And its own pending entries are read again from the start.
  auto reads = redis_.calls("XREADGROUP");
  ASSERT_EQ(reads.size(), 4u);
  EXPECT_TRUE(IsOwnPendingRead(reads[2]));
}

TEST_F(StreamConsumerTest, WhileRedisIsDownItSendsNothingAndWaits) {
  auto consumer = Make();
  redis_.set_ready(false);
  consumer->Poll();
  EXPECT_TRUE(redis_.calls().empty());
  EXPECT_THAT(slept_, ElementsAre(absl::Milliseconds(50)));
  redis_.set_ready(true);
  consumer->Poll();
  EXPECT_EQ(redis_.count("XGROUP"), 2);
}

TEST_F(StreamConsumerTest, AckSendsXackForTheEntrysStreamAndReportsFaults) {
  redis_.Answer("XACK", Reply(int64_t{1}));
  redis_.Inject("XACK", FakeRedis::Fault::kTimeout);
  auto consumer = Make();
  StreamEntry entry;
  entry.stream = 1;
  entry.id = "5-0";
  absl::Status acked = absl::UnknownError("not called");
  consumer->Ack(entry, [&](absl::Status s) { acked = s; });
  EXPECT_TRUE(acked.ok());
  EXPECT_THAT(redis_.calls("XACK")[0].argv,
              ElementsAre("XACK", "s1", "g", "5-0"));
  consumer->Ack(entry, [&](absl::Status s) { acked = s; });
  EXPECT_EQ(acked.code(), absl::StatusCode::kUnavailable);
}

TEST_F(StreamConsumerTest, ReportsTheBacklogOfStreamsAndDeadLetters) {
  int64_t entries = -1, dead = -1;
  options_.on_backlog = [&](int64_t e, int64_t d) {
    entries = e;
    dead = d;
  };
  redis_.On("XLEN", [](const FakeRedis::Call& call) -> Result {
    return Reply(int64_t{absl::EndsWith(call.argv[1], ":dead") ? 1 : 10});
  });
  auto consumer = Make();
  consumer->Poll();
  EXPECT_EQ(entries, 20);
  EXPECT_EQ(dead, 2);
}

TEST_F(StreamConsumerTest, BadOptionsAreRefusedByName) {
  options_.max_deliveries = 3;
  options_.dead_letter_streams = {"s0:dead"};
  StreamConsumer consumer(
      redis_, clock_, options_,
      [this]() -> absl::StatusOr<std::unique_ptr<redis::RedisClient>> {
        return testing::Borrow(redis_);
      },
      [](StreamEntry, StreamConsumer::Done done) { done(); });
  absl::Status opened = consumer.Open();
  EXPECT_EQ(opened.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(opened.message(), ::testing::HasSubstr("dead_letter_stream"));
}

TEST(EntriesOfRead, KeepsEntriesOfKnownStreamsAndTrimmedOnes) {
  RedisReply reply =
      Reply({Reply({Reply("b"), Reply({Entry("1-0", {"k", "v"}),
                                       Reply({Reply("2-0"), NilReply()})})}),
             Reply({Reply("other"), Reply({Entry("3-0", {})})})});
  std::vector<StreamEntry> entries = EntriesOfRead(reply, {"a", "b"});
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].stream, 1);
  EXPECT_EQ(entries[0].Field("k"), "v");
  EXPECT_EQ(entries[1].id, "2-0");
  EXPECT_TRUE(entries[1].fields.is_nil());
  EXPECT_TRUE(EntriesOfRead(NilReply(), {"a"}).empty());
}

}  // namespace
}  // namespace makegood::streams
