// File: services/metrics/metrics.h
//
// The service's Prometheus metrics: one registry holding every makegood_*
// family, behind small typed methods so callers never touch prometheus-cpp
// types. AdminServer (admin_server.h) serves it as GET /metrics on its own
// port; RpcMetricsFactory (rpc_metrics.h) records every gRPC call.
//
// Families (counters end in _total, durations are in seconds):
//   makegood_rpc_requests_total{method,code}         RecordRpc
//   makegood_rpc_duration_seconds{method}            RecordRpc (histogram)
//   makegood_decisions_total{outcome,policy_version} RecordDecision
//   makegood_refund_amount_minor_total{instrument,currency}   RecordRefund
//   makegood_rate_limit_rejections_total{method,scope}        RecordRateLimit…
//   makegood_rate_limit_shadow_rejections_total{method,scope} RecordRateLimit…
//   makegood_shadow_policy_evaluations_total         RecordShadowEvaluation
//   makegood_shadow_policy_disagreements_total       RecordShadowEvaluation
//   makegood_settlement_lag_seconds                  ObserveSettlementLag
//   makegood_settlement_results_total{provider,result}  RecordSettlementResult
//   makegood_outbox_pending, makegood_dead_letters   Set… (gauges)
//   makegood_redis_command_duration_seconds          ObserveRedisCommand
//   makegood_redis_commands_total                    CountRedisCommand
//   makegood_redis_errors_total{kind}                ObserveRedisCommand,
//                                                    CountRedisRejected/Timeout
//   makegood_redis_connects_total, makegood_redis_noscript_total  Count…
//   makegood_redis_connections_ready                 SetRedisReadyConnections
//
// Money is counted in integer minor units per currency, never as a float
// amount of a currency: minor units are what the rest of makegood stores, a
// Prometheus sample (a float64) holds every integer below 2^53 exactly, so
// the counter is exact for any realistic total, and currencies differ in
// their exponent (JPY 0, EUR 2, BHD 3), so "1.5" would mean nothing without
// it. Dashboards show each currency on its own and never sum across them.
//
// Cardinality: label values come from our own code (outcome names, policy
// versions, provider names) or, for `method`, from RpcMetricsFactory, which
// only passes methods the server knows. As a last line of defence each
// labelled family keeps at most kMaxSeriesPerFamily label sets; further ones
// are counted under label values "other", and values are cut to printable
// ASCII of at most 100 bytes, so a bug cannot flood Prometheus.
//
// Cost: a labelled series is created once; afterwards a call is a hash lookup
// under a shared lock plus an atomic add (~45 ns; a histogram observation
// ~20 ns; tests/unit/metrics/metrics_bench.cc). RPC series are resolved once
// per call (RpcMethod), their per-code counters once per method and code.
//
// Whoever does the work reports it as it happens: the rating flow, the Redis
// client and the settlement worker each take an observer (or callbacks) that
// the server wires to these methods (services/server/metrics_observers.h).
// Nothing keeps counters of its own to be scraped later. A scrape callback
// (AddScrapeCallback) remains for gauges that are cheaper to read at scrape
// time than to follow.
//
// Example:
//   Metrics metrics;
//   metrics.RecordDecision("refund", "v3");
//   metrics.RecordRefund("wallet", "EUR", 1250);
//   metrics.CountRedisCommand();
//   auto admin = AdminServer::Start("0.0.0.0:9090", metrics);
//
// Thread-safety: all methods are thread-safe. Metrics must outlive the
// AdminServer serving it and every interceptor recording into it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/functional/any_invocable.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace prometheus {
class Collectable;
}  // namespace prometheus

namespace makegood::metrics {

class Metrics {
 public:
  // Label sets kept per labelled family before new ones become "other".
  static constexpr int kMaxSeriesPerFamily = 500;

  // The RPC series of one method: opaque, owned by Metrics, valid for its
  // lifetime.
  class RpcSeries;

  Metrics();
  ~Metrics();

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // --- RPCs (normally recorded by RpcMetricsFactory) ---

  // The series of `method` (e.g. "/makegood.v1.RatingService/SubmitRating"),
  // created on first use. Never null.
  RpcSeries* RpcMethod(absl::string_view method);
  // The series of `method` if RpcMethod created it already, else null.
  RpcSeries* FindRpcMethod(absl::string_view method) const;
  // Counts one call ending with gRPC status `code` (0-16; others count as
  // UNKNOWN) and observes its latency.
  void RecordRpc(RpcSeries* series, int code, absl::Duration latency);
  void RecordRpc(absl::string_view method, int code, absl::Duration latency);

  // --- Decisions, money, limits ---

  // One committed decision (not replays), e.g. ("wallet_credit", "v3").
  void RecordDecision(absl::string_view outcome,
                      absl::string_view policy_version);
  // Money (or coupon value) granted by a committed decision, in minor units
  // of `currency`; instrument as in rating::InstrumentName. Amounts <= 0 are
  // ignored.
  void RecordRefund(absl::string_view instrument, absl::string_view currency,
                    int64_t amount_minor);
  // A call refused by a rate limit; scope "member" or "client".
  void RecordRateLimitRejection(absl::string_view method,
                                absl::string_view scope);
  // A call a limit in shadow mode would have refused, and let through.
  void RecordRateLimitShadowRejection(absl::string_view method,
                                      absl::string_view scope);
  // A rating the shadow policy decided too, and whether it decided otherwise.
  void RecordShadowEvaluation(bool disagreed);

  // --- Settlement ---

  // Accepted -> final (paid or declined) time of one refund.
  void ObserveSettlementLag(absl::Duration lag);
  // One payout attempt's result, e.g. ("sandbox", "succeeded"); results as
  // settlement::PayoutOutcomeName.
  void RecordSettlementResult(absl::string_view provider,
                              absl::string_view result);
  void SetOutboxPending(int64_t entries);
  void SetDeadLetters(int64_t entries);

  // --- Redis ---

  // A command accepted for sending.
  void CountRedisCommand();
  // A command completed after `latency` (submit -> reply); not `ok` counts
  // as an error of kind "command".
  void ObserveRedisCommand(absl::Duration latency, bool ok);
  // A command refused by the outstanding-command cap (kind "rejected").
  void CountRedisRejected();
  // A connection reset for a missed deadline (kind "timeout").
  void CountRedisTimeout();
  // A connection made ready (first or re-).
  void CountRedisConnect();
  // An EVALSHA that fell back to EVAL.
  void CountRedisNoscript();
  void SetRedisReadyConnections(int64_t connections);

  // --- Exposition ---

  // Runs `callback` before every scrape (on the scraping thread), e.g. to
  // set gauges from state owned elsewhere. It must be quick, must not block
  // on I/O and must not call AddScrapeCallback.
  void AddScrapeCallback(absl::AnyInvocable<void()> callback);

  // Runs the scrape callbacks and renders every family in the Prometheus text
  // format (version 0.0.4), as GET /metrics does.
  std::string Scrape() const;

  // For AdminServer: what prometheus::Exposer serves (scrape callbacks
  // included).
  std::weak_ptr<prometheus::Collectable> collectable() const;

 private:
  struct Families;
  class Exposition;

  std::unique_ptr<Families> families_;
  std::shared_ptr<Exposition> exposition_;
};

// Canonical upper-case name of a gRPC status code, e.g. 5 -> "NOT_FOUND";
// "UNKNOWN" outside 0-16.
absl::string_view GrpcCodeName(int code);

}  // namespace makegood::metrics
