// File: tests/testing/app_harness.h
//
// An in-process makegood (server::App) over a real redis-server, with client
// stubs on a loopback channel and helpers to seed members and orders and to
// inspect Redis. For integration tests of the gRPC API.
//
// Thread-safety: stubs are thread-safe; the harness itself is used from the
// test thread.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "makegood/v1/goodwill_service.grpc.pb.h"
#include "makegood/v1/member_service.grpc.pb.h"
#include "makegood/v1/order_service.grpc.pb.h"
#include "makegood/v1/policy_service.grpc.pb.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "makegood/v1/refund_service.grpc.pb.h"
#include "services/redis/redis_client.h"
#include "services/server/app.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/redis_server.h"

namespace makegood::testing {

// 2026-11-19T12:15:00Z: the tests' "now".
inline constexpr int64_t kHarnessNowSeconds = 1795000100;

// A rating of `order` by `member` at `satisfaction` %, line l1 (the frozen
// line of AppHarness::SampleOrder) rated the same with REASON_MELTED_OR_WARM.
v1::SubmitRatingRequest MeltedRating(const std::string& key,
                                     const std::string& member = "m-1",
                                     const std::string& order = "o-1",
                                     int satisfaction = 50);

// Client stubs for one server.
struct Stubs {
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::OrderService::Stub> orders;
  std::unique_ptr<v1::MemberService::Stub> members;
  std::unique_ptr<v1::RatingService::Stub> ratings;
  std::unique_ptr<v1::RefundService::Stub> refunds;
  std::unique_ptr<v1::PolicyService::Stub> policies;
  std::unique_ptr<v1::GoodwillService::Stub> goodwill;
  std::unique_ptr<grpc::health::v1::Health::Stub> health;
};

Stubs ConnectStubs(int port);

// A server config for tests against `redis` (port 0, sample policy, fast
// health checks).
server::ServerConfig TestConfig(const RedisServer& redis);

class AppHarness {
 public:
  // Starts redis-server. Call StartApp() (after adjusting config()) next.
  static absl::StatusOr<std::unique_ptr<AppHarness>> Create();

  server::ServerConfig& config() { return config_; }
  FakeClock& clock() { return clock_; }
  RedisServer& redis() { return *redis_; }
  Stubs& stubs() { return stubs_; }
  server::App& app() { return *app_; }

  // Starts (or restarts) the App and waits until health is SERVING.
  absl::Status StartApp();
  void StopApp() { app_.reset(); }

  // A member with tier `tier`, a member since 2021, flag "verified".
  absl::Status UpsertMember(const std::string& member_id,
                            const std::string& tier = "premium");
  // An order of `member_id`, delivered an hour before now: a frozen line l1
  // (1200), a bakery line l2 (1500), delivery fee 300, total 3000 EUR, card.
  absl::Status RecordOrder(const std::string& member_id,
                           const std::string& order_id);
  static v1::Order SampleOrder(const std::string& member_id,
                               const std::string& order_id,
                               absl::Time delivered_at);

  // Direct Redis access for assertions.
  absl::StatusOr<redis::RedisReply> Redis(std::vector<std::string> argv);
  // Every key (but rate limiters) with a dump of its value: to prove that a
  // refused call changed nothing.
  std::map<std::string, std::string> Snapshot();

 private:
  AppHarness() = default;

  FakeClock clock_{absl::FromUnixSeconds(kHarnessNowSeconds)};
  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<redis::RedisClient> client_;
  server::ServerConfig config_;
  std::unique_ptr<server::App> app_;
  Stubs stubs_;
};

// True once `health` reports SERVING (follows the Watch stream, bounded).
bool WaitServing(grpc::health::v1::Health::Stub& health);

}  // namespace makegood::testing
