#include "services/metrics/admin_server.h"

#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/metrics/metrics.h"
#include "tests/unit/metrics/http_get.h"

namespace makegood::metrics {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::StartsWith;

std::unique_ptr<AdminServer> StartOnFreePort(Metrics& metrics) {
  absl::StatusOr<std::unique_ptr<AdminServer>> admin =
      AdminServer::Start("127.0.0.1:0", metrics);
  EXPECT_TRUE(admin.ok()) << admin.status();
  return admin.ok() ? std::move(*admin) : nullptr;
}

// One sample of every family, so a scrape lists them all.
void RecordOneOfEverything(Metrics& metrics) {
  metrics.RecordRpc("/grpc.health.v1.Health/Check", 0, absl::Microseconds(300));
  metrics.RecordDecision("refund", "v3");
  metrics.RecordRefund("original_payment", "EUR", 1250);
  metrics.RecordRateLimitRejection("SubmitRating", "member");
  metrics.RecordShadowEvaluation(true);
  metrics.ObserveSettlementLag(absl::Seconds(3));
  metrics.RecordSettlementResult("wallet", "succeeded");
  metrics.SetOutboxPending(4);
  metrics.SetDeadLetters(1);
  metrics.RecordRateLimitShadowRejection("SubmitRating", "client");
  metrics.CountRedisCommand();
  metrics.ObserveRedisCommand(absl::Microseconds(120), /*ok=*/false);
  metrics.CountRedisRejected();
  metrics.CountRedisTimeout();
  metrics.CountRedisConnect();
  metrics.CountRedisNoscript();
  metrics.SetRedisReadyConnections(2);
}

TEST(AdminServer, ServesMetricsOverHttpOnAnEphemeralPort) {
  Metrics metrics;
  metrics.RecordDecision("refund", "v3");
  metrics.RecordDecision("refund", "v3");
  metrics.RecordRefund("wallet", "EUR", 1250);
  std::unique_ptr<AdminServer> admin = StartOnFreePort(metrics);
  ASSERT_NE(admin, nullptr);
  ASSERT_GT(admin->port(), 0);

  absl::StatusOr<HttpResponse> got = HttpGet(admin->port(), "/metrics");

  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 200);
  EXPECT_THAT(got->content_type, StartsWith("text/plain"));
  EXPECT_THAT(
      SampleLines(got->body),
      IsSupersetOf({
          R"(makegood_decisions_total{outcome="refund",policy_version="v3"} 2)",
          R"(makegood_refund_amount_minor_total{currency="EUR",instrument="wallet"} 1250)",
      }));
}

TEST(AdminServer, RunsScrapeCallbacksOnEveryHttpScrape) {
  Metrics metrics;
  int scrapes = 0;
  metrics.AddScrapeCallback([&] { metrics.SetOutboxPending(++scrapes); });
  std::unique_ptr<AdminServer> admin = StartOnFreePort(metrics);
  ASSERT_NE(admin, nullptr);

  ASSERT_TRUE(HttpGet(admin->port(), "/metrics").ok());
  absl::StatusOr<HttpResponse> second = HttpGet(admin->port(), "/metrics");

  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(SampleLines(second->body), Contains("makegood_outbox_pending 2"));
}

TEST(AdminServer, AnswersNotFoundOutsideMetrics) {
  Metrics metrics;
  std::unique_ptr<AdminServer> admin = StartOnFreePort(metrics);
  ASSERT_NE(admin, nullptr);

  absl::StatusOr<HttpResponse> got = HttpGet(admin->port(), "/secret");

  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->status, 404);
}

TEST(AdminServer, RefusesMalformedAddresses) {
  Metrics metrics;
  for (const char* listen :
       {"", "9090", "127.0.0.1", "127.0.0.1:", ":9090", "127.0.0.1:http",
        "127.0.0.1:70000", "127.0.0.1:9090s", "::1:9090", "[::1]:9090",
        "localhost:9090", "127.0.0:9090"}) {
    absl::StatusOr<std::unique_ptr<AdminServer>> admin =
        AdminServer::Start(listen, metrics);
    ASSERT_FALSE(admin.ok()) << listen;
    EXPECT_EQ(admin.status().code(), absl::StatusCode::kInvalidArgument)
        << listen;
  }
}

TEST(AdminServer, ReportsUnavailableWhenThePortIsTaken) {
  Metrics metrics;
  std::unique_ptr<AdminServer> first = StartOnFreePort(metrics);
  ASSERT_NE(first, nullptr);

  absl::StatusOr<std::unique_ptr<AdminServer>> second =
      AdminServer::Start(absl::StrCat("127.0.0.1:", first->port()), metrics);

  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr(absl::StrCat("127.0.0.1:", first->port())));
}

TEST(AdminServer, StopClosesThePort) {
  Metrics metrics;
  std::unique_ptr<AdminServer> admin = StartOnFreePort(metrics);
  ASSERT_NE(admin, nullptr);
  const int port = admin->port();
  ASSERT_TRUE(HttpGet(port, "/metrics").ok());

  admin->Stop();
  admin->Stop();  // Idempotent.

  EXPECT_EQ(admin->port(), 0);
  EXPECT_FALSE(HttpGet(port, "/metrics").ok());
}

// Every family the dashboard may name is exported once it has a sample. If
// MAKEGOOD_METRICS_SCRAPE_OUT is set the scrape is written there for
// deploy/grafana/check.sh.
TEST(AdminServer, ScrapeListsEveryFamily) {
  Metrics metrics;
  RecordOneOfEverything(metrics);
  std::unique_ptr<AdminServer> admin = StartOnFreePort(metrics);
  ASSERT_NE(admin, nullptr);

  absl::StatusOr<HttpResponse> got = HttpGet(admin->port(), "/metrics");

  ASSERT_TRUE(got.ok()) << got.status();
  const std::vector<std::pair<std::string, std::string>> families = {
      {"makegood_rpc_requests_total", "counter"},
      {"makegood_rpc_duration_seconds", "histogram"},
      {"makegood_decisions_total", "counter"},
      {"makegood_refund_amount_minor_total", "counter"},
      {"makegood_rate_limit_rejections_total", "counter"},
      {"makegood_rate_limit_shadow_rejections_total", "counter"},
      {"makegood_shadow_policy_evaluations_total", "counter"},
      {"makegood_shadow_policy_disagreements_total", "counter"},
      {"makegood_settlement_lag_seconds", "histogram"},
      {"makegood_settlement_results_total", "counter"},
      {"makegood_outbox_pending", "gauge"},
      {"makegood_dead_letters", "gauge"},
      {"makegood_redis_command_duration_seconds", "histogram"},
      {"makegood_redis_commands_total", "counter"},
      {"makegood_redis_errors_total", "counter"},
      {"makegood_redis_connects_total", "counter"},
      {"makegood_redis_noscript_total", "counter"},
      {"makegood_redis_connections_ready", "gauge"},
  };
  for (const auto& [name, type] : families) {
    EXPECT_THAT(got->body,
                HasSubstr(absl::StrCat("\n# TYPE ", name, " ", type, "\n")))
        << name;
  }
  if (const char* out = std::getenv("MAKEGOOD_METRICS_SCRAPE_OUT");
      out != nullptr && *out != '\0') {
    std::ofstream file(out, std::ios::trunc);
    file << got->body;
    file.close();
    EXPECT_TRUE(file.good()) << "cannot write " << out;
  }
}

}  // namespace
}  // namespace makegood::metrics
