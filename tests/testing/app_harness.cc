#include "tests/testing/app_harness.h"

#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "services/redis/hiredis_client.h"
#include "tests/testing/samples.h"

namespace makegood::testing {

using ::grpc::health::v1::HealthCheckResponse;

v1::SubmitRatingRequest MeltedRating(const std::string& key,
                                     const std::string& member,
                                     const std::string& order,
                                     int satisfaction) {
  v1::SubmitRatingRequest r;
  r.set_idempotency_key(key);
  r.set_member_id(member);
  r.set_order_id(order);
  r.set_satisfaction_percent(satisfaction);
  auto* line = r.add_line_ratings();
  line->set_line_id("l1");
  line->set_satisfaction_percent(satisfaction);
  line->add_reasons(v1::REASON_MELTED_OR_WARM);
  return r;
}

Stubs ConnectStubs(int port) {
  Stubs s;
  s.channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                  grpc::InsecureChannelCredentials());
  s.orders = v1::OrderService::NewStub(s.channel);
  s.members = v1::MemberService::NewStub(s.channel);
  s.ratings = v1::RatingService::NewStub(s.channel);
  s.refunds = v1::RefundService::NewStub(s.channel);
  s.policies = v1::PolicyService::NewStub(s.channel);
  s.goodwill = v1::GoodwillService::NewStub(s.channel);
  s.health = grpc::health::v1::Health::NewStub(s.channel);
  return s;
}

bool WaitServing(grpc::health::v1::Health::Stub& health) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  auto reader = health.Watch(&context, {});
  HealthCheckResponse response;
  while (reader->Read(&response)) {
    if (response.status() == HealthCheckResponse::SERVING) {
      context.TryCancel();
      reader->Finish().IgnoreError();
      return true;
    }
  }
  return false;
}

server::ServerConfig TestConfig(const RedisServer& redis) {
  server::ServerConfig config;
  config.listen = "127.0.0.1:0";
  // Plaintext on loopback, the caller named by x-client-id: the API tests
  // are about the API; tests/integration/auth_test.cc covers credentials.
  config.insecure_dev = true;
  config.auth.insecure_dev = true;
  config.auth.reload_interval = absl::ZeroDuration();
  (void)redis::ParseRedisUrl(redis.url(), &config.redis);
  config.redis.command_timeout = absl::Seconds(2);
  config.policy_path =
      std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";
  config.health_interval = absl::Milliseconds(20);
  config.shutdown_grace = absl::Seconds(10);
  return config;
}

absl::StatusOr<std::unique_ptr<AppHarness>> AppHarness::Create() {
  std::unique_ptr<AppHarness> h(new AppHarness());
  auto redis = RedisServer::Start();
  if (!redis.ok()) return redis.status();
  h->redis_ = *std::move(redis);
  h->config_ = TestConfig(*h->redis_);
  auto client = redis::HiredisClient::Start(h->config_.redis);
  if (!client.ok()) return client.status();
  h->client_ = *std::move(client);
  return h;
}

absl::Status AppHarness::StartApp() {
  app_.reset();
  auto app = server::App::Start(config_, clock_);
  if (!app.ok()) return app.status();
  app_ = *std::move(app);
  stubs_ = ConnectStubs(app_->port());
  if (!WaitServing(*stubs_.health)) {
    return absl::UnavailableError("app did not become SERVING");
  }
  return absl::OkStatus();
}

absl::Status AppHarness::UpsertMember(const std::string& member_id,
                                      const std::string& tier) {
  v1::UpsertMemberRequest request;
  *request.mutable_member() = SampleMember(member_id, tier);
  grpc::ClientContext context;
  v1::UpsertMemberResponse response;
  grpc::Status s = stubs_.members->UpsertMember(&context, request, &response);
  return s.ok() ? absl::OkStatus()
                : absl::InternalError(
                      absl::StrCat("UpsertMember: ", s.error_message()));
}

v1::Order AppHarness::SampleOrder(const std::string& member_id,
                                  const std::string& order_id,
                                  absl::Time delivered_at) {
  return testing::SampleOrder(member_id, order_id, delivered_at);
}

absl::Status AppHarness::RecordOrder(const std::string& member_id,
                                     const std::string& order_id) {
  v1::RecordDeliveryRequest request;
  *request.mutable_order() =
      SampleOrder(member_id, order_id, clock_.Now() - absl::Hours(1));
  grpc::ClientContext context;
  v1::RecordDeliveryResponse response;
  grpc::Status s = stubs_.orders->RecordDelivery(&context, request, &response);
  return s.ok() ? absl::OkStatus()
                : absl::InternalError(
                      absl::StrCat("RecordDelivery: ", s.error_message()));
}

absl::StatusOr<redis::RedisReply> AppHarness::Redis(
    std::vector<std::string> argv) {
  absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (client_->ready_connections() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return client_->CommandSync(std::move(argv));
}

std::map<std::string, std::string> AppHarness::Snapshot() {
  std::map<std::string, std::string> out;
  auto keys = Redis({"KEYS", "*"});
  if (!keys.ok()) return out;
  for (const auto& key : keys->elements) {
    if (absl::StrContains(key.str, ":rl:")) continue;  // Limiters count calls.
    auto type = Redis({"TYPE", key.str});
    if (type.ok() && type->str == "hash") {
      // DUMP of a large hash follows its table order, which incremental
      // rehashing changes without any write: compare the content instead.
      auto all = Redis({"HGETALL", key.str});
      std::map<std::string, std::string> fields;
      for (size_t i = 0; all.ok() && i + 1 < all->elements.size(); i += 2) {
        fields[all->elements[i].str] = all->elements[i + 1].str;
      }
      std::string content;
      for (const auto& [field, value] : fields) {
        absl::StrAppend(&content, field.size(), ":", field, "=", value.size(),
                        ":", value, ";");
      }
      out[key.str] = content;
      continue;
    }
    auto dump = Redis({"DUMP", key.str});
    out[key.str] = dump.ok() ? dump->str : "?";
  }
  return out;
}

}  // namespace makegood::testing
