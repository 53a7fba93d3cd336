// The assembled server (App) in-process, with a real Redis, called over
// loopback gRPC with the generated client stubs.
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "makegood/v1/member_service.grpc.pb.h"
#include "makegood/v1/order_service.grpc.pb.h"
#include "makegood/v1/policy_service.grpc.pb.h"
#include "services/redis/hiredis_client.h"
#include "services/server/app.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/grpc_status.h"
#include "tests/testing/redis_server.h"

namespace makegood {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::grpc::health::v1::HealthCheckResponse;
using ::makegood::testing::FakeClock;
using ::makegood::testing::FieldViolations;
using ::makegood::testing::RedisServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

constexpr int64_t kNowSeconds = 1795000100;  // 2026-11-19.

v1::Order SampleOrder() {
  v1::Order order;
  order.set_order_id("o-1");
  order.set_member_id("m-1");
  order.set_store_id("s-1");
  order.set_currency("EUR");
  order.set_total_minor(2500);
  order.set_delivery_fee_minor(300);
  auto* line = order.add_lines();
  line->set_line_id("l1");
  line->set_sku("ICE");
  line->set_quantity(1);
  line->set_amount_minor(800);
  *order.mutable_delivered_at() =
      TimeUtil::SecondsToTimestamp(kNowSeconds - 60);
  order.set_payment_method(v1::PAYMENT_METHOD_CARD);
  return order;
}

class GrpcApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    config_.listen = "127.0.0.1:0";
    config_.insecure_dev = true;
    config_.auth.insecure_dev = true;
    ASSERT_TRUE(redis::ParseRedisUrl(redis_->url(), &config_.redis).ok());
    config_.redis.command_timeout = absl::Seconds(2);
    config_.policy_path =
        std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";
    config_.health_interval = absl::Milliseconds(20);
    config_.shutdown_grace = absl::Seconds(10);
  }

  void StartApp() {
    auto app = server::App::Start(config_, clock_);
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->port()),
                                   grpc::InsecureChannelCredentials());
    orders_ = v1::OrderService::NewStub(channel_);
    members_ = v1::MemberService::NewStub(channel_);
    health_ = grpc::health::v1::Health::NewStub(channel_);
    ASSERT_TRUE(WaitForHealth(HealthCheckResponse::SERVING));
  }

  // Follows the health Watch stream until it reports `want`.
  bool WaitForHealth(HealthCheckResponse::ServingStatus want) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    auto reader = health_->Watch(&context, {});
    HealthCheckResponse response;
    while (reader->Read(&response)) {
      if (response.status() == want) {
        context.TryCancel();
        reader->Finish().IgnoreError();
        return true;
      }
    }
    return false;
  }

  // Follows the health Watch stream for `window` and says whether it ever
  // reported SERVING (the service starts NOT_SERVING before the first check,
  // so "not serving" is only meaningful over many check intervals).
  bool EverServing(absl::Duration window) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + window));
    auto reader = health_->Watch(&context, {});
    HealthCheckResponse response;
    while (reader->Read(&response)) {
      if (response.status() == HealthCheckResponse::SERVING) return true;
    }
    return false;
  }

  grpc::Status Record(const v1::Order& order,
                      v1::RecordDeliveryResponse* response = nullptr) {
    grpc::ClientContext context;
    v1::RecordDeliveryRequest request;
    *request.mutable_order() = order;
    v1::RecordDeliveryResponse ignored;
    return orders_->RecordDelivery(&context, request,
                                   response != nullptr ? response : &ignored);
  }

  int64_t RedisKeys() {
    redis::RedisOptions options;
    EXPECT_TRUE(redis::ParseRedisUrl(redis_->url(), &options).ok());
    auto client = redis::HiredisClient::Start(options);
    absl::Time deadline = absl::Now() + absl::Seconds(5);
    while ((*client)->ready_connections() == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    auto reply = (*client)->CommandSync({"DBSIZE"});
    return reply.ok() ? reply->integer : -1;
  }

  FakeClock clock_{absl::FromUnixSeconds(kNowSeconds)};
  server::ServerConfig config_;
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<server::App> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OrderService::Stub> orders_;
  std::unique_ptr<v1::MemberService::Stub> members_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(GrpcApiTest, RecordDeliveryStoresTheOrderAndRepeatsAreUnchanged) {
  StartApp();
  v1::RecordDeliveryResponse first, second;
  ASSERT_TRUE(Record(SampleOrder(), &first).ok());
  EXPECT_EQ(first.result(), v1::WRITE_RESULT_CREATED);
  EXPECT_EQ(first.order().order_id(), "o-1");
  ASSERT_TRUE(Record(SampleOrder(), &second).ok());
  EXPECT_EQ(second.result(), v1::WRITE_RESULT_UNCHANGED);

  grpc::ClientContext context;
  v1::GetOrderRequest get;
  get.set_order_id("o-1");
  v1::GetOrderResponse got;
  ASSERT_TRUE(orders_->GetOrder(&context, get, &got).ok());
  EXPECT_EQ(got.order().total_minor(), 2500);
  EXPECT_FALSE(got.rated());
}

TEST_F(GrpcApiTest, BadOrderIsRefusedFieldByFieldAndNothingIsStored) {
  StartApp();
  int64_t keys_before = RedisKeys();
  v1::Order order = SampleOrder();
  order.set_currency("euro");
  order.mutable_lines(0)->set_quantity(0);
  order.set_delivery_fee_minor(-1);
  grpc::Status status = Record(order);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("order.currency"));
  auto violations = FieldViolations(status);
  std::vector<std::string> fields;
  for (const auto& [field, description] : violations) fields.push_back(field);
  EXPECT_THAT(fields,
              UnorderedElementsAre("order.currency", "order.lines[0].quantity",
                                   "order.delivery_fee_minor"));
  EXPECT_EQ(RedisKeys(), keys_before);
}

TEST_F(GrpcApiTest, MissingOrderIsInvalidArgument) {
  StartApp();
  grpc::ClientContext context;
  v1::RecordDeliveryResponse response;
  grpc::Status status = orders_->RecordDelivery(&context, {}, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(FieldViolations(status),
              ElementsAre(Pair("order", "is required")));
}

TEST_F(GrpcApiTest, OrderMovedToAnotherMemberIsFailedPrecondition) {
  StartApp();
  ASSERT_TRUE(Record(SampleOrder()).ok());
  v1::Order moved = SampleOrder();
  moved.set_member_id("m-2");
  EXPECT_EQ(Record(moved).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(GrpcApiTest, UpsertMemberChecksTheTierAgainstTheActivePolicy) {
  StartApp();
  int64_t keys_before = RedisKeys();
  v1::UpsertMemberRequest request;
  auto* member = request.mutable_member();
  member->set_member_id("m-1");
  member->set_tier("gold");
  *member->mutable_member_since() = TimeUtil::SecondsToTimestamp(1700000000);
  {
    grpc::ClientContext context;
    v1::UpsertMemberResponse response;
    grpc::Status status = members_->UpsertMember(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    auto violations = FieldViolations(status);
    ASSERT_EQ(violations.size(), 1u);
    EXPECT_EQ(violations[0].first, "member.tier");
    EXPECT_THAT(violations[0].second, HasSubstr("basic, plus, premium"));
    EXPECT_EQ(RedisKeys(), keys_before);
  }
  member->set_tier("premium");
  for (auto want : {v1::WRITE_RESULT_CREATED, v1::WRITE_RESULT_UNCHANGED}) {
    grpc::ClientContext context;
    v1::UpsertMemberResponse response;
    ASSERT_TRUE(members_->UpsertMember(&context, request, &response).ok());
    EXPECT_EQ(response.result(), want);
  }
  grpc::ClientContext context;
  v1::GetMemberRequest get;
  get.set_member_id("m-1");
  v1::GetMemberResponse got;
  ASSERT_TRUE(members_->GetMember(&context, get, &got).ok());
  EXPECT_EQ(got.member().tier(), "premium");
}

TEST_F(GrpcApiTest, HealthFollowsRedisDownAndBackUp) {
  StartApp();
  ASSERT_TRUE(redis_->Stop().ok());
  EXPECT_TRUE(WaitForHealth(HealthCheckResponse::NOT_SERVING));
  grpc::Status down = Record(SampleOrder());
  EXPECT_EQ(down.error_code(), grpc::StatusCode::UNAVAILABLE);
  ASSERT_TRUE(redis_->Restart().ok());
  EXPECT_TRUE(WaitForHealth(HealthCheckResponse::SERVING));
  EXPECT_TRUE(Record(SampleOrder()).ok());
}

TEST_F(GrpcApiTest, RefusesToServeARedisPartitionedDifferently) {
  // The first server records 32 partitions and serves (the control).
  config_.partitions = 32;
  StartApp();  // Waits for SERVING.
  app_.reset();
  // A server configured with 64 never serves that Redis: across 50 health
  // checks (20 ms apart) the stream never says SERVING.
  config_.partitions = 64;
  auto app = server::App::Start(config_, clock_);
  ASSERT_TRUE(app.ok());
  app_ = *std::move(app);
  channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(app_->port()),
                                 grpc::InsecureChannelCredentials());
  health_ = grpc::health::v1::Health::NewStub(channel_);
  EXPECT_FALSE(EverServing(absl::Seconds(1)));
}

TEST_F(GrpcApiTest, OversizedMessageIsRefusedByTransport) {
  config_.max_message_bytes = 64 * 1024;
  StartApp();
  v1::Order order = SampleOrder();
  order.mutable_lines(0)->set_sku(std::string(100 * 1024, 'x'));
  EXPECT_EQ(Record(order).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_F(GrpcApiTest, ShutdownFinishesInFlightCallsAndRefusesNewOnes) {
  StartApp();
  redis_->Pause();  // Calls now wait on Redis: they are in flight.
  constexpr int kCalls = 10;
  std::vector<grpc::Status> results(kCalls);
  absl::BlockingCounter started(kCalls);
  std::vector<std::thread> callers;
  for (int i = 0; i < kCalls; ++i) {
    callers.emplace_back([&, i] {
      v1::Order order = SampleOrder();
      order.set_order_id("o-" + std::to_string(100 + i));
      started.DecrementCount();
      results[i] = Record(order);
    });
  }
  started.Wait();
  absl::SleepFor(absl::Milliseconds(200));  // Let the calls reach the server.
  std::thread stopper([&] { app_->Shutdown(); });
  absl::SleepFor(absl::Milliseconds(200));  // Shutdown has begun.
  grpc::Status late = Record(SampleOrder());
  redis_->Resume();
  for (auto& t : callers) t.join();
  stopper.join();
  EXPECT_FALSE(late.ok());
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_TRUE(results[i].ok()) << i << ": " << results[i].error_message();
  }
}

}  // namespace
}  // namespace makegood
