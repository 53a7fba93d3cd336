#include "services/metrics/rpc_metrics.h"

#include <chrono>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/descriptor.h"

namespace makegood::metrics {
namespace {

using grpc::experimental::InterceptionHookPoints;

constexpr absl::string_view kUnknownMethod = "unknown";

class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(Metrics& metrics, Metrics::RpcSeries* series)
      : metrics_(metrics),
        series_(series),
        // Latency is a transport measure: the monotonic clock, not Clock.
        start_(std::chrono::steady_clock::now()) {}

  ~RpcMetricsInterceptor() override {
    if (!recorded_) Record(grpc::StatusCode::CANCELLED);
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    if (!recorded_ && methods->QueryInterceptionHookPoint(
                          InterceptionHookPoints::PRE_SEND_STATUS)) {
      Record(methods->GetSendStatus().error_code());
    }
    methods->Proceed();
  }

 private:
  void Record(grpc::StatusCode code) {
    recorded_ = true;
    metrics_.RecordRpc(
        series_, static_cast<int>(code),
        absl::FromChrono(std::chrono::steady_clock::now() - start_));
  }

  Metrics& metrics_;
  Metrics::RpcSeries* const series_;
  const std::chrono::steady_clock::time_point start_;
  bool recorded_ = false;
};

}  // namespace

bool IsKnownGrpcMethod(absl::string_view path) {
  if (path.size() < 4 || path.front() != '/') return false;
  size_t slash = path.rfind('/');
  if (slash <= 1 || slash + 1 == path.size()) return false;
  std::string full_name =
      absl::StrCat(path.substr(1, slash - 1), ".", path.substr(slash + 1));
  return google::protobuf::DescriptorPool::generated_pool()->FindMethodByName(
             full_name) != nullptr;
}

std::unique_ptr<grpc::experimental::Interceptor>
RpcMetricsFactory::CreateInterceptor(absl::string_view method) {
  // Known methods are found on the first lookup; only unknown paths pay for
  // the descriptor pool lookup, every time (they are never cached).
  Metrics::RpcSeries* series = metrics_.FindRpcMethod(method);
  if (series == nullptr) {
    series =
        metrics_.RpcMethod(IsKnownGrpcMethod(method) ? method : kUnknownMethod);
  }
  return std::make_unique<RpcMetricsInterceptor>(metrics_, series);
}

grpc::experimental::Interceptor* RpcMetricsFactory::CreateServerInterceptor(
    grpc::experimental::ServerRpcInfo* info) {
  return CreateInterceptor(info->method() != nullptr ? info->method() : "")
      .release();
}

}  // namespace makegood::metrics
