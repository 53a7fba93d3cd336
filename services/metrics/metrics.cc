#include "services/metrics/metrics.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/hash/hash.h"
#include "absl/synchronization/mutex.h"
#include "prometheus/collectable.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"
#include "prometheus/text_serializer.h"

namespace makegood::metrics {
namespace {

using prometheus::Counter;
using prometheus::Family;
using prometheus::Gauge;
using prometheus::Histogram;

constexpr int kGrpcCodes = 17;
constexpr size_t kMaxLabelValueBytes = 100;
constexpr absl::string_view kOverflowValue = "other";

// gRPC handlers here answer in ~100 µs (policy) to a few ms (two Redis round
// trips); the upper buckets catch stalls up to the 5 s client deadlines.
const std::vector<double>& RpcBuckets() {
  static const auto* buckets = new std::vector<double>{
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,   0.1,     0.25,   0.5,   1,      2.5,   5};
  return *buckets;
}

// One Redis command: tens of µs on loopback, up to the 1 s command timeout.
const std::vector<double>& RedisBuckets() {
  static const auto* buckets = new std::vector<double>{
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
      0.01,    0.025,  0.05,    0.1,    0.25,  0.5,    1};
  return *buckets;
}

// Accepted -> final: a wallet credit settles in well under a second, a card
// refund in seconds, one waiting on an unknown provider answer in hours.
const std::vector<double>& SettlementBuckets() {
  static const auto* buckets = new std::vector<double>{
      0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400, 86400};
  return *buckets;
}

// Printable ASCII, at most kMaxLabelValueBytes: label values from callers
// (e.g. a gRPC method path) must not break the exposition format.
std::string SanitizeLabelValue(absl::string_view value) {
  std::string out(value.substr(0, kMaxLabelValueBytes));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '_';
  }
  return out;
}

template <size_t N>
using LabelValues = std::array<absl::string_view, N>;

template <size_t N>
LabelValues<N> ViewOf(const std::array<std::string, N>& values) {
  LabelValues<N> view;
  for (size_t i = 0; i < N; ++i) view[i] = values[i];
  return view;
}

// Hash and equality over label values, looked up as string_views without
// building the owning key.
template <size_t N>
struct LabelValuesHash {
  using is_transparent = void;
  size_t operator()(const LabelValues<N>& values) const {
    return absl::Hash<LabelValues<N>>{}(values);
  }
  size_t operator()(const std::array<std::string, N>& values) const {
    return (*this)(ViewOf(values));
  }
};

template <size_t N>
struct LabelValuesEq {
  using is_transparent = void;
  template <typename A, typename B>
  bool operator()(const A& a, const B& b) const {
    for (size_t i = 0; i < N; ++i) {
      if (absl::string_view(a[i]) != absl::string_view(b[i])) return false;
    }
    return true;
  }
};

// The counters of a family with N labels, cached by label values. Creating a
// series takes the write lock once; later calls take the shared lock.
template <size_t N>
class LabeledCounters {
 public:
  LabeledCounters(Family<Counter>& family, std::array<std::string, N> names)
      : family_(family), names_(std::move(names)) {}

  Counter& Get(const LabelValues<N>& values) {
    {
      absl::ReaderMutexLock lock(&mu_);
      if (auto it = series_.find(values); it != series_.end()) {
        return *it->second;
      }
    }
    absl::MutexLock lock(&mu_);
    if (auto it = series_.find(values); it != series_.end()) {
      return *it->second;
    }
    const bool overflow =
        series_.size() >= static_cast<size_t>(Metrics::kMaxSeriesPerFamily);
    prometheus::Labels labels;
    for (size_t i = 0; i < N; ++i) {
      labels[names_[i]] = overflow ? std::string(kOverflowValue)
                                   : SanitizeLabelValue(values[i]);
    }
    // Family::Add returns the existing series for equal labels (e.g. two
    // values that sanitise alike, or every overflowing set).
    Counter& counter = family_.Add(labels);
    if (!overflow) {
      std::array<std::string, N> key;
      for (size_t i = 0; i < N; ++i) key[i] = std::string(values[i]);
      series_.emplace(std::move(key), &counter);
    }
    return counter;
  }

 private:
  Family<Counter>& family_;
  const std::array<std::string, N> names_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::array<std::string, N>, Counter*, LabelValuesHash<N>,
                      LabelValuesEq<N>>
      series_ ABSL_GUARDED_BY(mu_);
};

const std::array<absl::string_view, kGrpcCodes> kGrpcCodeNames = {
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED"};

}  // namespace

absl::string_view GrpcCodeName(int code) {
  if (code < 0 || code >= kGrpcCodes) return kGrpcCodeNames[2];
  return kGrpcCodeNames[code];
}

class Metrics::RpcSeries {
 public:
  RpcSeries(Family<Counter>& requests, std::string method, Histogram& duration)
      : requests_(requests), method_(std::move(method)), duration_(duration) {}

  void Record(int code, double seconds) {
    if (code < 0 || code >= kGrpcCodes) code = 2;  // UNKNOWN
    Counter* counter = by_code_[code].load(std::memory_order_acquire);
    if (counter == nullptr) {
      // Racing callers get the same series: Family::Add is thread-safe and
      // returns the existing one for equal labels.
      counter = &requests_.Add(
          {{"method", method_}, {"code", std::string(GrpcCodeName(code))}});
      by_code_[code].store(counter, std::memory_order_release);
    }
    counter->Increment();
    duration_.Observe(seconds);
  }

 private:
  Family<Counter>& requests_;
  const std::string method_;  // Sanitised label value.
  Histogram& duration_;
  // Created on first use, so a method shows only the codes it returned.
  std::array<std::atomic<Counter*>, kGrpcCodes> by_code_{};
};

struct Metrics::Families {
  std::shared_ptr<prometheus::Registry> registry =
      std::make_shared<prometheus::Registry>();

  Family<Counter>& rpc_requests =
      prometheus::BuildCounter()
          .Name("makegood_rpc_requests_total")
          .Help("gRPC calls handled, by method and status code.")
          .Register(*registry);
  Family<Histogram>& rpc_duration =
      prometheus::BuildHistogram()
          .Name("makegood_rpc_duration_seconds")
          .Help("gRPC call latency in the server, call start to status sent.")
          .Register(*registry);
  Family<Counter>& decisions =
      prometheus::BuildCounter()
          .Name("makegood_decisions_total")
          .Help("Committed policy decisions, by outcome and policy version.")
          .Register(*registry);
  Family<Counter>& refund_amount =
      prometheus::BuildCounter()
          .Name("makegood_refund_amount_minor_total")
          .Help(
              "Value granted by committed decisions, in minor units of the "
              "currency (cents for EUR), by instrument and currency.")
          .Register(*registry);
  Family<Counter>& rate_limit =
      prometheus::BuildCounter()
          .Name("makegood_rate_limit_rejections_total")
          .Help("Calls refused by a rate limit, by method and scope.")
          .Register(*registry);
  Family<Counter>& rate_limit_shadow =
      prometheus::BuildCounter()
          .Name("makegood_rate_limit_shadow_rejections_total")
          .Help(
              "Calls a limit in shadow mode would have refused (and let "
              "through), by method and scope.")
          .Register(*registry);
  Family<Counter>& shadow_evaluations =
      prometheus::BuildCounter()
          .Name("makegood_shadow_policy_evaluations_total")
          .Help("Ratings the shadow policy decided beside the active one.")
          .Register(*registry);
  Family<Counter>& shadow_disagreements =
      prometheus::BuildCounter()
          .Name("makegood_shadow_policy_disagreements_total")
          .Help(
              "Ratings the shadow policy decided differently (outcome or "
              "money).")
          .Register(*registry);
  Family<Histogram>& settlement_lag =
      prometheus::BuildHistogram()
          .Name("makegood_settlement_lag_seconds")
          .Help("Time from a refund's acceptance to its final state.")
          .Register(*registry);
  Family<Counter>& settlement_results =
      prometheus::BuildCounter()
          .Name("makegood_settlement_results_total")
          .Help("Payout attempts, by provider and result.")
          .Register(*registry);
  Family<Gauge>& outbox_pending = prometheus::BuildGauge()
                                      .Name("makegood_outbox_pending")
                                      .Help("Outbox entries not yet settled.")
                                      .Register(*registry);
  Family<Gauge>& dead_letters =
      prometheus::BuildGauge()
          .Name("makegood_dead_letters")
          .Help("Outbox entries given up on, awaiting a person.")
          .Register(*registry);
  Family<Histogram>& redis_duration =
      prometheus::BuildHistogram()
          .Name("makegood_redis_command_duration_seconds")
          .Help("Redis command latency, submit to reply (any result).")
          .Register(*registry);
  Family<Counter>& redis_commands =
      prometheus::BuildCounter()
          .Name("makegood_redis_commands_total")
          .Help("Redis commands accepted for sending.")
          .Register(*registry);
  Family<Counter>& redis_errors =
      prometheus::BuildCounter()
          .Name("makegood_redis_errors_total")
          .Help(
              "Redis errors: kind=command (a command failed, for any "
              "reason), rejected (refused by the outstanding-command cap; "
              "also counts as command), timeout (a connection reset for a "
              "missed deadline; its commands also count as command).")
          .Register(*registry);
  Family<Counter>& redis_connects =
      prometheus::BuildCounter()
          .Name("makegood_redis_connects_total")
          .Help("Successful Redis connections, first and re-.")
          .Register(*registry);
  Family<Counter>& redis_noscript =
      prometheus::BuildCounter()
          .Name("makegood_redis_noscript_total")
          .Help("EVALSHA calls that fell back to EVAL (script cache lost).")
          .Register(*registry);
  Family<Gauge>& redis_ready = prometheus::BuildGauge()
                                   .Name("makegood_redis_connections_ready")
                                   .Help("Redis connections ready to send.")
                                   .Register(*registry);

  // Label-bound series, cached.
  LabeledCounters<2> decisions_by{decisions, {"outcome", "policy_version"}};
  LabeledCounters<2> refund_by{refund_amount, {"instrument", "currency"}};
  LabeledCounters<2> rate_limit_by{rate_limit, {"method", "scope"}};
  LabeledCounters<2> rate_limit_shadow_by{rate_limit_shadow,
                                          {"method", "scope"}};
  LabeledCounters<2> settlement_by{settlement_results, {"provider", "result"}};

  // Unlabelled series, created once.
  Counter& shadow_evaluated = shadow_evaluations.Add({});
  Counter& shadow_disagreed = shadow_disagreements.Add({});
  Histogram& settlement_lag_all = settlement_lag.Add({}, SettlementBuckets());
  Gauge& outbox = outbox_pending.Add({});
  Gauge& dead = dead_letters.Add({});
  Histogram& redis_latency = redis_duration.Add({}, RedisBuckets());
  Counter& redis_commands_all = redis_commands.Add({});
  Counter& redis_command_errors = redis_errors.Add({{"kind", "command"}});
  Counter& redis_rejected = redis_errors.Add({{"kind", "rejected"}});
  Counter& redis_timeouts = redis_errors.Add({{"kind", "timeout"}});
  Counter& redis_connects_all = redis_connects.Add({});
  Counter& redis_noscript_all = redis_noscript.Add({});
  Gauge& redis_ready_all = redis_ready.Add({});

  absl::Mutex rpc_mu;
  absl::flat_hash_map<std::string, std::unique_ptr<RpcSeries>> rpc_series
      ABSL_GUARDED_BY(rpc_mu);
};

// What the Exposer collects: the scrape callbacks, then the registry.
class Metrics::Exposition final : public prometheus::Collectable {
 public:
  explicit Exposition(std::shared_ptr<prometheus::Registry> registry)
      : registry_(std::move(registry)) {}

  std::vector<prometheus::MetricFamily> Collect() const override {
    {
      absl::MutexLock lock(&mu_);
      for (absl::AnyInvocable<void()>& callback : callbacks_) callback();
    }
    return registry_->Collect();
  }

  void Add(absl::AnyInvocable<void()> callback) {
    absl::MutexLock lock(&mu_);
    callbacks_.push_back(std::move(callback));
  }

 private:
  const std::shared_ptr<prometheus::Registry> registry_;
  mutable absl::Mutex mu_;
  mutable std::vector<absl::AnyInvocable<void()>> callbacks_
      ABSL_GUARDED_BY(mu_);
};

Metrics::Metrics()
    : families_(std::make_unique<Families>()),
      exposition_(std::make_shared<Exposition>(families_->registry)) {}

Metrics::~Metrics() = default;

Metrics::RpcSeries* Metrics::FindRpcMethod(absl::string_view method) const {
  absl::ReaderMutexLock lock(&families_->rpc_mu);
  auto it = families_->rpc_series.find(method);
  return it == families_->rpc_series.end() ? nullptr : it->second.get();
}

Metrics::RpcSeries* Metrics::RpcMethod(absl::string_view method) {
  if (RpcSeries* series = FindRpcMethod(method); series != nullptr) {
    return series;
  }
  Families& f = *families_;
  absl::MutexLock lock(&f.rpc_mu);
  if (f.rpc_series.size() >= static_cast<size_t>(kMaxSeriesPerFamily)) {
    method = kOverflowValue;
  }
  std::unique_ptr<RpcSeries>& series = f.rpc_series[method];
  if (series == nullptr) {
    std::string label = SanitizeLabelValue(method);
    Histogram& duration = f.rpc_duration.Add({{"method", label}}, RpcBuckets());
    series =
        std::make_unique<RpcSeries>(f.rpc_requests, std::move(label), duration);
  }
  return series.get();
}

void Metrics::RecordRpc(RpcSeries* series, int code, absl::Duration latency) {
  series->Record(code, absl::ToDoubleSeconds(latency));
}

void Metrics::RecordRpc(absl::string_view method, int code,
                        absl::Duration latency) {
  RecordRpc(RpcMethod(method), code, latency);
}

void Metrics::RecordDecision(absl::string_view outcome,
                             absl::string_view policy_version) {
  families_->decisions_by.Get({outcome, policy_version}).Increment();
}

void Metrics::RecordRefund(absl::string_view instrument,
                           absl::string_view currency, int64_t amount_minor) {
  if (amount_minor <= 0) return;
  families_->refund_by.Get({instrument, currency})
      .Increment(static_cast<double>(amount_minor));
}

void Metrics::RecordRateLimitRejection(absl::string_view method,
                                       absl::string_view scope) {
  families_->rate_limit_by.Get({method, scope}).Increment();
}

void Metrics::RecordRateLimitShadowRejection(absl::string_view method,
                                             absl::string_view scope) {
  families_->rate_limit_shadow_by.Get({method, scope}).Increment();
}

void Metrics::RecordShadowEvaluation(bool disagreed) {
  families_->shadow_evaluated.Increment();
  if (disagreed) families_->shadow_disagreed.Increment();
}

void Metrics::ObserveSettlementLag(absl::Duration lag) {
  families_->settlement_lag_all.Observe(absl::ToDoubleSeconds(lag));
}

void Metrics::RecordSettlementResult(absl::string_view provider,
                                     absl::string_view result) {
  families_->settlement_by.Get({provider, result}).Increment();
}

void Metrics::SetOutboxPending(int64_t entries) {
  families_->outbox.Set(static_cast<double>(entries));
}

void Metrics::SetDeadLetters(int64_t entries) {
  families_->dead.Set(static_cast<double>(entries));
}

void Metrics::CountRedisCommand() { families_->redis_commands_all.Increment(); }

void Metrics::ObserveRedisCommand(absl::Duration latency, bool ok) {
  families_->redis_latency.Observe(absl::ToDoubleSeconds(latency));
  if (!ok) families_->redis_command_errors.Increment();
}

void Metrics::CountRedisRejected() { families_->redis_rejected.Increment(); }

void Metrics::CountRedisTimeout() { families_->redis_timeouts.Increment(); }

void Metrics::CountRedisConnect() { families_->redis_connects_all.Increment(); }

void Metrics::CountRedisNoscript() {
  families_->redis_noscript_all.Increment();
}

void Metrics::SetRedisReadyConnections(int64_t connections) {
  families_->redis_ready_all.Set(static_cast<double>(connections));
}

void Metrics::AddScrapeCallback(absl::AnyInvocable<void()> callback) {
  exposition_->Add(std::move(callback));
}

std::string Metrics::Scrape() const {
  return prometheus::TextSerializer().Serialize(exposition_->Collect());
}

std::weak_ptr<prometheus::Collectable> Metrics::collectable() const {
  return exposition_;
}

}  // namespace makegood::metrics
