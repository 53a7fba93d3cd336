#include "services/metrics/rpc_metrics.h"

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "gtest/gtest.h"
#include "makegood/v1/goodwill_service.grpc.pb.h"
#include "services/metrics/metrics.h"
#include "tests/unit/metrics/fake_interceptor_batch.h"
#include "tests/unit/metrics/http_get.h"

namespace makegood::metrics {
namespace {

using ::grpc::experimental::InterceptionHookPoints;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

constexpr char kCheck[] = "/grpc.health.v1.Health/Check";

// An in-process gRPC server with grpc++'s health service, a generated
// service whose methods all answer UNIMPLEMENTED, and the metrics
// interceptor, on a free loopback port.
class RpcMetricsServer : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(std::make_unique<RpcMetricsFactory>(metrics_));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
    builder.RegisterService(&goodwill_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                   grpc::InsecureChannelCredentials());
    health_ = grpc::health::v1::Health::NewStub(channel_);
  }

  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
  }

  grpc::Status Check(const std::string& service) {
    grpc::ClientContext context;
    grpc::health::v1::HealthCheckRequest request;
    request.set_service(service);
    grpc::health::v1::HealthCheckResponse response;
    return health_->Check(&context, request, &response);
  }

  Metrics metrics_;
  makegood::v1::GoodwillService::CallbackService goodwill_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(RpcMetricsServer, CountsCallsByMethodAndStatusCode) {
  // "" is the server's overall health (SERVING); an unknown service name is
  // NOT_FOUND.
  ASSERT_TRUE(Check("").ok());
  ASSERT_TRUE(Check("").ok());
  ASSERT_EQ(Check("no.such.Service").error_code(), grpc::StatusCode::NOT_FOUND);

  {
    grpc::ClientContext context;
    makegood::v1::GrantGoodwillRequest request;
    makegood::v1::GrantGoodwillResponse response;
    ASSERT_EQ(makegood::v1::GoodwillService::NewStub(channel_)
                  ->GrantGoodwill(&context, request, &response)
                  .error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }

  // No waiting: a call is counted before its status reaches the client.
  std::vector<std::string> samples = SampleLines(metrics_.Scrape());
  EXPECT_THAT(
      samples,
      IsSupersetOf({
          R"(makegood_rpc_requests_total{code="UNIMPLEMENTED",method="/makegood.v1.GoodwillService/GrantGoodwill"} 1)",
          R"(makegood_rpc_requests_total{code="OK",method="/grpc.health.v1.Health/Check"} 2)",
          R"(makegood_rpc_requests_total{code="NOT_FOUND",method="/grpc.health.v1.Health/Check"} 1)",
          R"(makegood_rpc_duration_seconds_count{method="/grpc.health.v1.Health/Check"} 3)",
          R"(makegood_rpc_duration_seconds_bucket{method="/grpc.health.v1.Health/Check",le="+Inf"} 3)",
      }));
  // In-process calls take well under 5 s.
  EXPECT_THAT(
      samples,
      Contains(
          R"(makegood_rpc_duration_seconds_bucket{method="/grpc.health.v1.Health/Check",le="5"} 3)"));
}

// A path the server does not serve must not become a label value: a client
// could otherwise create series at will.
TEST_F(RpcMetricsServer, CountsUnknownMethodsUnderOneLabel) {
  grpc::GenericStub stub(channel_);
  for (const char* path : {"/no.such.Service/Nope", "/x.Y/Z"}) {
    grpc::ClientContext context;
    grpc::Slice empty("");
    grpc::ByteBuffer request(&empty, 1);  // An empty message.
    grpc::ByteBuffer response;
    grpc::Status status;
    absl::Notification done;
    stub.UnaryCall(&context, path, grpc::StubOptions(), &request, &response,
                   [&](grpc::Status s) {
                     status = std::move(s);
                     done.Notify();
                   });
    done.WaitForNotification();
    ASSERT_EQ(status.error_code(), grpc::StatusCode::UNIMPLEMENTED) << path;
  }

  std::vector<std::string> samples = SampleLines(metrics_.Scrape());
  EXPECT_THAT(
      samples,
      Contains(
          R"(makegood_rpc_requests_total{code="UNIMPLEMENTED",method="unknown"} 2)"));
  for (const std::string& line : samples) {
    EXPECT_THAT(line, Not(HasSubstr("no.such.Service")));
  }
}

TEST(RpcMetricsFactory, CountsTheStatusSentOnce) {
  Metrics metrics;
  RpcMetricsFactory factory(metrics);
  std::unique_ptr<grpc::experimental::Interceptor> interceptor =
      factory.CreateInterceptor(kCheck);
  FakeInterceptorBatch receive(InterceptionHookPoints::POST_RECV_MESSAGE,
                               grpc::Status::OK);
  FakeInterceptorBatch send_status(
      InterceptionHookPoints::PRE_SEND_STATUS,
      grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "no"));

  interceptor->Intercept(&receive);
  interceptor->Intercept(&send_status);
  interceptor.reset();  // The call is torn down after its status.

  EXPECT_EQ(receive.proceeded(), 1);
  EXPECT_EQ(send_status.proceeded(), 1);
  std::vector<std::string> samples = SampleLines(metrics.Scrape());
  EXPECT_THAT(
      samples,
      IsSupersetOf({
          R"(makegood_rpc_requests_total{code="PERMISSION_DENIED",method="/grpc.health.v1.Health/Check"} 1)",
          R"(makegood_rpc_duration_seconds_count{method="/grpc.health.v1.Health/Check"} 1)",
      }));
  EXPECT_THAT(
      samples,
      Not(Contains(
          R"(makegood_rpc_requests_total{code="CANCELLED",method="/grpc.health.v1.Health/Check"} 1)")));
}

TEST(RpcMetricsFactory, CountsACallEndingWithoutStatusAsCancelled) {
  Metrics metrics;
  RpcMetricsFactory factory(metrics);

  factory.CreateInterceptor(kCheck).reset();

  EXPECT_THAT(
      SampleLines(metrics.Scrape()),
      Contains(
          R"(makegood_rpc_requests_total{code="CANCELLED",method="/grpc.health.v1.Health/Check"} 1)"));
}

TEST(IsKnownGrpcMethod, AcceptsOnlyMethodsInTheDescriptorPool) {
  EXPECT_TRUE(IsKnownGrpcMethod(kCheck));
  EXPECT_TRUE(IsKnownGrpcMethod("/grpc.health.v1.Health/Watch"));
  EXPECT_FALSE(IsKnownGrpcMethod("/grpc.health.v1.Health/Nope"));
  EXPECT_FALSE(IsKnownGrpcMethod("/grpc.health.v1.Nope/Check"));
  EXPECT_FALSE(IsKnownGrpcMethod("grpc.health.v1.Health/Check"));
  EXPECT_FALSE(IsKnownGrpcMethod("/grpc.health.v1.Health/"));
  EXPECT_FALSE(IsKnownGrpcMethod("/Check"));
  EXPECT_FALSE(IsKnownGrpcMethod(""));
}

}  // namespace
}  // namespace makegood::metrics
