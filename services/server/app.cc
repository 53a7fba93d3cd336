#include "services/server/app.h"

#include <chrono>
#include <fstream>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "grpc/health/v1/health.pb.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/grpcpp.h"
#include "grpcpp/health_check_service_interface.h"
#include "makegood/v1/goodwill_service.grpc.pb.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "services/api/feedback_service.h"
#include "services/api/goodwill_service.h"
#include "services/api/member_service.h"
#include "services/api/order_service.h"
#include "services/api/policy_service.h"
#include "services/api/rating_service.h"
#include "services/api/refund_service.h"
#include "services/api/request_log.h"
#include "services/auth/authenticator.h"
#include "services/auth/tls_credentials.h"
#include "services/core/log.h"
#include "services/core/secret_file.h"
#include "services/core/status_macros.h"
#include "services/experiments/experiment_watcher.h"
#include "services/insights/aggregator.h"
#include "services/insights/insights_service.h"
#include "services/metrics/admin_server.h"
#include "services/metrics/metrics.h"
#include "services/metrics/rpc_metrics.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_reload/open_orders.h"
#include "services/policy_reload/policy_watcher.h"
#include "services/rating/rating_flow.h"
#include "services/redis/redis_client_factory.h"
#include "services/retention/sweeper.h"
#include "services/server/health_monitor.h"
#include "services/server/metrics_observers.h"
#include "services/settlement/http/http_provider.h"
#include "services/settlement/sandbox_provider.h"
#include "services/settlement/wallet_provider.h"
#include "services/settlement/worker.h"
#include "services/store/key_schema.h"
#include "services/store/member_store.h"
#include "services/store/order_store.h"
#include "services/store/refund_feed.h"
#include "services/store/refund_store.h"

namespace makegood::server {

// Declared in dependency order: destroyed in reverse.
struct App::Parts {
  Parts(std::unique_ptr<metrics::Metrics> m, std::unique_ptr<RedisMetrics> rm,
        std::unique_ptr<auth::Authenticator> a, const ServerConfig& c,
        const Clock& clk, store::KeySchema k,
        std::unique_ptr<redis::RedisClient> r, policy_file::PolicySnapshot p,
        std::unique_ptr<policy_file::ActivePolicy> shadow,
        std::unique_ptr<store::RefundFeed> f)
      : metrics(std::move(m)),
        redis_metrics(std::move(rm)),
        rating_metrics(*metrics),
        auth(std::move(a)),
        config(c),
        clock(clk),
        keys(std::move(k)),
        redis(std::move(r)),
        policy(std::move(p)),
        shadow_policy(std::move(shadow)),
        feed(std::move(f)),
        orders(*redis, keys, clock, config.retention_day),
        members(*redis, keys, clock),
        refunds(*redis, keys),
        experiments(*redis, keys, clock,
                    experiments::WatcherOptions{
                        .poll_interval = config.experiment_poll_interval,
                        .guard = config.insights_aggregator,
                        .guard_interval = config.experiment_guard_interval}),
        rating_flow(*redis, keys, policy, clock, config.rating,
                    shadow_policy.get(), &rating_metrics, &experiments),
        order_service(*auth, orders, policy, clock),
        member_service(*auth, members, *redis, keys, policy, clock),
        policy_service(*auth, policy, *redis, keys, clock, shadow_policy.get(),
                       &experiments),
        rating_service(*auth, rating_flow),
        refund_service(*auth, refunds, *feed, keys, clock),
        goodwill_service(*auth, *redis, keys, policy, clock, config.goodwill),
        insights_service(*auth, *redis, keys, clock),
        feedback_service(*auth, *redis, keys, clock) {}

  // First, so they outlive everything that reports to or asks them.
  std::unique_ptr<metrics::Metrics> metrics;
  // What the Redis client and the rating flow report, into `metrics`.
  std::unique_ptr<RedisMetrics> redis_metrics;
  RatingMetrics rating_metrics;
  std::unique_ptr<auth::Authenticator> auth;
  ServerConfig config;
  const Clock& clock;
  store::KeySchema keys;
  std::unique_ptr<redis::RedisClient> redis;
  policy_file::ActivePolicy policy;
  std::unique_ptr<policy_file::ActivePolicy> shadow_policy;  // May be null.
  std::unique_ptr<store::RefundFeed> feed;
  store::OrderStore orders;
  store::MemberStore members;
  store::RefundStore refunds;
  // Every replica's view of the running policy experiment (and, in the
  // worker processes, its guardrails).
  experiments::ExperimentWatcher experiments;
  rating::RatingFlow rating_flow;
  api::OrderService order_service;
  api::MemberService member_service;
  api::PolicyService policy_service;
  api::RatingService rating_service;
  api::RefundService refund_service;
  api::GoodwillService goodwill_service;
  api::InsightsService insights_service;
  api::FeedbackService feedback_service;
  // Settlement (with --settlement_worker): providers, then the worker.
  std::unique_ptr<settlement::PaymentProvider> wallet_provider;
  std::unique_ptr<settlement::PaymentProvider> coupon_provider;
  std::unique_ptr<settlement::PaymentProvider> card_provider;
  std::unique_ptr<settlement::SettlementWorker> worker;
  // Decision events -> insights aggregates (with --insights_aggregator).
  std::unique_ptr<insights::Aggregator> insights_aggregator;
  // Closes due retention windows (with --insights_aggregator).
  std::unique_ptr<retention::Sweeper> retention_sweeper;
  // Refuses reloads that drop a currency with open orders.
  std::unique_ptr<policy_reload::OpenOrders> open_orders;
  std::unique_ptr<policy_reload::PolicyWatcher> policy_watcher;
  std::unique_ptr<policy_reload::PolicyWatcher> shadow_watcher;
  std::unique_ptr<grpc::Server> server;
  std::unique_ptr<metrics::AdminServer> admin;
  std::unique_ptr<HealthMonitor> health;
  int port = 0;
  bool stopped = false;
};

absl::Status App::StartSettlement(const ServerConfig& config,
                                  const Clock& clock, Parts& parts) {
  const SettlementConfig& s = config.settlement;
  if (!s.run_worker) return absl::OkStatus();
  parts.wallet_provider = std::make_unique<settlement::WalletProvider>(
      *parts.redis, parts.keys, settlement::WalletProvider::Kind::kWallet);
  parts.coupon_provider = std::make_unique<settlement::WalletProvider>(
      *parts.redis, parts.keys, settlement::WalletProvider::Kind::kCoupon);
  if (s.card_provider == "http") {
    settlement::HttpProviderOptions options;
    options.base_url = s.http_url;
    MAKEGOOD_ASSIGN_OR_RETURN(options.api_key,
                              ReadSecretFile(s.http_api_key_file));
    options.ca_file = s.http_ca_file;
    options.request_timeout = s.http_timeout;
    MAKEGOOD_ASSIGN_OR_RETURN(parts.card_provider,
                              settlement::HttpProvider::Create(options));
  } else {
    MAKEGOOD_ASSIGN_OR_RETURN(settlement::SandboxOptions options,
                              settlement::ParseSandboxSpec(s.sandbox_spec));
    parts.card_provider = std::make_unique<settlement::SandboxProvider>(
        *parts.redis, parts.keys, options);
  }
  settlement::WorkerOptions options;
  options.consumer = s.consumer;
  options.card_provider = s.card_provider;
  options.fallback = s.fallback;
  options.max_in_flight = s.max_in_flight;
  options.retry_after = s.retry_after;
  options.max_deliveries = s.max_deliveries;
  metrics::Metrics* m = parts.metrics.get();
  options.on_result = [m](absl::string_view provider,
                          absl::string_view result) {
    m->RecordSettlementResult(provider, result);
  };
  options.on_settled = [m](absl::Duration lag) {
    m->ObserveSettlementLag(lag);
  };
  options.on_backlog = [m](int64_t outbox, int64_t dead) {
    m->SetOutboxPending(outbox);
    m->SetDeadLetters(dead);
  };
  parts.worker = std::make_unique<settlement::SettlementWorker>(
      *parts.redis, parts.keys, clock,
      absl::flat_hash_map<std::string, settlement::PaymentProvider*>{
          {"wallet", parts.wallet_provider.get()},
          {"coupon", parts.coupon_provider.get()},
          {s.card_provider, parts.card_provider.get()}},
      options);
  return parts.worker->Start(config.redis);
}

absl::Status App::StartAdmin(const ServerConfig& config, Parts& parts) {
  if (config.admin_listen.empty()) return absl::OkStatus();
  MAKEGOOD_ASSIGN_OR_RETURN(
      parts.admin,
      metrics::AdminServer::Start(config.admin_listen, *parts.metrics));
  return absl::OkStatus();
}

App::App(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

App::~App() { Shutdown(); }

int App::port() const { return parts_->port; }

int App::admin_port() const {
  return parts_->admin != nullptr ? parts_->admin->port() : 0;
}

const metrics::Metrics& App::metrics() const { return *parts_->metrics; }

settlement::WorkerStats App::settlement_stats() const {
  return parts_->worker != nullptr ? parts_->worker->stats()
                                   : settlement::WorkerStats{};
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
  auto metrics = std::make_unique<metrics::Metrics>();
  if (config.insecure_dev) {
    Log(LogLevel::kWarning, "insecure_dev_mode",
        {{"listen", config.listen},
         {"detail",
          "plaintext gRPC, no credentials, every caller has every role: "
          "development only"}});
  }
  MAKEGOOD_ASSIGN_OR_RETURN(std::unique_ptr<auth::Authenticator> auth,
                            auth::Authenticator::Create(config.auth, clock));
  auto redis_metrics = std::make_unique<RedisMetrics>(*metrics);
  redis::RedisOptions redis_options = config.redis;
  redis_options.observer = redis_metrics.get();
  MAKEGOOD_ASSIGN_OR_RETURN(std::unique_ptr<redis::RedisClient> redis,
                            redis::StartRedisClient(redis_options));

  MAKEGOOD_ASSIGN_OR_RETURN(std::unique_ptr<store::RefundFeed> feed,
                            store::RefundFeed::Start(config.redis, keys));

  auto parts = std::make_unique<Parts>(
      std::move(metrics), std::move(redis_metrics), std::move(auth), config,
      clock, std::move(keys), std::move(redis), std::move(policy),
      std::move(shadow), std::move(feed));
  parts->experiments.Start();
  MAKEGOOD_RETURN_IF_ERROR(StartSettlement(config, clock, *parts));
  if (config.insights_aggregator) {
    insights::AggregatorOptions options;
    options.consumer = config.settlement.consumer;  // Stable pod/host name.
    parts->insights_aggregator = std::make_unique<insights::Aggregator>(
        *parts->redis, parts->keys, clock, options);
    MAKEGOOD_RETURN_IF_ERROR(parts->insights_aggregator->Start(config.redis));
    parts->retention_sweeper = std::make_unique<retention::Sweeper>(
        *parts->redis, parts->keys, clock,
        retention::SweeperOptions{.interval = config.retention_sweep_interval,
                                  .day = config.retention_day});
    parts->retention_sweeper->Start();
  }

  grpc::EnableDefaultHealthCheckService(true);
  // Touch the health descriptor so the linker keeps it: server reflection
  // finds grpc.health.v1.Health through the generated descriptor pool.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> credentials =
      grpc::InsecureServerCredentials();
  if (!config.insecure_dev) {
    MAKEGOOD_ASSIGN_OR_RETURN(credentials,
                              auth::MakeServerCredentials(config.tls));
  }
  builder.AddListeningPort(config.listen, credentials, &parts->port);
  builder.SetMaxReceiveMessageSize(config.max_message_bytes);
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  {
    std::vector<
        std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
        interceptors;
    interceptors.push_back(
        std::make_unique<metrics::RpcMetricsFactory>(*parts->metrics));
    if (config.request_log) {
      interceptors.push_back(std::make_unique<api::RequestLogFactory>(
          config.log_pseudonym_key, parts->auth.get()));
    }
    builder.experimental().SetInterceptorCreators(std::move(interceptors));
  }
  if (config.serve_api) {
    builder.RegisterService(&parts->order_service);
    builder.RegisterService(&parts->member_service);
    builder.RegisterService(&parts->policy_service);
    builder.RegisterService(&parts->rating_service);
    builder.RegisterService(&parts->refund_service);
    builder.RegisterService(&parts->goodwill_service);
    builder.RegisterService(&parts->feedback_service);
    builder.RegisterService(&parts->insights_service);
  }
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
    parts->open_orders =
        std::make_unique<policy_reload::OpenOrders>(*parts->redis, parts->keys);
    parts->policy_watcher = std::make_unique<policy_reload::PolicyWatcher>(
        config.policy_path, parts->policy, clock, config.policy_reload_interval,
        policy_reload::DroppedCurrencyGuard(*parts->open_orders, clock));
    parts->policy_watcher->Start();
    if (parts->shadow_policy != nullptr) {
      parts->shadow_watcher = std::make_unique<policy_reload::PolicyWatcher>(
          config.shadow_policy_path, *parts->shadow_policy, clock,
          config.policy_reload_interval);
      parts->shadow_watcher->Start();
    }
  }
  MAKEGOOD_RETURN_IF_ERROR(StartAdmin(config, *parts));
  Log(LogLevel::kInfo, "serving",
      {{"listen", config.listen},
       {"port", parts->port},
       {"redis", redis::DescribeRedisTarget(config.redis)},
       {"partitions", config.partitions},
       {"tls", !config.insecure_dev},
       {"mtls", !config.insecure_dev && !config.tls.client_ca_file.empty()},
       {"admin_port", parts->admin != nullptr ? parts->admin->port() : 0}});
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
  // The worker finishes what it has in flight (the rest stays pending in the
  // outbox and is resumed by the next worker), then its providers go.
  if (p.admin != nullptr) p.admin->Stop();  // Its scrapes read the parts.
  if (p.worker != nullptr) p.worker->Stop(p.config.shutdown_grace);
  p.worker.reset();
  p.experiments.Stop();
  if (p.retention_sweeper != nullptr) p.retention_sweeper->Stop();
  p.retention_sweeper.reset();
  if (p.insights_aggregator != nullptr) p.insights_aggregator->Stop();
  p.insights_aggregator.reset();
  p.card_provider.reset();
  p.feed.reset();
  p.redis.reset();  // Fails anything still pending, joins the I/O thread.
  Log(LogLevel::kInfo, "shutdown_complete");
}

}  // namespace makegood::server
