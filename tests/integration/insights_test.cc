// InsightsService and its aggregator against a real Redis and real gRPC:
// decision events written straight into the partitions' streams (the format
// commit_rating.lua writes) at times relative to a fake clock, folded by the
// aggregator, read back through GetSatisfactionStats. Covers the figures per
// store, courier and SKU, window boundaries, sums over partitions,
// exactly-once counting across restarts, dead consumers, retried folds and
// competing aggregators, expiry of old buckets, and request validation.
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/insights/aggregator.h"
#include "services/insights/insights_service.h"
#include "services/insights/stats_store.h"
#include "services/redis/hiredis_client.h"
#include "services/store/key_schema.h"
#include "tests/testing/eventually.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/grpc_status.h"
#include "tests/testing/redis_server.h"

namespace makegood {
namespace {

using ::makegood::testing::Eventually;
using ::makegood::testing::FakeClock;
using ::makegood::testing::FieldViolations;
using ::makegood::testing::RedisServer;
using ::testing::DoubleEq;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int kPartitions = 8;

struct Line {
  std::string sku;
  int satisfaction = 0;
  int64_t refund_minor = 0;
};

// A decision event as commit_rating.lua writes it. Defaults: a fresh rating
// of store "s-1" by courier "c-1" that refunded nothing.
struct Event {
  absl::Duration age = absl::Minutes(5);
  int satisfaction = 50;
  std::string outcome = "no_action";
  int64_t refund_minor = 0;
  std::string currency = "EUR";
  std::string store = "s-1";
  std::string courier = "c-1";
  std::vector<Line> lines;
};

Line MakeLine(std::string sku, int satisfaction, int64_t refund_minor) {
  Line line;
  line.sku = std::move(sku);
  line.satisfaction = satisfaction;
  line.refund_minor = refund_minor;
  return line;
}

uint64_t Handled(const insights::AggregatorStats& s) {
  return s.folded + s.stale + s.skipped;
}

class InsightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = RedisServer::Start();
    ASSERT_TRUE(server.ok()) << server.status();
    redis_server_ = *std::move(server);
    ASSERT_TRUE(redis::ParseRedisUrl(redis_server_->url(), &options_).ok());
    auto redis = redis::HiredisClient::Start(options_);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    ASSERT_TRUE(Eventually(
        [&] { return redis_->ready_connections() == options_.connections; }));

    auth::AuthOptions auth_options;
    auth_options.insecure_dev = true;
    auth_options.reload_interval = absl::ZeroDuration();
    auto auth = auth::Authenticator::Create(auth_options, clock_);
    ASSERT_TRUE(auth.ok()) << auth.status();
    auth_ = *std::move(auth);

    service_ =
        std::make_unique<api::InsightsService>(*auth_, *redis_, keys_, clock_);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(service_.get());
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port, 0);
    stub_ = v1::InsightsService::NewStub(grpc::CreateChannel(
        absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
  }

  void TearDown() override {
    aggregators_.clear();
    if (server_ != nullptr) server_->Shutdown();
    redis_.reset();
  }

  static store::KeySchema Keys() {
    auto keys = store::KeySchema::Create(kPartitions);
    return *keys;
  }

  std::string Stream(int partition) const {
    return absl::StrCat(keys_.PartitionPrefix(partition), "decisions");
  }

  redis::RedisReply Redis(std::vector<std::string> argv) {
    auto reply = redis_->CommandSync(std::move(argv));
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() ? *std::move(reply) : redis::RedisReply();
  }

  // XADDs `event` to a partition's decisions stream; returns the entry id.
  std::string Add(int partition, const Event& event) {
    const int64_t at_ms = absl::ToUnixMillis(clock_.Now() - event.age);
    std::vector<std::string> argv = {
        "XADD",         Stream(partition),
        "MAXLEN",       "~",
        "1000000",      "*",
        "rating_id",    absl::StrCat("rt_", partition, "_", ++next_rating_),
        "at_ms",        absl::StrCat(at_ms),
        "satisfaction", absl::StrCat(event.satisfaction),
        "outcome",      event.outcome,
        "refund_minor", absl::StrCat(event.refund_minor),
        "currency",     event.currency,
        "store_id",     event.store,
        "courier_id",   event.courier,
        "lines",        absl::StrCat(event.lines.size())};
    for (size_t i = 0; i < event.lines.size(); ++i) {
      argv.push_back(absl::StrCat("sku.", i));
      argv.push_back(event.lines[i].sku);
      argv.push_back(absl::StrCat("sat.", i));
      argv.push_back(absl::StrCat(event.lines[i].satisfaction));
      argv.push_back(absl::StrCat("refund.", i));
      argv.push_back(absl::StrCat(event.lines[i].refund_minor));
    }
    return Redis(std::move(argv)).str;
  }

  insights::Aggregator& StartAggregator(
      const std::string& consumer,
      absl::Duration retry_after = absl::Seconds(30)) {
    insights::AggregatorOptions options;
    options.consumer = consumer;
    options.block = absl::Milliseconds(50);
    options.retry_after = retry_after;
    options.read_count = 16;
    options.max_in_flight = 8;
    aggregators_.push_back(std::make_unique<insights::Aggregator>(
        *redis_, keys_, clock_, options));
    absl::Status started = aggregators_.back()->Start(options_);
    EXPECT_TRUE(started.ok()) << started;
    return *aggregators_.back();
  }

  // Starts an aggregator and waits until it has handled `events` entries.
  insights::Aggregator& Aggregate(uint64_t events,
                                  const std::string& consumer = "agg-1") {
    insights::Aggregator& aggregator = StartAggregator(consumer);
    EXPECT_TRUE(
        Eventually([&] { return Handled(aggregator.stats()) >= events; }));
    EXPECT_EQ(Handled(aggregator.stats()), events);
    return aggregator;
  }

  // Entries of the insights group not yet acknowledged, over all partitions.
  int64_t Pending() {
    int64_t pending = 0;
    for (int p = 0; p < kPartitions; ++p) {
      redis::RedisReply summary = Redis({"XPENDING", Stream(p), "insights"});
      if (!summary.elements.empty()) pending += summary.elements[0].integer;
    }
    return pending;
  }

  grpc::Status Call(const v1::GetSatisfactionStatsRequest& request,
                    v1::GetSatisfactionStatsResponse* response) {
    grpc::ClientContext context;
    return stub_->GetSatisfactionStats(&context, request, response);
  }

  v1::SatisfactionStats Stats(v1::Dimension dimension,
                              const std::string& subject,
                              v1::StatsWindow window = v1::STATS_WINDOW_1H) {
    v1::GetSatisfactionStatsRequest request;
    request.set_dimension(dimension);
    request.set_subject_id(subject);
    request.set_window(window);
    v1::GetSatisfactionStatsResponse response;
    grpc::Status status = Call(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.stats();
  }

  int64_t StoreRatings(const std::string& store, v1::StatsWindow window) {
    return Stats(v1::DIMENSION_STORE, store, window).ratings();
  }

  // 2024-05-01 12:34:56.789 UTC: not on a minute or hour boundary.
  FakeClock clock_{absl::FromUnixMillis(1714566896789)};
  const store::KeySchema keys_ = Keys();
  std::unique_ptr<RedisServer> redis_server_;
  redis::RedisOptions options_;
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<auth::Authenticator> auth_;
  std::unique_ptr<api::InsightsService> service_;
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::InsightsService::Stub> stub_;
  std::vector<std::unique_ptr<insights::Aggregator>> aggregators_;
  int next_rating_ = 0;
};

// ---- Figures ----------------------------------------------------------------

TEST_F(InsightsTest, ReportsAveragesRefundRateAndMoneyPerStoreCourierAndSku) {
  Event happy;
  happy.satisfaction = 80;
  happy.lines = {MakeLine("SKU-A", 80, 0), MakeLine("SKU-B", 80, 0)};
  Add(0, happy);
  Event refunded;
  refunded.satisfaction = 20;
  refunded.outcome = "refund";
  refunded.refund_minor = 500;
  // SKU-GIFT is a free line: no share of the refund.
  refunded.lines = {MakeLine("SKU-A", 10, 300), MakeLine("SKU-C", 20, 200),
                    MakeLine("SKU-GIFT", 90, 0)};
  Add(0, refunded);
  Event credited;
  credited.satisfaction = 50;
  credited.outcome = "wallet_credit";
  credited.refund_minor = 250;
  credited.currency = "USD";
  credited.courier = "c-2";
  credited.lines = {MakeLine("SKU-A", 50, 250)};
  Add(0, credited);
  Event other_store;  // No courier.
  other_store.satisfaction = 100;
  other_store.store = "s-2";
  other_store.courier = "";
  other_store.lines = {MakeLine("SKU-B", 100, 0)};
  Add(0, other_store);
  Aggregate(4);

  v1::SatisfactionStats store = Stats(v1::DIMENSION_STORE, "s-1");
  EXPECT_EQ(store.dimension(), v1::DIMENSION_STORE);
  EXPECT_EQ(store.subject_id(), "s-1");
  EXPECT_EQ(store.window(), v1::STATS_WINDOW_1H);
  EXPECT_EQ(store.ratings(), 3);
  EXPECT_THAT(store.average_satisfaction_percent(), DoubleEq(50.0));
  EXPECT_THAT(store.refund_rate(), DoubleEq(2.0 / 3.0));
  EXPECT_THAT(store.refunded_minor(),
              UnorderedElementsAre(Pair("EUR", 500), Pair("USD", 250)));

  v1::SatisfactionStats other = Stats(v1::DIMENSION_STORE, "s-2");
  EXPECT_EQ(other.ratings(), 1);
  EXPECT_THAT(other.average_satisfaction_percent(), DoubleEq(100.0));
  EXPECT_THAT(other.refund_rate(), DoubleEq(0.0));
  EXPECT_THAT(other.refunded_minor(), IsEmpty());

  v1::SatisfactionStats c1 = Stats(v1::DIMENSION_COURIER, "c-1");
  EXPECT_EQ(c1.ratings(), 2);
  EXPECT_THAT(c1.average_satisfaction_percent(), DoubleEq(50.0));
  EXPECT_THAT(c1.refund_rate(), DoubleEq(0.5));
  EXPECT_THAT(c1.refunded_minor(), UnorderedElementsAre(Pair("EUR", 500)));
  v1::SatisfactionStats c2 = Stats(v1::DIMENSION_COURIER, "c-2");
  EXPECT_EQ(c2.ratings(), 1);
  EXPECT_THAT(c2.refund_rate(), DoubleEq(1.0));
  EXPECT_THAT(c2.refunded_minor(), UnorderedElementsAre(Pair("USD", 250)));
  // The event without a courier counted for nobody.
  EXPECT_EQ(Redis({"EXISTS",
                   absl::StrCat(keys_.PartitionPrefix(0), "ins:courier:h:")})
                .integer,
            0);

  // SKUs: each line is a rating of its SKU with the line's satisfaction; it
  // counts as refunded when money was refunded for that line.
  v1::SatisfactionStats a = Stats(v1::DIMENSION_SKU, "SKU-A");
  EXPECT_EQ(a.ratings(), 3);
  EXPECT_THAT(a.average_satisfaction_percent(), DoubleEq((80 + 10 + 50) / 3.0));
  EXPECT_THAT(a.refund_rate(), DoubleEq(2.0 / 3.0));
  EXPECT_THAT(a.refunded_minor(),
              UnorderedElementsAre(Pair("EUR", 300), Pair("USD", 250)));
  v1::SatisfactionStats b = Stats(v1::DIMENSION_SKU, "SKU-B");
  EXPECT_EQ(b.ratings(), 2);
  EXPECT_THAT(b.average_satisfaction_percent(), DoubleEq(90.0));
  EXPECT_THAT(b.refund_rate(), DoubleEq(0.0));
  EXPECT_THAT(b.refunded_minor(), IsEmpty());
  v1::SatisfactionStats c = Stats(v1::DIMENSION_SKU, "SKU-C");
  EXPECT_EQ(c.ratings(), 1);
  EXPECT_THAT(c.average_satisfaction_percent(), DoubleEq(20.0));
  EXPECT_THAT(c.refund_rate(), DoubleEq(1.0));
  EXPECT_THAT(c.refunded_minor(), UnorderedElementsAre(Pair("EUR", 200)));

  v1::SatisfactionStats gift = Stats(v1::DIMENSION_SKU, "SKU-GIFT");
  EXPECT_EQ(gift.ratings(), 1);
  EXPECT_THAT(gift.average_satisfaction_percent(), DoubleEq(90.0));
  EXPECT_THAT(gift.refund_rate(), DoubleEq(0.0));
  EXPECT_THAT(gift.refunded_minor(), IsEmpty());

  // Dimensions are separate: a store id is not a courier id.
  EXPECT_EQ(Stats(v1::DIMENSION_COURIER, "s-1").ratings(), 0);
}

TEST_F(InsightsTest, UnknownSubjectHasZeroRatingsNotAnError) {
  v1::SatisfactionStats stats =
      Stats(v1::DIMENSION_SKU, "NEVER-SOLD", v1::STATS_WINDOW_7D);
  EXPECT_EQ(stats.dimension(), v1::DIMENSION_SKU);
  EXPECT_EQ(stats.subject_id(), "NEVER-SOLD");
  EXPECT_EQ(stats.window(), v1::STATS_WINDOW_7D);
  EXPECT_EQ(stats.ratings(), 0);
  EXPECT_EQ(stats.average_satisfaction_percent(), 0.0);
  EXPECT_EQ(stats.refund_rate(), 0.0);
  EXPECT_THAT(stats.refunded_minor(), IsEmpty());
}

// ---- Windows ----------------------------------------------------------------

TEST_F(InsightsTest, WindowsEndNowAndLeaveOutOlderEvents) {
  for (absl::Duration age :
       {absl::Seconds(30), absl::Minutes(59), absl::Minutes(61),
        absl::Hours(23), absl::Hours(25), absl::Hours(24 * 6 + 23),
        absl::Hours(24 * 7 + 12), absl::Hours(24 * 8 + 1)}) {
    Event event;
    event.store = "w-1";
    event.age = age;
    Add(0, event);
  }
  insights::Aggregator& aggregator = Aggregate(8);
  // Older than the 8 days kept: acknowledged, not counted anywhere.
  EXPECT_EQ(aggregator.stats().stale, 1u);
  EXPECT_EQ(aggregator.stats().folded, 7u);

  // 30 s and 59 min; 61 min is out of 1 h but in 24 h.
  EXPECT_EQ(StoreRatings("w-1", v1::STATS_WINDOW_1H), 2);
  // + 61 min and 23 h; 25 h is out.
  EXPECT_EQ(StoreRatings("w-1", v1::STATS_WINDOW_24H), 4);
  // + 25 h and 6 d 23 h; 7 d 12 h (still kept) and 8 d are out.
  EXPECT_EQ(StoreRatings("w-1", v1::STATS_WINDOW_7D), 6);

  // Windows end at the reader's now: two minutes on, the 59-minute-old
  // event is 61 minutes old.
  clock_.Advance(absl::Minutes(2));
  EXPECT_EQ(StoreRatings("w-1", v1::STATS_WINDOW_1H), 1);
  EXPECT_EQ(StoreRatings("w-1", v1::STATS_WINDOW_24H), 4);
}

TEST_F(InsightsTest, WindowsAreWholeBucketsEndingWithTheCurrentOne) {
  // The clock is at 12:34:56.789. The 1 h window is the current minute and
  // the 59 before it, so it starts at 11:35:00.000; 24 h and 7 d are the
  // current hour and the 23 / 167 before it, from 13:00 the day before /
  // seven days before. Per window: one event right at the start, one a
  // millisecond before it.
  const absl::Time now = clock_.Now();
  auto start = [&](absl::Duration bucket, int buckets) {
    return absl::UnixEpoch() + absl::Floor(now - absl::UnixEpoch(), bucket) -
           (buckets - 1) * bucket;
  };
  const std::vector<std::pair<v1::StatsWindow, absl::Time>> windows = {
      {v1::STATS_WINDOW_1H, start(absl::Minutes(1), 60)},
      {v1::STATS_WINDOW_24H, start(absl::Hours(1), 24)},
      {v1::STATS_WINDOW_7D, start(absl::Hours(1), 168)}};
  for (const auto& [window, oldest] : windows) {
    Event event;
    event.store = absl::StrCat("edge-", window);
    event.age = now - oldest;
    Add(0, event);
    event.age += absl::Milliseconds(1);
    Add(0, event);
  }
  Aggregate(6);
  for (const auto& [window, oldest] : windows) {
    EXPECT_EQ(StoreRatings(absl::StrCat("edge-", window), window), 1)
        << v1::StatsWindow_Name(window);
  }
}

TEST_F(InsightsTest, SumsTheSubjectOverEveryPartition) {
  Event event;
  event.refund_minor = 100;
  event.outcome = "refund";
  event.lines = {MakeLine("SKU-P", 40, 100)};
  for (int p : {0, 3, 7}) {
    event.satisfaction = 10 * (p + 1);
    Add(p, event);
  }
  Aggregate(3);
  for (int p : {0, 3, 7}) {
    EXPECT_EQ(Redis({"EXISTS",
                     absl::StrCat(keys_.PartitionPrefix(p), "ins:store:m:s-1")})
                  .integer,
              1)
        << "aggregates live in the partition of their events: " << p;
  }
  v1::SatisfactionStats store = Stats(v1::DIMENSION_STORE, "s-1");
  EXPECT_EQ(store.ratings(), 3);
  EXPECT_THAT(store.average_satisfaction_percent(),
              DoubleEq((10 + 40 + 80) / 3.0));
  EXPECT_THAT(store.refunded_minor(), ElementsAre(Pair("EUR", 300)));
  v1::SatisfactionStats sku =
      Stats(v1::DIMENSION_SKU, "SKU-P", v1::STATS_WINDOW_24H);
  EXPECT_EQ(sku.ratings(), 3);
  EXPECT_THAT(sku.refunded_minor(), ElementsAre(Pair("EUR", 300)));
}

// ---- Exactly once -----------------------------------------------------------

TEST_F(InsightsTest, RestartedAggregatorCountsEveryEventOnce) {
  for (int i = 0; i < 10; ++i) Add(i % kPartitions, Event());
  insights::Aggregator& first = Aggregate(10, "agg-1");
  EXPECT_EQ(first.stats().folded, 10u);
  first.Stop();

  for (int i = 0; i < 5; ++i) Add(1, Event());
  // agg-1 read two of them and was killed before folding them: they are
  // pending under its name. With retry_after at 30 s nothing is taken over;
  // the restarted agg-1 must fold its own pending entries itself.
  redis::RedisReply read = Redis({"XREADGROUP", "GROUP", "insights", "agg-1",
                                  "COUNT", "2", "STREAMS", Stream(1), ">"});
  ASSERT_EQ(read.elements.size(), 1u);
  ASSERT_EQ(read.elements[0].elements[1].elements.size(), 2u);
  EXPECT_EQ(Pending(), 2);

  insights::Aggregator& second = Aggregate(5, "agg-1");
  EXPECT_EQ(second.stats().folded, 5u);
  EXPECT_EQ(second.stats().reclaimed, 0u);
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(StoreRatings("s-1", v1::STATS_WINDOW_1H), 15);
  EXPECT_EQ(Stats(v1::DIMENSION_COURIER, "c-1").ratings(), 15);
}

TEST_F(InsightsTest, DeadConsumersEntriesAreTakenOverAndCountedOnce) {
  for (int i = 0; i < 6; ++i) Add(2, Event());
  // A consumer that died after reading three entries.
  Redis({"XGROUP", "CREATE", Stream(2), "insights", "0", "MKSTREAM"});
  redis::RedisReply read = Redis({"XREADGROUP", "GROUP", "insights", "dead",
                                  "COUNT", "3", "STREAMS", Stream(2), ">"});
  ASSERT_EQ(read.elements.size(), 1u);
  ASSERT_EQ(read.elements[0].elements[1].elements.size(), 3u);

  insights::Aggregator& aggregator =
      StartAggregator("agg-2", /*retry_after=*/absl::ZeroDuration());
  ASSERT_TRUE(Eventually([&] { return Handled(aggregator.stats()) >= 6; }));
  EXPECT_EQ(aggregator.stats().folded, 6u);
  EXPECT_EQ(aggregator.stats().reclaimed, 3u);
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(StoreRatings("s-1", v1::STATS_WINDOW_1H), 6);
}

TEST_F(InsightsTest, RetriedFoldAfterALostReplyChangesNothing) {
  Event event;
  event.satisfaction = 30;
  event.refund_minor = 70;
  std::string id = Add(4, event);
  Redis({"XGROUP", "CREATE", Stream(4), "insights", "0", "MKSTREAM"});
  Redis(
      {"XREADGROUP", "GROUP", "insights", "agg-1", "STREAMS", Stream(4), ">"});

  insights::StatsStore stats(*redis_, keys_);
  insights::Contribution store;
  store.dimension = insights::Dimension::kStore;
  store.subject = "s-1";
  store.satisfaction = 30;
  store.refunded = true;
  store.refund_minor = 70;
  auto fold = [&] {
    absl::Notification done;
    absl::StatusOr<insights::FoldResult> result;
    stats.Fold(4, "insights", id, absl::ToUnixMillis(clock_.Now() - event.age),
               {store}, "EUR", clock_.Now(),
               [&](absl::StatusOr<insights::FoldResult> r) {
                 result = std::move(r);
                 done.Notify();
               });
    done.WaitForNotification();
    return result;
  };
  auto first = fold();
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, insights::FoldResult::kFolded);
  // The same entry again, as a retry whose first reply was lost would send.
  auto again = fold();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(*again, insights::FoldResult::kDuplicate);

  v1::SatisfactionStats s = Stats(v1::DIMENSION_STORE, "s-1");
  EXPECT_EQ(s.ratings(), 1);
  EXPECT_THAT(s.refunded_minor(), ElementsAre(Pair("EUR", 70)));
}

TEST_F(InsightsTest, CompetingAggregatorsCountEveryEventOnce) {
  constexpr int kEvents = 200;
  for (int i = 0; i < kEvents; ++i) {
    Event event;
    event.refund_minor = 1;
    Add(i % kPartitions, event);
  }
  // One group, two consumers; retry_after 0: each takes over whatever the
  // other has read and not yet acknowledged, possibly while the other is
  // folding it. However they interleave, every event counts once.
  insights::Aggregator& a = StartAggregator("agg-a", absl::ZeroDuration());
  insights::Aggregator& b = StartAggregator("agg-b", absl::ZeroDuration());
  ASSERT_TRUE(Eventually([&] {
    return a.stats().folded + b.stats().folded >= kEvents && Pending() == 0;
  }));
  a.Stop();
  b.Stop();
  EXPECT_EQ(a.stats().folded + b.stats().folded, uint64_t{kEvents});
  v1::SatisfactionStats s = Stats(v1::DIMENSION_STORE, "s-1");
  EXPECT_EQ(s.ratings(), kEvents);
  EXPECT_THAT(s.refunded_minor(), ElementsAre(Pair("EUR", kEvents)));
}

TEST_F(InsightsTest, MalformedEntriesAreAcknowledgedWithoutBeingCounted) {
  Redis({"XADD", Stream(5), "*", "rating_id", "rt_bad", "satisfaction", "50"});
  Redis({"XADD", Stream(5), "*", "rating_id", "rt_bad2", "at_ms", "1",
         "satisfaction", "150", "refund_minor", "0", "lines", "0"});
  Add(5, Event());
  insights::Aggregator& aggregator = Aggregate(3);
  EXPECT_EQ(aggregator.stats().skipped, 2u);
  EXPECT_EQ(aggregator.stats().folded, 1u);
  EXPECT_EQ(Pending(), 0);
  EXPECT_EQ(StoreRatings("s-1", v1::STATS_WINDOW_7D), 1);
}

// ---- Expiry -----------------------------------------------------------------

TEST_F(InsightsTest, OldBucketsAreDeletedAndIdleAggregatesExpire) {
  const std::string minutes =
      absl::StrCat(keys_.PartitionPrefix(6), "ins:store:m:s-1");
  const std::string hours =
      absl::StrCat(keys_.PartitionPrefix(6), "ins:store:h:s-1");
  Event old;
  old.age = absl::Minutes(30);
  Add(6, old);
  const std::string old_minute =
      absl::StrCat((absl::ToUnixMillis(clock_.Now()) - 30 * 60000) / 60000);
  insights::Aggregator& aggregator = StartAggregator("agg-1");
  ASSERT_TRUE(Eventually([&] { return aggregator.stats().folded == 1; }));
  EXPECT_EQ(Redis({"HGET", minutes, old_minute + ":n"}).str, "1");
  // Idle aggregates expire: minutes after 2 h, hours after 8 days.
  int64_t minutes_ttl = Redis({"PTTL", minutes}).integer;
  EXPECT_GT(minutes_ttl, 0);
  EXPECT_LE(minutes_ttl, 2 * 3600 * 1000);
  int64_t hours_ttl = Redis({"PTTL", hours}).integer;
  EXPECT_GT(hours_ttl, 2 * 3600 * 1000);
  EXPECT_LE(hours_ttl, 8 * 24 * 3600 * 1000);

  // Three hours on, the next fold of the subject deletes the minute buckets
  // no window reads any more; the hour buckets stay.
  clock_.Advance(absl::Hours(3));
  Add(6, Event());
  ASSERT_TRUE(Eventually([&] { return aggregator.stats().folded == 2; }));
  EXPECT_TRUE(Redis({"HGET", minutes, old_minute + ":n"}).is_nil());
  EXPECT_EQ(StoreRatings("s-1", v1::STATS_WINDOW_1H), 1);
  EXPECT_EQ(StoreRatings("s-1", v1::STATS_WINDOW_24H), 2);
}

// ---- Requests ---------------------------------------------------------------

TEST_F(InsightsTest, BadRequestsAreRefusedNamingTheField) {
  auto refused_field = [&](const v1::GetSatisfactionStatsRequest& request) {
    v1::GetSatisfactionStatsResponse response;
    grpc::Status status = Call(request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    std::vector<std::string> fields;
    for (const auto& violation : FieldViolations(status)) {
      fields.push_back(violation.first);
    }
    return fields;
  };
  v1::GetSatisfactionStatsRequest good;
  good.set_dimension(v1::DIMENSION_STORE);
  good.set_subject_id("s-1");
  good.set_window(v1::STATS_WINDOW_24H);

  v1::GetSatisfactionStatsRequest r = good;
  r.clear_dimension();
  EXPECT_THAT(refused_field(r), ElementsAre("dimension"));
  r = good;
  r.set_dimension(static_cast<v1::Dimension>(99));
  EXPECT_THAT(refused_field(r), ElementsAre("dimension"));
  r = good;
  r.clear_window();
  EXPECT_THAT(refused_field(r), ElementsAre("window"));
  r = good;
  r.set_window(static_cast<v1::StatsWindow>(42));
  EXPECT_THAT(refused_field(r), ElementsAre("window"));
  for (const std::string& subject :
       {std::string(), std::string(256, 'a'), std::string("s\n1"),
        std::string("caf\xc3\xa9")}) {
    r = good;
    r.set_subject_id(subject);
    EXPECT_THAT(refused_field(r), ElementsAre("subject_id")) << subject;
  }
  EXPECT_THAT(refused_field(v1::GetSatisfactionStatsRequest()),
              UnorderedElementsAre("dimension", "subject_id", "window"));

  // The longest subject id, spaces included, is fine.
  r = good;
  r.set_subject_id(std::string(254, 'a') + " ");
  v1::GetSatisfactionStatsResponse response;
  EXPECT_TRUE(Call(r, &response).ok());
}

TEST_F(InsightsTest, RedisDownIsUnavailable) {
  ASSERT_TRUE(redis_server_->Stop().ok());
  ASSERT_TRUE(Eventually([&] { return redis_->ready_connections() == 0; }));
  v1::GetSatisfactionStatsRequest request;
  request.set_dimension(v1::DIMENSION_STORE);
  request.set_subject_id("s-1");
  request.set_window(v1::STATS_WINDOW_1H);
  v1::GetSatisfactionStatsResponse response;
  EXPECT_EQ(Call(request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace makegood
