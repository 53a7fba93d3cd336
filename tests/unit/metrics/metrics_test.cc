#include "services/metrics/metrics.h"

#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/unit/metrics/http_get.h"

namespace makegood::metrics {
namespace {

using ::testing::Contains;
using ::testing::IsSupersetOf;
using ::testing::Not;

std::vector<std::string> Samples(const Metrics& metrics) {
  return SampleLines(metrics.Scrape());
}

// Sample lines of one metric name (exactly, not its _bucket etc.).
int CountSeries(const std::vector<std::string>& samples,
                absl::string_view name) {
  int n = 0;
  for (const std::string& line : samples) {
    if (absl::StartsWith(line, absl::StrCat(name, "{")) ||
        absl::StartsWith(line, absl::StrCat(name, " "))) {
      ++n;
    }
  }
  return n;
}

TEST(Metrics, CountsDecisionsByOutcomeAndPolicyVersion) {
  Metrics metrics;
  metrics.RecordDecision("refund", "v3");
  metrics.RecordDecision("refund", "v3");
  metrics.RecordDecision("deny", "v3");
  metrics.RecordDecision("refund", "v4");

  EXPECT_THAT(
      Samples(metrics),
      IsSupersetOf({
          R"(makegood_decisions_total{outcome="refund",policy_version="v3"} 2)",
          R"(makegood_decisions_total{outcome="deny",policy_version="v3"} 1)",
          R"(makegood_decisions_total{outcome="refund",policy_version="v4"} 1)",
      }));
}

TEST(Metrics, CountsRefundMoneyInExactMinorUnitsPerInstrumentAndCurrency) {
  Metrics metrics;
  metrics.RecordRefund("wallet", "EUR", 1250);
  metrics.RecordRefund("wallet", "EUR", 99);
  metrics.RecordRefund("original_payment", "JPY", 500);
  // 2^53 - 1 minor units: still exact as a float64 sample.
  metrics.RecordRefund("coupon", "EUR", 9007199254740991);
  metrics.RecordRefund("wallet", "EUR", 0);
  metrics.RecordRefund("wallet", "EUR", -5);

  EXPECT_THAT(
      Samples(metrics),
      IsSupersetOf({
          R"(makegood_refund_amount_minor_total{currency="EUR",instrument="wallet"} 1349)",
          R"(makegood_refund_amount_minor_total{currency="JPY",instrument="original_payment"} 500)",
          R"(makegood_refund_amount_minor_total{currency="EUR",instrument="coupon"} 9007199254740991)",
      }));
}

TEST(Metrics, CountsRpcsByMethodAndCodeAndObservesLatencyBuckets) {
  Metrics metrics;
  const std::string method = "/makegood.v1.RatingService/SubmitRating";
  metrics.RecordRpc(method, 0, absl::Microseconds(700));
  metrics.RecordRpc(method, 0, absl::Milliseconds(3));
  metrics.RecordRpc(method, 8, absl::Seconds(7));  // Past the last bucket.
  metrics.RecordRpc(method, 99, absl::Microseconds(50));  // Not a code.

  std::vector<std::string> samples = Samples(metrics);
  EXPECT_THAT(
      samples,
      IsSupersetOf({
          R"(makegood_rpc_requests_total{code="OK",method="/makegood.v1.RatingService/SubmitRating"} 2)",
          R"(makegood_rpc_requests_total{code="RESOURCE_EXHAUSTED",method="/makegood.v1.RatingService/SubmitRating"} 1)",
          R"(makegood_rpc_requests_total{code="UNKNOWN",method="/makegood.v1.RatingService/SubmitRating"} 1)",
          R"(makegood_rpc_duration_seconds_count{method="/makegood.v1.RatingService/SubmitRating"} 4)",
          R"(makegood_rpc_duration_seconds_bucket{method="/makegood.v1.RatingService/SubmitRating",le="0.0001"} 1)",
          R"(makegood_rpc_duration_seconds_bucket{method="/makegood.v1.RatingService/SubmitRating",le="0.001"} 2)",
          R"(makegood_rpc_duration_seconds_bucket{method="/makegood.v1.RatingService/SubmitRating",le="0.005"} 3)",
          R"(makegood_rpc_duration_seconds_bucket{method="/makegood.v1.RatingService/SubmitRating",le="5"} 3)",
          R"(makegood_rpc_duration_seconds_bucket{method="/makegood.v1.RatingService/SubmitRating",le="+Inf"} 4)",
      }));
  // Only the codes a method returned are exported.
  EXPECT_EQ(CountSeries(samples, "makegood_rpc_requests_total"), 3);
}

TEST(Metrics, RpcMethodResolvesOnceAndFindDoesNotCreate) {
  Metrics metrics;
  EXPECT_EQ(metrics.FindRpcMethod("/a.B/C"), nullptr);
  Metrics::RpcSeries* series = metrics.RpcMethod("/a.B/C");
  EXPECT_EQ(metrics.RpcMethod("/a.B/C"), series);
  EXPECT_EQ(metrics.FindRpcMethod("/a.B/C"), series);
  metrics.RecordRpc(series, 5, absl::Milliseconds(1));
  EXPECT_THAT(
      Samples(metrics),
      Contains(
          R"(makegood_rpc_requests_total{code="NOT_FOUND",method="/a.B/C"} 1)"));
}

TEST(Metrics, CountsRateLimitRejectionsAndShadowDisagreements) {
  Metrics metrics;
  metrics.RecordRateLimitRejection("SubmitRating", "member");
  metrics.RecordRateLimitRejection("SubmitRating", "member");
  metrics.RecordRateLimitRejection("SubmitRating", "client");
  metrics.RecordRateLimitShadowRejection("SubmitRating", "client");
  metrics.RecordShadowEvaluation(false);
  metrics.RecordShadowEvaluation(true);
  metrics.RecordShadowEvaluation(false);

  EXPECT_THAT(
      Samples(metrics),
      IsSupersetOf({
          R"(makegood_rate_limit_rejections_total{method="SubmitRating",scope="member"} 2)",
          R"(makegood_rate_limit_rejections_total{method="SubmitRating",scope="client"} 1)",
          R"(makegood_rate_limit_shadow_rejections_total{method="SubmitRating",scope="client"} 1)",
          "makegood_shadow_policy_evaluations_total 3",
          "makegood_shadow_policy_disagreements_total 1",
      }));
}

TEST(Metrics, RecordsSettlementLagResultsAndOutboxGauges) {
  Metrics metrics;
  metrics.ObserveSettlementLag(absl::Milliseconds(300));
  metrics.ObserveSettlementLag(absl::Hours(2));
  metrics.RecordSettlementResult("sandbox", "succeeded");
  metrics.RecordSettlementResult("sandbox", "unknown");
  metrics.RecordSettlementResult("sandbox", "succeeded");
  metrics.SetOutboxPending(17);
  metrics.SetOutboxPending(12);  // A gauge: the last value wins.
  metrics.SetDeadLetters(2);

  EXPECT_THAT(
      Samples(metrics),
      IsSupersetOf({
          "makegood_settlement_lag_seconds_count 2",
          R"(makegood_settlement_lag_seconds_bucket{le="0.1"} 0)",
          R"(makegood_settlement_lag_seconds_bucket{le="0.5"} 1)",
          R"(makegood_settlement_lag_seconds_bucket{le="3600"} 1)",
          R"(makegood_settlement_lag_seconds_bucket{le="14400"} 2)",
          R"(makegood_settlement_results_total{provider="sandbox",result="succeeded"} 2)",
          R"(makegood_settlement_results_total{provider="sandbox",result="unknown"} 1)",
          "makegood_outbox_pending 12",
          "makegood_dead_letters 2",
      }));
}

TEST(Metrics, RedisEventsCountAsTheyHappen) {
  Metrics metrics;
  for (int i = 0; i < 5; ++i) metrics.CountRedisCommand();
  metrics.ObserveRedisCommand(absl::Microseconds(80), /*ok=*/true);
  metrics.ObserveRedisCommand(absl::Microseconds(90), /*ok=*/false);
  metrics.ObserveRedisCommand(absl::Milliseconds(2), /*ok=*/false);
  metrics.CountRedisRejected();
  metrics.CountRedisTimeout();
  metrics.CountRedisConnect();
  metrics.CountRedisConnect();
  metrics.CountRedisNoscript();
  metrics.SetRedisReadyConnections(2);
  metrics.SetRedisReadyConnections(1);

  EXPECT_THAT(
      Samples(metrics),
      IsSupersetOf({
          "makegood_redis_commands_total 5",
          R"(makegood_redis_errors_total{kind="command"} 2)",
          R"(makegood_redis_errors_total{kind="rejected"} 1)",
          R"(makegood_redis_errors_total{kind="timeout"} 1)",
          "makegood_redis_connects_total 2",
          "makegood_redis_noscript_total 1",
          "makegood_redis_connections_ready 1",
          "makegood_redis_command_duration_seconds_count 3",
          R"(makegood_redis_command_duration_seconds_bucket{le="0.0001"} 2)",
          R"(makegood_redis_command_duration_seconds_bucket{le="5e-05"} 0)",
      }));
}

TEST(Metrics, ScrapeCallbacksRunBeforeEveryScrape) {
  Metrics metrics;
  int depth = 0;
  metrics.AddScrapeCallback([&] { metrics.SetOutboxPending(++depth); });

  EXPECT_THAT(Samples(metrics), Contains("makegood_outbox_pending 1"));
  EXPECT_THAT(Samples(metrics), Contains("makegood_outbox_pending 2"));
}

TEST(Metrics, LabelValuesAreCutToPrintableAscii) {
  Metrics metrics;
  metrics.RecordDecision("re\xff\nfund\"", std::string(150, 'v'));

  EXPECT_THAT(
      Samples(metrics),
      Contains(absl::StrCat(
          R"(makegood_decisions_total{outcome="re__fund\"",policy_version=")",
          std::string(100, 'v'), R"("} 1)")));
}

TEST(Metrics, LabelSetsPastTheCapAreCountedAsOther) {
  Metrics metrics;
  const int extra = 10;
  for (int i = 0; i < Metrics::kMaxSeriesPerFamily + extra; ++i) {
    metrics.RecordDecision(absl::StrCat("outcome_", i), "v1");
  }
  metrics.RecordDecision("outcome_0", "v1");  // Still its own series.

  std::vector<std::string> samples = Samples(metrics);
  EXPECT_EQ(CountSeries(samples, "makegood_decisions_total"),
            Metrics::kMaxSeriesPerFamily + 1);
  EXPECT_THAT(
      samples,
      IsSupersetOf({
          R"(makegood_decisions_total{outcome="other",policy_version="other"} 10)",
          R"(makegood_decisions_total{outcome="outcome_0",policy_version="v1"} 2)",
      }));
  EXPECT_THAT(
      samples,
      Not(Contains(absl::StrCat(R"(makegood_decisions_total{outcome="outcome_)",
                                Metrics::kMaxSeriesPerFamily,
                                R"(",policy_version="v1"} 1)"))));
}

TEST(Metrics, RpcMethodsPastTheCapAreCountedAsOther) {
  Metrics metrics;
  for (int i = 0; i < Metrics::kMaxSeriesPerFamily + 5; ++i) {
    metrics.RecordRpc(absl::StrCat("/m.S/M", i), 0, absl::Milliseconds(1));
  }

  std::vector<std::string> samples = Samples(metrics);
  EXPECT_EQ(CountSeries(samples, "makegood_rpc_requests_total"),
            Metrics::kMaxSeriesPerFamily + 1);
  EXPECT_THAT(
      samples,
      Contains(R"(makegood_rpc_requests_total{code="OK",method="other"} 5)"));
}

// Series are created lazily by whichever thread comes first; racing
// creators must end up on one series and lose no increment.
TEST(Metrics, ConcurrentFirstUsesLoseNothing) {
  Metrics metrics;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&metrics] {
      for (int i = 0; i < kPerThread; ++i) {
        metrics.RecordDecision("refund", "v3");
        metrics.RecordRpc("/a.B/C", i % 2 == 0 ? 0 : 14, absl::Microseconds(1));
      }
    });
  }
  for (std::thread& thread : threads) thread.join();

  EXPECT_THAT(
      Samples(metrics),
      IsSupersetOf({
          R"(makegood_decisions_total{outcome="refund",policy_version="v3"} 8000)",
          R"(makegood_rpc_requests_total{code="OK",method="/a.B/C"} 4000)",
          R"(makegood_rpc_requests_total{code="UNAVAILABLE",method="/a.B/C"} 4000)",
          R"(makegood_rpc_duration_seconds_count{method="/a.B/C"} 8000)",
      }));
}

TEST(GrpcCodeName, NamesEveryCodeAndUnknownOutside) {
  EXPECT_EQ(GrpcCodeName(0), "OK");
  EXPECT_EQ(GrpcCodeName(4), "DEADLINE_EXCEEDED");
  EXPECT_EQ(GrpcCodeName(16), "UNAUTHENTICATED");
  EXPECT_EQ(GrpcCodeName(17), "UNKNOWN");
  EXPECT_EQ(GrpcCodeName(-1), "UNKNOWN");
}

}  // namespace
}  // namespace makegood::metrics
