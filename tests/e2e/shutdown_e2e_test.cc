// SIGTERM under load fails no in-flight call: the built makegood binary is
// sent SIGTERM while calls are held inside it (Redis paused with CLIENT PAUSE,
// so they are provably in flight) and while an open-loop load keeps arriving.
// Every held call must complete OK after the pause; calls arriving after the
// signal may only be refused cleanly (UNAVAILABLE, safe to retry), and the
// process exits 0 within its grace period.
#include <signal.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/redis/hiredis_client.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/makegood_process.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::RedisServer;
using ::makegood::testing::Subprocess;

const std::string kBinary = MAKEGOOD_BINARY;
const std::string kPolicy =
    std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";

constexpr int kHeld = 40;

class ShutdownE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    redis::RedisOptions options;
    ASSERT_TRUE(redis::ParseRedisUrl(redis_->url(), &options).ok());
    auto client = redis::HiredisClient::Start(options);
    ASSERT_TRUE(client.ok());
    client_ = *std::move(client);
    auto server = testing::StartMakegood(
        {kBinary, "--listen=127.0.0.1:0", "--redis=" + redis_->url(),
         "--policy=" + kPolicy, "--insecure_dev", "--redis_timeout=5s",
         "--shutdown_grace=10s", "--health_interval=50ms",
         "--rate_limits=SubmitRating.member=off,SubmitRating.client=off"});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server->process);
    port_ = server->port;
    stubs_ = testing::ConnectStubs(port_);
    ASSERT_TRUE(testing::WaitServing(*stubs_.health));
  }

  void Seed(int i) {
    const std::string member = absl::StrCat("m-", i);
    v1::UpsertMemberRequest upsert;
    upsert.mutable_member()->set_member_id(member);
    upsert.mutable_member()->set_tier("premium");
    upsert.mutable_member()->mutable_member_since()->set_seconds(1609459200);
    grpc::ClientContext c1;
    v1::UpsertMemberResponse r1;
    ASSERT_TRUE(stubs_.members->UpsertMember(&c1, upsert, &r1).ok());
    v1::RecordDeliveryRequest record;
    *record.mutable_order() = testing::AppHarness::SampleOrder(
        member, absl::StrCat("o-", i), absl::Now() - absl::Hours(1));
    grpc::ClientContext c2;
    v1::RecordDeliveryResponse r2;
    ASSERT_TRUE(stubs_.orders->RecordDelivery(&c2, record, &r2).ok());
  }

  grpc::Status Rate(int i, const std::string& key) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    v1::SubmitRatingResponse response;
    return stubs_.ratings->SubmitRating(
        &context,
        testing::MeltedRating(key, absl::StrCat("m-", i),
                              absl::StrCat("o-", i)),
        &response);
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<redis::RedisClient> client_;
  std::unique_ptr<Subprocess> server_;
  testing::Stubs stubs_;
  int port_ = 0;
};

TEST_F(ShutdownE2eTest, SigtermUnderLoadFailsNoInFlightCall) {
  for (int i = 0; i < kHeld; ++i) Seed(i);

  // Redis stops answering for 1.5 s: every rating sent now is held inside
  // the server, waiting for its admit script.
  ASSERT_TRUE(client_->CommandSync({"CLIENT", "PAUSE", "1500", "ALL"}).ok());
  std::vector<grpc::Status> held(kHeld);
  std::vector<std::thread> callers;
  for (int i = 0; i < kHeld; ++i) {
    callers.emplace_back([&, i] { held[i] = Rate(i, "held"); });
  }
  // And an open-loop load that keeps arriving through the shutdown.
  std::atomic<bool> stop{false};
  absl::Mutex mu;
  std::vector<grpc::StatusCode> late;
  std::thread load([&] {
    for (int n = 0; !stop.load(); ++n) {
      grpc::Status s = Rate(n % kHeld, absl::StrCat("late-", n));
      absl::MutexLock lock(&mu);
      late.push_back(s.error_code());
      absl::SleepFor(absl::Milliseconds(5));
    }
  });
  absl::SleepFor(absl::Milliseconds(400));  // The held calls are in.
  server_->Signal(SIGTERM);

  for (auto& t : callers) t.join();
  auto exit_code = server_->Wait(absl::Seconds(15));
  stop.store(true);
  load.join();

  for (int i = 0; i < kHeld; ++i) {
    EXPECT_TRUE(held[i].ok())
        << "held call " << i << ": " << held[i].error_code() << " "
        << held[i].error_message();
  }
  ASSERT_TRUE(exit_code.ok()) << exit_code.status();
  EXPECT_EQ(*exit_code, 0);
  absl::MutexLock lock(&mu);
  for (grpc::StatusCode code : late) {
    EXPECT_THAT(code, ::testing::AnyOf(grpc::StatusCode::OK,
                                       grpc::StatusCode::UNAVAILABLE))
        << "a call arriving during shutdown must be served or refused "
           "cleanly";
  }
  // The held ratings were committed: one refund each.
  auto keys = client_->CommandSync({"KEYS", "mg:*:refunds:m:*"});
  ASSERT_TRUE(keys.ok());
  EXPECT_GE(keys->elements.size(), static_cast<size_t>(kHeld));
}

}  // namespace
}  // namespace makegood
