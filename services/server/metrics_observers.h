// File: services/server/metrics_observers.h
//
// The observers the server hands to its parts so that what they report
// reaches Prometheus (services/metrics): the Redis client's commands and
// connections, and the rating flow's decisions, money, replays, limits and
// shadow evaluations. The parts know only their observer interfaces and the
// metrics library knows none of the parts; this is the one place they meet.
//
// Example:
//   RedisMetrics redis_metrics(metrics);
//   options.observer = &redis_metrics;
//   RatingMetrics rating_metrics(metrics);
//   RatingFlow flow(..., /*shadow=*/nullptr, &rating_metrics);
//
// Thread-safety: thread-safe (Metrics is). Each must outlive what observes
// into it, and the Metrics must outlive it.
#pragma once

#include "absl/time/time.h"
#include "services/metrics/metrics.h"
#include "services/rating/rating_observer.h"
#include "services/redis/client_observer.h"

namespace makegood::server {

class RedisMetrics final : public redis::ClientObserver {
 public:
  explicit RedisMetrics(metrics::Metrics& metrics) : metrics_(metrics) {}

  void OnCommandAccepted() override;
  void OnCommandDone(absl::Duration latency, bool ok) override;
  void OnRejectedFull() override;
  void OnTimeout() override;
  void OnConnect() override;
  void OnReadyConnections(int ready) override;
  void OnNoscript() override;

 private:
  metrics::Metrics& metrics_;
};

class RatingMetrics final : public rating::RatingObserver {
 public:
  explicit RatingMetrics(metrics::Metrics& metrics) : metrics_(metrics) {}

  // makegood_decisions_total and, for a refund, the money it grants.
  void OnCommitted(const makegood::v1::Decision& decision) override;
  void OnRateLimited(absl::string_view scope, bool enforced) override;
  void OnShadowEvaluated(bool disagreed) override;

 private:
  metrics::Metrics& metrics_;
};

}  // namespace makegood::server
