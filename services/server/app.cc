#include "services/server/app.h"

#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "makegood/v1/goodwill_service.grpc.pb.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "services/api/member_service.h"
#include "services/api/order_service.h"
#include "services/api/policy_service.h"
#include "services/api/rating_service.h"
#include "services/api/refund_service.h"
#include "services/api/request_log.h"
#include "services/core/log.h"
#include "services/core/status_macros.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_file/policy_watcher.h"
#include "services/rating/rating_flow.h"
#include "services/server/health_monitor.h"
#include "services/store/key_schema.h"
#include "services/store/member_store.h"
#include "services/store/order_store.h"
#include "services/store/redis_client.h"
#include "services/store/refund_store.h"

namespace makegood::server {

// Declared in dependency order: destroyed in reverse.
struct App::Parts {
  Parts(const ServerConfig& c, const Clock& clk, store::KeySchema k,
        std::unique_ptr<store::RedisClient> r, policy_file::PolicySnapshot p,
        std::unique_ptr<policy_file::ActivePolicy> shadow)
      : config(c),
        clock(clk),
        keys(std::move(k)),
        redis(std::move(r)),
        policy(std::move(p)),
        shadow_policy(std::move(shadow)),
        orders(*redis, keys, clock),
        members(*redis, keys, clock),
        refunds(*redis, keys),
        rating_flow(*redis, keys, policy, clock, config.rating,
                    shadow_policy.get()),
        order_service(orders, clock),
        member_service(members, *redis, keys, policy, clock),
        policy_service(policy, *redis, keys, clock, shadow_policy.get()),
        rating_service(rating_flow),
        refund_service(refunds, keys) {}

  ServerConfig config;
  const Clock& clock;
  store::KeySchema keys;
  std::unique_ptr<store::RedisClient> redis;
  policy_file::ActivePolicy policy;
  std::unique_ptr<policy_file::ActivePolicy> shadow_policy;  // May be null.
  store::OrderStore orders;
  store::MemberStore members;
  store::RefundStore refunds;
  rating::RatingFlow rating_flow;
  api::OrderService order_service;
  api::MemberService member_service;
  api::PolicyService policy_service;
  api::RatingService rating_service;
  api::RefundService refund_service;
  // Services of issues still open: every method answers UNIMPLEMENTED.
  makegood::v1::GoodwillService::CallbackService goodwill_service;
  makegood::v1::InsightsService::CallbackService insights_service;
  std::unique_ptr<policy_file::PolicyWatcher> policy_watcher;
  std::unique_ptr<policy_file::PolicyWatcher> shadow_watcher;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<HealthMonitor> health;
  int port = 0;
  bool stopped = false;
};

App::App(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

App::~App() { Shutdown(); }

int App::port() const { return parts_->port; }

rating::RatingFlowStats App::rating_stats() const {
  return parts_->rating_flow.stats();
}

absl::StatusOr<std::unique_ptr<App>> App::Start(const ServerConfig& config,
                                                const Clock& clock) {
  MAKEGOOD_ASSIGN_OR_RETURN(store::KeySchema keys,
                            store::KeySchema::Create(config.partitions));
  MAKEGOOD_ASSIGN_OR_RETURN(
      policy_file::PolicySnapshot policy,
      policy_file::LoadPolicyFile(config.policy_path, clock.Now()));
  Log(LogLevel::kInfo, "policy_loaded",
      {{"path", config.policy_path}, {"version", policy.version}});
  std::unique_ptr<policy_file::ActivePolicy> shadow;
  if (!config.shadow_policy_path.empty()) {
    MAKEGOOD_ASSIGN_OR_RETURN(
        policy_file::PolicySnapshot candidate,
        policy_file::LoadPolicyFile(config.shadow_policy_path, clock.Now()));
    Log(LogLevel::kInfo, "shadow_policy_loaded",
        {{"path", config.shadow_policy_path}, {"version", candidate.version}});
    shadow = std::make_unique<policy_file::ActivePolicy>(std::move(candidate));
  }
  MAKEGOOD_ASSIGN_OR_RETURN(std::unique_ptr<store::RedisClient> redis,
                            store::RedisClient::Start(config.redis));

  auto parts =
      std::make_unique<Parts>(config, clock, std::move(keys), std::move(redis),
                              std::move(policy), std::move(shadow));

  grpc::EnableDefaultHealthCheckService(true);
  // Touch the health descriptor so the linker keeps it: server reflection
  // finds grpc.health.v1.Health through the generated descriptor pool.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, grpc::InsecureServerCredentials(),
                           &parts->port);
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  if (config.request_log) {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<api::RequestLogFactory>(config.log_pseudonym_key));
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  builder.RegisterService(&parts->order_service);
  builder.RegisterService(&parts->member_service);
  builder.RegisterService(&parts->policy_service);
  builder.RegisterService(&parts->rating_service);
  builder.RegisterService(&parts->refund_service);
  builder.RegisterService(&parts->goodwill_service);
  builder.RegisterService(&parts->insights_service);
  parts->server = builder.BuildAndStart();
  if (parts->server == nullptr || parts->port == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", config.listen, " (address in use or invalid?)"));
  }
  grpc::HealthCheckServiceInterface* health =
      parts->server->GetHealthCheckService();
  if (health == nullptr) {
    return absl::InternalError("the gRPC health service is missing");
  }
  parts->health = std::make_unique<HealthMonitor>(
      *parts->redis, parts->keys, *health, config.health_interval);
  parts->health->Start();
  if (config.policy_reload_interval > absl::ZeroDuration()) {
    parts->policy_watcher = std::make_unique<policy_file::PolicyWatcher>(
        config.policy_path, parts->policy, clock,
        config.policy_reload_interval);
    parts->policy_watcher->Start();
    if (parts->shadow_policy != nullptr) {
      parts->shadow_watcher = std::make_unique<policy_file::PolicyWatcher>(
          config.shadow_policy_path, *parts->shadow_policy, clock,
          config.policy_reload_interval);
      parts->shadow_watcher->Start();
    }
  }
  Log(LogLevel::kInfo, "serving",
      {{"listen", config.listen},
       {"port", parts->port},
       {"redis", absl::StrCat(config.redis.host, ":", config.redis.port, "/",
                              config.redis.db)},
       {"partitions", config.partitions}});
  return std::unique_ptr<App>(new App(std::move(parts)));
}

void App::Shutdown() {
  Parts& p = *parts_;
  if (p.stopped) return;
  p.stopped = true;
  Log(LogLevel::kInfo, "shutdown_started",
      {{"grace_ms", absl::ToInt64Milliseconds(p.config.shutdown_grace)}});
  if (p.policy_watcher != nullptr) p.policy_watcher->Stop();
  if (p.shadow_watcher != nullptr) p.shadow_watcher->Stop();
  // Health first, so load balancers stop sending while calls drain.
  if (p.health != nullptr) p.health->Stop();
  if (p.server != nullptr) {
    // A transport deadline, so real time even when business time is faked.
    p.server->Shutdown(std::chrono::system_clock::now() +
                       absl::ToChronoNanoseconds(p.config.shutdown_grace));
    p.server->Wait();
  }
  p.redis.reset();  // Fails anything still pending, joins the I/O thread.
  Log(LogLevel::kInfo, "shutdown_complete");
}

}  // namespace makegood::server
