// File: services/server/metrics_observers.cc
#include "services/server/metrics_observers.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/strip.h"
#include "services/store/refund_store.h"

namespace makegood::server {
namespace {

constexpr absl::string_view kSubmitRating =
    "/makegood.v1.RatingService/SubmitRating";

// "OUTCOME_WALLET_CREDIT" -> "wallet_credit".
std::string OutcomeLabel(makegood::v1::Outcome outcome) {
  return absl::AsciiStrToLower(
      absl::StripPrefix(makegood::v1::Outcome_Name(outcome), "OUTCOME_"));
}

}  // namespace

void RedisMetrics::OnCommandAccepted() { metrics_.CountRedisCommand(); }

void RedisMetrics::OnCommandDone(absl::Duration latency, bool ok) {
  metrics_.ObserveRedisCommand(latency, ok);
}

void RedisMetrics::OnRejectedFull() { metrics_.CountRedisRejected(); }

void RedisMetrics::OnTimeout() { metrics_.CountRedisTimeout(); }

void RedisMetrics::OnConnect() { metrics_.CountRedisConnect(); }

void RedisMetrics::OnReadyConnections(int ready) {
  metrics_.SetRedisReadyConnections(ready);
}

void RedisMetrics::OnNoscript() { metrics_.CountRedisNoscript(); }

void RatingMetrics::OnCommitted(const makegood::v1::Decision& decision) {
  metrics_.RecordDecision(OutcomeLabel(decision.outcome()),
                          decision.policy_version());
  if (decision.has_refund()) {
    metrics_.RecordRefund(store::InstrumentName(decision.refund().instrument()),
                          decision.refund().currency(),
                          decision.refund().amount_minor());
  }
}

void RatingMetrics::OnRateLimited(absl::string_view scope, bool enforced) {
  if (enforced) {
    metrics_.RecordRateLimitRejection(kSubmitRating, scope);
  } else {
    metrics_.RecordRateLimitShadowRejection(kSubmitRating, scope);
  }
}

void RatingMetrics::OnShadowEvaluated(bool disagreed) {
  metrics_.RecordShadowEvaluation(disagreed);
}

}  // namespace makegood::server
