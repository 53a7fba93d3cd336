// A rating's path in the metrics: the assembled server, with the settlement
// worker, scraped over real HTTP on its admin port after one rating settled.
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "tests/testing/app_harness.h"
#include "tests/unit/metrics/http_get.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::testing::Contains;
using ::testing::HasSubstr;

// The value of the first sample line starting with `prefix`, or -1.
double Sample(const std::vector<std::string>& lines,
              const std::string& prefix) {
  for (const std::string& line : lines) {
    if (absl::StartsWith(line, prefix)) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return -1;
}

TEST(ObservabilityTest, MetricsShowARatingFromRequestToSettlement) {
  auto harness = AppHarness::Create();
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto& h = **harness;
  h.config().admin_listen = "127.0.0.1:0";
  h.config().settlement.run_worker = true;
  h.config().settlement.consumer = "obs";
  ASSERT_TRUE(h.StartApp().ok());
  ASSERT_GT(h.app().admin_port(), 0);
  ASSERT_TRUE(h.UpsertMember("m-1").ok());
  ASSERT_TRUE(h.RecordOrder("m-1", "o-1").ok());

  v1::SubmitRatingResponse rated;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h.stubs()
            .ratings
            ->SubmitRating(&context, testing::MeltedRating("k-1"), &rated)
            .ok());
  }
  ASSERT_TRUE(rated.decision().has_refund());
  const int64_t amount = rated.decision().refund().amount_minor();
  v1::Refund refund;
  for (int i = 0; i < 500 && refund.state() != v1::REFUND_STATE_SUCCEEDED;
       ++i) {
    v1::GetRefundRequest get;
    get.set_refund_id(rated.decision().refund().refund_id());
    v1::GetRefundResponse got;
    grpc::ClientContext context;
    ASSERT_TRUE(h.stubs().refunds->GetRefund(&context, get, &got).ok());
    refund = got.refund();
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(refund.state(), v1::REFUND_STATE_SUCCEEDED);

  auto scraped = metrics::HttpGet(h.app().admin_port(), "/metrics");
  ASSERT_TRUE(scraped.ok()) << scraped.status();
  std::vector<std::string> lines = metrics::SampleLines(scraped->body);
  EXPECT_THAT(
      lines,
      Contains(
          R"(makegood_rpc_requests_total{code="OK",method="/makegood.v1.RatingService/SubmitRating"} 1)"));
  EXPECT_GE(
      Sample(
          lines,
          R"(makegood_rpc_duration_seconds_count{method="/makegood.v1.RatingService/SubmitRating"})"),
      1);
  EXPECT_EQ(Sample(lines, R"(makegood_decisions_total{outcome="refund")"), 1);
  EXPECT_EQ(
      Sample(
          lines,
          R"(makegood_refund_amount_minor_total{currency="EUR",instrument="original_payment"})"),
      static_cast<double>(amount));
  EXPECT_EQ(
      Sample(
          lines,
          R"(makegood_settlement_results_total{provider="sandbox",result="succeeded"})"),
      1);
  EXPECT_EQ(Sample(lines, "makegood_settlement_lag_seconds_count"), 1);
  EXPECT_GE(Sample(lines, "makegood_redis_command_duration_seconds_count"), 3);
}

TEST(ObservabilityTest, InsightsCountARatingFromItsDecisionEvent) {
  auto harness = AppHarness::Create();
  ASSERT_TRUE(harness.ok()) << harness.status();
  auto& h = **harness;
  h.config().insights_aggregator = true;
  h.config().settlement.consumer = "insights-1";
  ASSERT_TRUE(h.StartApp().ok());
  ASSERT_TRUE(h.UpsertMember("m-1").ok());
  ASSERT_TRUE(h.RecordOrder("m-1", "o-1").ok());
  v1::SubmitRatingResponse rated;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(h.stubs()
                    .ratings
                    ->SubmitRating(
                        &context,
                        testing::MeltedRating("k-1", "m-1", "o-1", 40), &rated)
                    .ok());
  }
  auto insights = v1::InsightsService::NewStub(h.stubs().channel);
  v1::GetSatisfactionStatsRequest request;
  request.set_dimension(v1::DIMENSION_STORE);
  request.set_subject_id("store-1");
  request.set_window(v1::STATS_WINDOW_24H);
  v1::GetSatisfactionStatsResponse response;
  for (int i = 0; i < 500 && response.stats().ratings() == 0; ++i) {
    grpc::ClientContext context;
    ASSERT_TRUE(
        insights->GetSatisfactionStats(&context, request, &response).ok());
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(response.stats().ratings(), 1);
  EXPECT_DOUBLE_EQ(response.stats().average_satisfaction_percent(), 40);
  EXPECT_DOUBLE_EQ(response.stats().refund_rate(), 1);
  EXPECT_EQ(response.stats().refunded_minor().at("EUR"),
            rated.decision().refund().amount_minor());
}

}  // namespace
}  // namespace makegood
