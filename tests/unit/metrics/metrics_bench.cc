// Google Benchmark of the per-call cost of metrics on the request path: the
// RPC interceptor as the server runs it (create, status, destroy) and the
// typed Record* calls. Not a test: run it by hand,
//   build/tests/unit/metrics/metrics_bench --benchmark_min_time=0.5
// and compare with a SubmitRating's budget (~200 µs of CPU at 5 000 calls/s
// on one core).
#include <chrono>
#include <memory>
#include <string>

#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "grpcpp/support/status.h"
#include "makegood/v1/rating_service.pb.h"
#include "services/metrics/metrics.h"
#include "services/metrics/rpc_metrics.h"
#include "tests/unit/metrics/fake_interceptor_batch.h"

namespace makegood::metrics {
namespace {

using ::grpc::experimental::InterceptionHookPoints;

// Links makegood.v1's descriptors, so kMethod is a known method, as in the
// server.
const auto* const kRatingServiceDescriptor =
    makegood::v1::SubmitRatingRequest::descriptor();

constexpr char kMethod[] = "/makegood.v1.RatingService/SubmitRating";

// Shared by the threads of a multi-threaded run, like the server's Metrics.
Metrics& SharedMetrics() {
  static Metrics* metrics = new Metrics();
  return *metrics;
}

// What the interceptor adds to one unary call of `method`: creation (series
// lookup, clock read), the hook points a unary call passes through, the
// status (clock read, counter, histogram) and destruction.
void RunInterceptorPerCall(benchmark::State& state, const char* method) {
  Metrics& metrics = SharedMetrics();
  RpcMetricsFactory factory(metrics);
  FakeInterceptorBatch other(InterceptionHookPoints::POST_RECV_MESSAGE,
                             grpc::Status::OK);
  FakeInterceptorBatch status(InterceptionHookPoints::PRE_SEND_STATUS,
                              grpc::Status::OK);
  for (auto _ : state) {
    std::unique_ptr<grpc::experimental::Interceptor> interceptor =
        factory.CreateInterceptor(method);
    // A unary call runs the interceptor for about six batches.
    for (int i = 0; i < 5; ++i) interceptor->Intercept(&other);
    interceptor->Intercept(&status);
    benchmark::DoNotOptimize(interceptor.get());
  }
}

void BM_InterceptorPerCall(benchmark::State& state) {
  RunInterceptorPerCall(state, kMethod);
}
BENCHMARK(BM_InterceptorPerCall);
BENCHMARK(BM_InterceptorPerCall)->Threads(2);

// A path no service has (a scanner): it looks the descriptor pool up every
// time, by design never cached.
void BM_InterceptorPerCallUnknownMethod(benchmark::State& state) {
  RunInterceptorPerCall(state, "/no.such.Service/Method");
}
BENCHMARK(BM_InterceptorPerCallUnknownMethod);

void BM_RecordRpcResolvedSeries(benchmark::State& state) {
  Metrics& metrics = SharedMetrics();
  Metrics::RpcSeries* series = metrics.RpcMethod(kMethod);
  for (auto _ : state) {
    metrics.RecordRpc(series, 0, absl::Microseconds(250));
  }
}
BENCHMARK(BM_RecordRpcResolvedSeries);

void BM_RecordDecision(benchmark::State& state) {
  Metrics& metrics = SharedMetrics();
  for (auto _ : state) metrics.RecordDecision("wallet_credit", "v3");
}
BENCHMARK(BM_RecordDecision);
BENCHMARK(BM_RecordDecision)->Threads(2);

void BM_RecordRefund(benchmark::State& state) {
  Metrics& metrics = SharedMetrics();
  for (auto _ : state) metrics.RecordRefund("wallet", "EUR", 1250);
}
BENCHMARK(BM_RecordRefund);

void BM_ObserveRedisCommand(benchmark::State& state) {
  Metrics& metrics = SharedMetrics();
  for (auto _ : state)
    metrics.ObserveRedisCommand(absl::Microseconds(90), true);
}
BENCHMARK(BM_ObserveRedisCommand);

// A scrape with a realistic number of series (40 methods x 3 codes).
void BM_Scrape(benchmark::State& state) {
  Metrics metrics;
  for (int m = 0; m < 40; ++m) {
    std::string method = "/makegood.v1.S/M" + std::to_string(m);
    for (int code : {0, 5, 14}) {
      metrics.RecordRpc(method, code, absl::Microseconds(300));
    }
  }
  for (auto _ : state) benchmark::DoNotOptimize(metrics.Scrape());
}
BENCHMARK(BM_Scrape);

// The parts of a call's cost: the series lookup and one steady clock read.
void BM_FindRpcMethod(benchmark::State& state) {
  Metrics& metrics = SharedMetrics();
  metrics.RpcMethod(kMethod);
  for (auto _ : state) benchmark::DoNotOptimize(metrics.FindRpcMethod(kMethod));
}
BENCHMARK(BM_FindRpcMethod);

void BM_SteadyClock(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(std::chrono::steady_clock::now());
  }
}
BENCHMARK(BM_SteadyClock);

}  // namespace
}  // namespace makegood::metrics

BENCHMARK_MAIN();
