// What the rating flow and the Redis client report reaches Prometheus under
// the names dashboards use (server/metrics_observers.h).
#include "services/server/metrics_observers.h"

#include <string>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/metrics/metrics.h"

namespace makegood::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kSubmit[] =
    R"(method="/makegood.v1.RatingService/SubmitRating")";

TEST(RatingMetrics, ACommittedRefundCountsItsDecisionAndItsMoney) {
  metrics::Metrics metrics;
  RatingMetrics observer(metrics);
  makegood::v1::Decision decision;
  decision.set_outcome(makegood::v1::OUTCOME_WALLET_CREDIT);
  decision.set_policy_version("default@v3");
  decision.mutable_refund()->set_instrument(makegood::v1::INSTRUMENT_WALLET);
  decision.mutable_refund()->set_currency("EUR");
  decision.mutable_refund()->set_amount_minor(1200);
  observer.OnCommitted(decision);
  observer.OnCommitted(decision);
  makegood::v1::Decision nothing;
  nothing.set_outcome(makegood::v1::OUTCOME_NO_ACTION);
  nothing.set_policy_version("default@v3");
  observer.OnCommitted(nothing);

  const std::string scrape = metrics.Scrape();
  EXPECT_THAT(
      scrape,
      HasSubstr(
          R"(makegood_decisions_total{outcome="wallet_credit",policy_version="default@v3"} 2)"));
  EXPECT_THAT(
      scrape,
      HasSubstr(
          R"(makegood_decisions_total{outcome="no_action",policy_version="default@v3"} 1)"));
  EXPECT_THAT(
      scrape,
      HasSubstr(
          R"(makegood_refund_amount_minor_total{currency="EUR",instrument="wallet"} 2400)"));
}

TEST(RatingMetrics, EnforcedAndShadowLimitsCountApart) {
  metrics::Metrics metrics;
  RatingMetrics observer(metrics);
  observer.OnRateLimited("member", /*enforced=*/true);
  observer.OnRateLimited("client", /*enforced=*/false);
  observer.OnRateLimited("client", /*enforced=*/false);
  observer.OnShadowEvaluated(/*disagreed=*/true);
  observer.OnShadowEvaluated(/*disagreed=*/false);

  const std::string scrape = metrics.Scrape();
  EXPECT_THAT(scrape,
              HasSubstr(std::string("makegood_rate_limit_rejections_total{") +
                        kSubmit + R"(,scope="member"} 1)"));
  EXPECT_THAT(
      scrape,
      Not(HasSubstr(std::string("makegood_rate_limit_rejections_total{") +
                    kSubmit + R"(,scope="client"})")));
  EXPECT_THAT(
      scrape,
      HasSubstr(std::string("makegood_rate_limit_shadow_rejections_total{") +
                kSubmit + R"(,scope="client"} 2)"));
  EXPECT_THAT(scrape,
              HasSubstr("\nmakegood_shadow_policy_evaluations_total 2\n"));
  EXPECT_THAT(scrape,
              HasSubstr("\nmakegood_shadow_policy_disagreements_total 1\n"));
}

TEST(RedisMetrics, EveryClientEventReachesItsSeries) {
  metrics::Metrics metrics;
  RedisMetrics observer(metrics);
  observer.OnCommandAccepted();
  observer.OnCommandAccepted();
  observer.OnCommandDone(absl::Microseconds(70), /*ok=*/true);
  observer.OnCommandDone(absl::Microseconds(70), /*ok=*/false);
  observer.OnRejectedFull();
  observer.OnTimeout();
  observer.OnConnect();
  observer.OnNoscript();
  observer.OnReadyConnections(2);
  observer.OnPrimaryChange();  // Logged by the client; no series of its own.

  const std::string scrape = metrics.Scrape();
  EXPECT_THAT(scrape, HasSubstr("\nmakegood_redis_commands_total 2\n"));
  EXPECT_THAT(scrape,
              HasSubstr(R"(makegood_redis_errors_total{kind="command"} 1)"));
  EXPECT_THAT(scrape,
              HasSubstr(R"(makegood_redis_errors_total{kind="rejected"} 1)"));
  EXPECT_THAT(scrape,
              HasSubstr(R"(makegood_redis_errors_total{kind="timeout"} 1)"));
  EXPECT_THAT(scrape, HasSubstr("\nmakegood_redis_connects_total 1\n"));
  EXPECT_THAT(scrape, HasSubstr("\nmakegood_redis_noscript_total 1\n"));
  EXPECT_THAT(scrape, HasSubstr("\nmakegood_redis_connections_ready 2\n"));
  EXPECT_THAT(scrape,
              HasSubstr("\nmakegood_redis_command_duration_seconds_count 2\n"));
}

}  // namespace
}  // namespace makegood::server
