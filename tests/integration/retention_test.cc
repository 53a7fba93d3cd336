// Retention after trouble, end to end on a real Redis and real gRPC: ratings
// through SubmitRating, orders through RecordDelivery, windows closed by the
// sweeper, figures read through InsightsService.GetRetentionStats, with the
// business clock faked so 90 days pass in a test. The randomized test runs a
// seeded population of members, troubles, reorders and sweeps (two sweepers
// at once) and checks every cohort's counts against a model of the rules.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "services/redis/hiredis_client.h"
#include "services/retention/sweeper.h"
#include "services/retention/trouble.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/eventually.h"
#include "tests/testing/grpc_status.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::makegood::testing::Eventually;
using ::makegood::testing::FieldViolations;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

constexpr absl::Duration kDay = absl::Hours(24);

v1::SubmitRatingRequest Rating(const std::string& member,
                               const std::string& order, int satisfaction,
                               bool reason) {
  v1::SubmitRatingRequest request;
  request.set_idempotency_key(order + "-rating");
  request.set_member_id(member);
  request.set_order_id(order);
  request.set_satisfaction_percent(satisfaction);
  if (reason) request.add_reasons(v1::REASON_LATE);
  return request;
}

class RetentionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = AppHarness::Create();
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
  }

  void Start() {
    ASSERT_TRUE(h_->StartApp().ok());
    insights_ = v1::InsightsService::NewStub(h_->stubs().channel);
    keys_ = std::make_unique<store::KeySchema>(
        *store::KeySchema::Create(h_->config().partitions));
    auto redis = redis::HiredisClient::Start(h_->config().redis);
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    ASSERT_TRUE(Eventually([&] { return redis_->ready_connections() > 0; }));
  }

  std::unique_ptr<retention::Sweeper> NewSweeper() {
    return std::make_unique<retention::Sweeper>(
        *redis_, *keys_, h_->clock(),
        retention::SweeperOptions{
            .interval = absl::Hours(1), .day = kDay, .batch = 7});
  }

  void Sweep() {
    auto sweeper = NewSweeper();
    ASSERT_TRUE(sweeper->SweepOnce().ok());
  }

  // An order of `member` delivered a minute ago (or at `delivered`).
  v1::RecordDeliveryResponse Order(
      const std::string& member, const std::string& order, int64_t total = 3000,
      std::optional<absl::Time> delivered = std::nullopt) {
    v1::RecordDeliveryRequest request;
    *request.mutable_order() = AppHarness::SampleOrder(
        member, order,
        delivered.value_or(h_->clock().Now() - absl::Minutes(1)));
    if (total != 3000) {
      // The delivery fee absorbs the difference: the lines stay the same.
      request.mutable_order()->set_total_minor(total);
      request.mutable_order()->set_delivery_fee_minor(total - 2700);
    }
    grpc::ClientContext context;
    v1::RecordDeliveryResponse response;
    grpc::Status status =
        h_->stubs().orders->RecordDelivery(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::SubmitRatingResponse Rate(const v1::SubmitRatingRequest& request) {
    grpc::ClientContext context;
    context.AddMetadata("x-client-id", "retention-test");
    v1::SubmitRatingResponse response;
    grpc::Status status =
        h_->stubs().ratings->SubmitRating(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  grpc::Status Stats(const v1::GetRetentionStatsRequest& request,
                     v1::GetRetentionStatsResponse* response) {
    grpc::ClientContext context;
    return insights_->GetRetentionStats(&context, request, response);
  }

  v1::GetRetentionStatsResponse StatsBy(
      std::vector<v1::RetentionDimension> group_by) {
    v1::GetRetentionStatsRequest request;
    for (v1::RetentionDimension d : group_by) request.add_group_by(d);
    v1::GetRetentionStatsResponse response;
    grpc::Status status = Stats(request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::string Troubles(const std::string& member) {
    return keys_->TroublesKey(keys_->PartitionOf(member), member);
  }

  int64_t Scheduled() {
    int64_t n = 0;
    for (int p = 0; p < keys_->partitions(); ++p) {
      auto reply = h_->Redis({"ZCARD", keys_->TroublesDueKey(p)});
      if (reply.ok()) n += reply->integer;
    }
    return n;
  }

  std::unique_ptr<AppHarness> h_;
  std::unique_ptr<v1::InsightsService::Stub> insights_;
  std::unique_ptr<store::KeySchema> keys_;
  std::unique_ptr<redis::RedisClient> redis_;
};

TEST_F(RetentionTest, ATroubleIsFollowedThroughItsThreeWindows) {
  Start();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  Order("m-1", "o-1");
  const absl::Time at = h_->clock().Now();
  v1::SubmitRatingResponse rated = Rate(Rating("m-1", "o-1", 40, true));
  ASSERT_EQ(rated.decision().outcome(), v1::OUTCOME_REFUND);
  // Tracked from the commit: the trouble, and its first window scheduled.
  auto record = h_->Redis({"HGET", Troubles("m-1"), rated.rating_id()});
  ASSERT_TRUE(record.ok());
  EXPECT_TRUE(absl::StartsWith(record->str,
                               absl::StrCat(absl::ToUnixMillis(at), "\tEUR\t")))
      << record->str;
  EXPECT_EQ(Scheduled(), 1);

  // Day 3: an order again. Recording it again, or correcting it, is the same
  // order: it counts once.
  h_->clock().Advance(3 * kDay);
  Order("m-1", "o-2");
  EXPECT_EQ(Order("m-1", "o-2").result(), v1::WRITE_RESULT_UNCHANGED);
  EXPECT_EQ(Order("m-1", "o-2", 3100).result(), v1::WRITE_RESULT_UPDATED);
  auto progress =
      h_->Redis({"HGET", Troubles("m-1"), rated.rating_id() + ":p"});
  ASSERT_TRUE(progress.ok());
  EXPECT_EQ(progress->str, "0 1 3000 1 3000 1 3000 0 -");

  // Nothing is in the cohorts until the 7-day window closes, a grace day
  // after it ends.
  h_->clock().Set(at + 8 * kDay - absl::Seconds(1));
  Sweep();
  v1::GetRetentionStatsResponse early = StatsBy({});
  EXPECT_THAT(early.cohorts(), IsEmpty());
  EXPECT_EQ(early.open_troubles(), 1);

  h_->clock().Set(at + 8 * kDay);
  Sweep();
  v1::GetRetentionStatsResponse week = StatsBy(
      {v1::RETENTION_DIMENSION_OUTCOME, v1::RETENTION_DIMENSION_RECOVERY});
  ASSERT_EQ(week.cohorts_size(), 1);
  const v1::RetentionCohort& cohort = week.cohorts(0);
  ASSERT_EQ(cohort.labels_size(), 2);
  EXPECT_EQ(cohort.labels(0).value(), "REFUND");
  EXPECT_EQ(cohort.labels(1).value(), "claim");
  ASSERT_EQ(cohort.windows_size(), 3);
  EXPECT_EQ(cohort.windows(0).days(), 7);
  EXPECT_EQ(cohort.windows(0).troubles(), 1);
  EXPECT_EQ(cohort.windows(0).reordered(), 1);
  EXPECT_EQ(cohort.windows(0).reorder_rate(), 1.0);
  EXPECT_GT(cohort.windows(0).reorder_rate_low(), 0.1);
  EXPECT_THAT(cohort.windows(0).spend_minor(), ElementsAre(Pair("EUR", 3000)));
  // The refund was never settled here (no worker): nothing paid.
  EXPECT_THAT(cohort.windows(0).net_value_minor(),
              ElementsAre(Pair("EUR", 3000)));
  EXPECT_EQ(cohort.windows(1).troubles(), 0);
  EXPECT_EQ(week.open_troubles(), 1);

  // Day 20: another order, within 30 and 90 days only.
  h_->clock().Set(at + 20 * kDay);
  Order("m-1", "o-3", 4000);
  h_->clock().Set(at + 31 * kDay);
  Sweep();
  v1::GetRetentionStatsResponse month =
      StatsBy({v1::RETENTION_DIMENSION_TIME_TO_SUCCEEDED});
  ASSERT_EQ(month.cohorts_size(), 1);
  EXPECT_EQ(month.cohorts(0).labels(0).value(), "unpaid");
  EXPECT_EQ(month.cohorts(0).windows(0).spend_minor().at("EUR"), 3000);
  EXPECT_EQ(month.cohorts(0).windows(1).troubles(), 1);
  EXPECT_EQ(month.cohorts(0).windows(1).spend_minor().at("EUR"), 7000);

  // After 90 days the trouble is forgotten; its figures stay.
  h_->clock().Set(at + 91 * kDay);
  Sweep();
  Sweep();  // Again: nothing is counted twice.
  v1::GetRetentionStatsResponse quarter = StatsBy({});
  ASSERT_EQ(quarter.cohorts_size(), 1);
  EXPECT_EQ(quarter.cohorts(0).windows(0).troubles(), 1);
  EXPECT_EQ(quarter.cohorts(0).windows(2).troubles(), 1);
  EXPECT_EQ(quarter.cohorts(0).windows(2).reordered(), 1);
  EXPECT_EQ(quarter.open_troubles(), 0);
  auto exists = h_->Redis({"EXISTS", Troubles("m-1")});
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->integer, 0);
  // The store's and the courier's figures, by outcome.
  v1::GetRetentionStatsRequest by_store;
  by_store.set_store_id("store-1");
  by_store.add_group_by(v1::RETENTION_DIMENSION_OUTCOME);
  v1::GetRetentionStatsResponse store;
  ASSERT_TRUE(Stats(by_store, &store).ok());
  ASSERT_EQ(store.cohorts_size(), 1);
  EXPECT_EQ(store.cohorts(0).windows(1).reordered(), 1);
  v1::GetRetentionStatsRequest by_courier;
  by_courier.set_courier_id("courier-2");
  v1::GetRetentionStatsResponse courier;
  ASSERT_TRUE(Stats(by_courier, &courier).ok());
  EXPECT_THAT(courier.cohorts(), IsEmpty());
}

TEST_F(RetentionTest, AnOrderRecordedLateCountsForTheWindowItWasDeliveredIn) {
  Start();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  Order("m-1", "o-1");
  const absl::Time at = h_->clock().Now();
  Rate(Rating("m-1", "o-1", 40, true));
  // Delivered on day 6, recorded on day 7.5: inside the grace day.
  h_->clock().Set(at + 7 * kDay + absl::Hours(12));
  Order("m-1", "o-2", 3000, at + 6 * kDay);
  h_->clock().Set(at + 8 * kDay);
  Sweep();
  // Delivered on day 6.5, recorded on day 8.5: the 7-day window had closed;
  // the 30-day one counts it.
  h_->clock().Set(at + 8 * kDay + absl::Hours(12));
  Order("m-1", "o-3", 4000, at + 6 * kDay + absl::Hours(12));
  h_->clock().Set(at + 31 * kDay);
  Sweep();
  v1::GetRetentionStatsResponse stats = StatsBy({});
  ASSERT_EQ(stats.cohorts_size(), 1);
  EXPECT_EQ(stats.cohorts(0).windows(0).reordered(), 1);
  EXPECT_EQ(stats.cohorts(0).windows(0).spend_minor().at("EUR"), 3000);
  EXPECT_EQ(stats.cohorts(0).windows(1).reordered(), 1);
  EXPECT_EQ(stats.cohorts(0).windows(1).spend_minor().at("EUR"), 7000);
}

TEST_F(RetentionTest, HappyRatingsAreNoTroubleAndSilentOnesAreLabelledSo) {
  Start();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  Order("m-1", "o-1");
  Order("m-1", "o-2");
  Rate(Rating("m-1", "o-1", 95, false));
  auto none = h_->Redis({"EXISTS", Troubles("m-1")});
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->integer, 0);
  v1::SubmitRatingResponse silent = Rate(Rating("m-1", "o-2", 5, false));
  h_->clock().Advance(8 * kDay);
  Sweep();
  v1::GetRetentionStatsResponse stats =
      StatsBy({v1::RETENTION_DIMENSION_RECOVERY});
  ASSERT_EQ(stats.cohorts_size(), 1);
  bool recovered = false;
  for (const v1::FollowUp& f : silent.decision().follow_ups()) {
    recovered |= f.kind() == v1::FOLLOW_UP_KIND_SILENT_RECOVERY;
  }
  EXPECT_EQ(stats.cohorts(0).labels(0).value(),
            recovered ? "silent_recovered" : "silent_unrecovered");
  EXPECT_EQ(stats.cohorts(0).windows(0).troubles(), 1);
  EXPECT_EQ(stats.cohorts(0).windows(0).reordered(), 0);
}

TEST_F(RetentionTest, WhatWasPaidAndHowFastComeFromTheSettledRefund) {
  h_->config().settlement.run_worker = true;
  h_->config().settlement.consumer = "retention-test";
  Start();
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  Order("m-1", "o-1");
  v1::SubmitRatingResponse rated = Rate(Rating("m-1", "o-1", 40, true));
  ASSERT_TRUE(rated.decision().has_refund());
  const int64_t amount = rated.decision().refund().amount_minor();
  ASSERT_GT(amount, 0);
  ASSERT_TRUE(Eventually([&] {
    v1::GetRefundRequest get;
    get.set_refund_id(rated.decision().refund().refund_id());
    grpc::ClientContext context;
    v1::GetRefundResponse got;
    return h_->stubs().refunds->GetRefund(&context, get, &got).ok() &&
           got.refund().state() == v1::REFUND_STATE_SUCCEEDED;
  }));
  h_->clock().Advance(8 * kDay);
  Sweep();
  v1::GetRetentionStatsResponse stats =
      StatsBy({v1::RETENTION_DIMENSION_TIME_TO_SUCCEEDED,
               v1::RETENTION_DIMENSION_AMOUNT_BAND,
               v1::RETENTION_DIMENSION_INSTRUMENT});
  ASSERT_EQ(stats.cohorts_size(), 1);
  // Settled while the business clock stood still: within a minute.
  EXPECT_EQ(stats.cohorts(0).labels(0).value(), "under_1m");
  EXPECT_EQ(stats.cohorts(0).labels(1).value(),
            retention::AmountBand(amount, 3000));
  EXPECT_EQ(stats.cohorts(0).labels(2).value(), "ORIGINAL_PAYMENT");
  EXPECT_THAT(stats.cohorts(0).windows(0).paid_minor(),
              ElementsAre(Pair("EUR", amount)));
  EXPECT_THAT(stats.cohorts(0).windows(0).net_value_minor(),
              ElementsAre(Pair("EUR", -amount)));
}

TEST_F(RetentionTest, BadRequestsAreRefusedFieldByField) {
  Start();
  v1::GetRetentionStatsRequest request;
  request.add_group_by(v1::RETENTION_DIMENSION_UNSPECIFIED);
  request.add_group_by(v1::RETENTION_DIMENSION_OUTCOME);
  request.add_group_by(v1::RETENTION_DIMENSION_OUTCOME);
  request.add_group_by(static_cast<v1::RetentionDimension>(99));
  request.add_group_by(v1::RETENTION_DIMENSION_TIER);
  v1::RetentionFilter* filter = request.add_filters();
  filter->set_dimension(v1::RETENTION_DIMENSION_ARM);
  filter->set_value("");
  request.set_store_id("store-1");
  request.set_courier_id("courier\n1");
  v1::GetRetentionStatsResponse response;
  grpc::Status status = Stats(request, &response);
  ASSERT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> fields;
  for (const auto& [field, description] : FieldViolations(status)) {
    fields.push_back(field);
  }
  EXPECT_THAT(fields, ::testing::IsSupersetOf(
                          {"group_by", "group_by[0]", "group_by[2]",
                           "group_by[3]", "group_by[4]", "filters[0].dimension",
                           "filters[0].value", "courier_id"}));
}

// --- The randomized model ---

struct ModelTrouble {
  absl::Time at;
  std::string member;
  std::string outcome;
  std::string recovery;
};

TEST_F(RetentionTest, RandomTroublesReordersAndSweepsMatchTheModel) {
  Start();
  // A new seed every run; MAKEGOOD_RETENTION_SEED=<seed> replays one.
  uint64_t seed = absl::Uniform<uint64_t>(absl::BitGen(), 1, 1u << 30);
  if (const char* env = std::getenv("MAKEGOOD_RETENTION_SEED")) {
    ASSERT_TRUE(absl::SimpleAtoi(env, &seed)) << env;
  }
  SCOPED_TRACE(absl::StrCat("MAKEGOOD_RETENTION_SEED=", seed));
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](double lo, double hi) {
    return lo +
           (hi - lo) * (static_cast<double>(rng() >> 11) / 9007199254740992.0);
  };
  v1::GetPolicyRequest get_policy;
  v1::GetPolicyResponse policy;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h_->stubs().policies->GetPolicy(&context, get_policy, &policy).ok());
  }
  const int threshold = policy.policy().has_trouble_max_percent()
                            ? policy.policy().trouble_max_percent()
                            : policy.policy().low_rating_max_percent();

  // The plan: per member, one or two rated orders and a few later orders;
  // sweeps at random gaps (sometimes longer than a window gap).
  enum Kind { kRate, kOrder, kSweep };
  struct Step {
    absl::Time at;
    Kind kind;
    std::string member;
    int satisfaction = 0;
    bool reason = false;
  };
  const absl::Time start = h_->clock().Now();
  std::vector<Step> plan;
  constexpr int kMembers = 24;
  for (int m = 0; m < kMembers; ++m) {
    const std::string member = absl::StrCat("m-", m);
    ASSERT_TRUE(h_->UpsertMember(member, m % 2 ? "basic" : "premium").ok());
    const int ratings = 1 + static_cast<int>(rng() % 2);
    for (int r = 0; r < ratings; ++r) {
      plan.push_back({start + uniform(0, 40) * kDay, kRate, member,
                      static_cast<int>(rng() % 101), rng() % 3 == 0});
    }
    const int orders = static_cast<int>(rng() % 4);
    for (int o = 0; o < orders; ++o) {
      plan.push_back({start + uniform(0, 130) * kDay, kOrder, member});
    }
  }
  for (absl::Time t = start; t < start + 135 * kDay;
       t += uniform(0.5, 26) * kDay) {
    plan.push_back({t, kSweep, ""});
  }
  plan.push_back({start + 140 * kDay, kSweep, ""});
  std::stable_sort(plan.begin(), plan.end(),
                   [](const Step& a, const Step& b) { return a.at < b.at; });

  // Run it, keeping the model beside it.
  std::vector<ModelTrouble> troubles;
  std::vector<absl::Time> sweeps;
  std::map<std::string, std::vector<std::pair<absl::Time, absl::Time>>>
      orders;  // member -> (delivered, recorded)
  int n = 0;
  for (const Step& step : plan) {
    h_->clock().Set(step.at);
    if (step.kind == kSweep) {
      // Two sweepers at once: each window is counted once.
      auto a = NewSweeper();
      auto b = NewSweeper();
      std::thread other([&] { ASSERT_TRUE(b->SweepOnce().ok()); });
      ASSERT_TRUE(a->SweepOnce().ok());
      other.join();
      sweeps.push_back(step.at);
      continue;
    }
    const std::string order = absl::StrCat("o-", n++);
    Order(step.member, order);
    orders[step.member].push_back({step.at - absl::Minutes(1), step.at});
    if (step.kind != kRate) continue;
    v1::SubmitRatingResponse rated =
        Rate(Rating(step.member, order, step.satisfaction, step.reason));
    if (!step.reason && step.satisfaction > threshold) continue;
    ModelTrouble t;
    t.at = step.at;
    t.member = step.member;
    t.outcome = std::string(absl::StripPrefix(
        v1::Outcome_Name(rated.decision().outcome()), "OUTCOME_"));
    t.recovery = step.reason ? "claim" : "silent_unrecovered";
    for (const v1::FollowUp& f : rated.decision().follow_ups()) {
      if (f.kind() == v1::FOLLOW_UP_KIND_SILENT_RECOVERY && !step.reason) {
        t.recovery = "silent_recovered";
      }
    }
    troubles.push_back(std::move(t));
  }
  // The model: a window closes at the first sweep a grace day or more after
  // its end and counts the orders delivered after the trouble, within the
  // window, and recorded before it closed.
  std::map<std::pair<std::string, std::string>, std::array<int64_t, 9>> want;
  for (ModelTrouble& t : troubles) {
    auto& row = want[{t.outcome, t.recovery}];
    for (int k = 0; k < 3; ++k) {
      const absl::Time end = t.at + retention::kWindowDays[k] * kDay;
      auto sweep = std::lower_bound(sweeps.begin(), sweeps.end(),
                                    end + retention::kGraceDays * kDay);
      ASSERT_NE(sweep, sweeps.end());
      bool reordered = false;
      int64_t spend = 0;
      for (const auto& [delivered, recorded] : orders[t.member]) {
        if (delivered > t.at && delivered <= end && recorded < *sweep) {
          reordered = true;
          spend += 3000;
        }
      }
      row[3 * k] += 1;
      row[3 * k + 1] += reordered ? 1 : 0;
      row[3 * k + 2] += spend;
    }
  }
  ASSERT_FALSE(want.empty());

  v1::GetRetentionStatsResponse got = StatsBy(
      {v1::RETENTION_DIMENSION_OUTCOME, v1::RETENTION_DIMENSION_RECOVERY});
  std::map<std::pair<std::string, std::string>, std::array<int64_t, 9>> have;
  for (const v1::RetentionCohort& cohort : got.cohorts()) {
    auto& row = have[{cohort.labels(0).value(), cohort.labels(1).value()}];
    for (int k = 0; k < 3; ++k) {
      const v1::RetentionWindow& w = cohort.windows(k);
      row[3 * k] = w.troubles();
      row[3 * k + 1] = w.reordered();
      auto spend = w.spend_minor().find("EUR");
      row[3 * k + 2] = spend == w.spend_minor().end() ? 0 : spend->second;
    }
  }
  EXPECT_EQ(have, want) << troubles.size() << " troubles, " << sweeps.size()
                        << " sweeps";
  EXPECT_EQ(got.open_troubles(), 0);
  EXPECT_EQ(Scheduled(), 0);
}

}  // namespace
}  // namespace makegood
