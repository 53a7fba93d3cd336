#include "services/server/config.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:50051",
          "gRPC address HOST:PORT to listen on (PORT 0 picks a free port; "
          "the chosen one is logged as event \"serving\").");
ABSL_FLAG(
    std::string, redis, "redis://127.0.0.1:6379/0",
    "Redis to keep state in: redis://[[user]:password@]host[:port][/db], or "
    "the primary that Redis Sentinel names: "
    "redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master"
    "[/db][?sentinel_password=PASSWORD] (sentinel port 26379 by default; "
    "user/password are for Redis, sentinel_password for the sentinels), or "
    "a Redis Cluster: redis-cluster://[[user]:password@]host:port[,host:port"
    "...] (any nodes; the rest are found; give every node "
    "notify-keyspace-events Kt, which wakes the stream readers).");
ABSL_FLAG(std::string, policy, "",
          "Policy file (makegood.v1.Policy as textproto). Required.");
ABSL_FLAG(std::string, shadow_policy, "",
          "Optional candidate policy file, decided beside the active policy on "
          "every fresh rating: disagreements are counted and logged "
          "(event shadow_policy_disagreement) with both decisions; it never "
          "moves money. Reloaded like --policy.");
ABSL_FLAG(absl::Duration, policy_reload_interval, absl::Seconds(2),
          "How often the policy file is checked for changes (e.g. a Kubernetes "
          "ConfigMap update); a valid change takes effect at once, an invalid "
          "one is logged and refused while the current policy keeps serving. "
          "0 disables reloading.");
ABSL_FLAG(int, partitions, 64,
          "Number of key partitions (Redis Cluster hash tags). Fixed for the "
          "life of a deployment: recorded in Redis on first use, and a server "
          "with another value refuses to serve.");
ABSL_FLAG(int, redis_connections, 2, "Redis connections (pipelined), 1-64.");
ABSL_FLAG(absl::Duration, redis_timeout, absl::Seconds(1),
          "Deadline of every Redis command; a connection that misses it is "
          "reset.");
ABSL_FLAG(absl::Duration, redis_connect_timeout, absl::Seconds(1),
          "Deadline for connecting to Redis.");
ABSL_FLAG(int, redis_max_outstanding, 10000,
          "Cap on Redis commands queued or in flight; beyond it requests get "
          "UNAVAILABLE.");
ABSL_FLAG(int, max_message_bytes, 1 << 20,
          "Largest gRPC message received or sent, in bytes.");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(20),
          "On SIGTERM: how long in-flight calls may take to finish.");
ABSL_FLAG(absl::Duration, health_interval, absl::Milliseconds(500),
          "How often Redis is checked for the health service.");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error.");
ABSL_FLAG(
    bool, request_log, false,
    "Log one JSON line per RPC (event \"rpc\": request id, method, caller, "
    "pseudonymised member, status code, latency). Nothing else of a "
    "request is logged. Off by default until its per-call cost (~10-30 us "
    "measured, docs/PERFORMANCE.md) is reduced.");
ABSL_FLAG(std::string, log_pseudonym_key, "",
          "Secret for pseudonymising member ids in logs (HMAC-SHA256). Set the "
          "same key on every replica to follow one member across them; empty: "
          "a random key per process.");
ABSL_FLAG(
    std::string, rate_limits, "",
    "Rate limits overriding the defaults (SubmitRating.member=30/m:burst=10,"
    "SubmitRating.client=2000/s:burst=4000), comma separated: "
    "Method.member|client=COUNT/s|m|h[:burst=N][:shadow] or "
    "Method.member|client=off. Shadow counts and logs, never refuses.");
ABSL_FLAG(absl::Duration, idempotency_ttl, absl::Hours(24),
          "How long a completed idempotency key answers replays.");
ABSL_FLAG(absl::Duration, claim_lease, absl::Seconds(10),
          "How long an in-flight idempotency key stays claimed if the server "
          "holding it dies.");

ABSL_FLAG(bool, insecure_dev, false,
          "Development only: plaintext gRPC and no credentials (the caller "
          "names itself in x-client-id metadata, every role allowed). "
          "Refused unless --listen is a loopback address; logged loudly.");
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain of the gRPC port (e.g. a mounted Secret); "
          "re-read when it changes. Required unless --insecure_dev.");
ABSL_FLAG(std::string, tls_key, "", "PEM private key for --tls_cert.");
ABSL_FLAG(std::string, tls_client_ca, "",
          "CA bundle for mutual TLS: clients must present a certificate it "
          "signed. Empty: no client certificates asked for.");
ABSL_FLAG(absl::Duration, tls_refresh_interval, absl::Minutes(1),
          "How often the TLS files are checked for changes (>= 1s).");
ABSL_FLAG(std::string, jwt_issuer, "",
          "JWT bearer tokens: the required `iss` claim. With --jwt_audience "
          "and --jwt_key_file.");
ABSL_FLAG(std::string, jwt_audience, "", "JWT: the required `aud` claim.");
ABSL_FLAG(std::string, jwt_key_file, "",
          "JWT: the HS256 secret or the RS256/ES256 public key (PEM).");
ABSL_FLAG(std::string, jwt_algorithm, "RS256",
          "JWT: HS256, RS256 or ES256 (fixed here, never taken from tokens).");
ABSL_FLAG(absl::Duration, jwt_leeway, absl::Seconds(30),
          "JWT: allowed clock skew for exp/nbf (<= 5m).");
ABSL_FLAG(std::string, api_keys_file, "",
          "API keys, stored hashed: lines `<sha256 hex of key> <principal> "
          "<role>[,<role>...]` (roles: app-backend, order-system, agent, "
          "admin).");
ABSL_FLAG(std::string, tls_clients_file, "",
          "mTLS identities: lines `<certificate SAN or CN> <role>[,...]`.");
ABSL_FLAG(absl::Duration, auth_reload_interval, absl::Seconds(10),
          "How often the JWT key, API keys and clients files are re-read; "
          "0: never.");
ABSL_FLAG(std::string, admin_listen, "",
          "Prometheus /metrics on IPv4:PORT (e.g. 0.0.0.0:9090), apart from "
          "the gRPC port. Empty: no metrics endpoint.");
ABSL_FLAG(int64_t, goodwill_agent_daily_budget, 10000,
          "GrantGoodwill: what one support agent may grant per UTC day, in "
          "minor units, in every market whose policy gives no goodwill "
          "budget of its own.");
ABSL_FLAG(int64_t, goodwill_member_budget, 5000,
          "GrantGoodwill: what one member may receive over 30 days, in minor "
          "units, in every market whose policy gives no goodwill budget of "
          "its own.");
ABSL_FLAG(bool, insights_aggregator, false,
          "Fold decision events into the per store / courier / SKU aggregates "
          "GetSatisfactionStats reads (run it in the worker processes; one "
          "consumer group, so any number of them is fine).");
ABSL_FLAG(absl::Duration, retention_day, absl::Hours(24),
          "How long a day of the retention windows lasts (whether a member "
          "orders again within 7, 30 and 90 days of a trouble). 24h in "
          "production; simulations shorten it (e.g. 200ms: 90 days in 18 s). "
          "Every process of a deployment must agree.");
ABSL_FLAG(absl::Duration, retention_sweep_interval, absl::Seconds(60),
          "With --insights_aggregator: how often due retention windows are "
          "closed (a window closes at most this late).");
ABSL_FLAG(absl::Duration, experiment_poll_interval, absl::Seconds(1),
          "How often each process looks for a started or stopped policy "
          "experiment (PolicyService.StartExperiment): the most a start or "
          "stop takes to reach the ratings.");
ABSL_FLAG(absl::Duration, experiment_guard_interval, absl::Seconds(5),
          "With --insights_aggregator: how often a running experiment's "
          "guardrails are checked (its money cap can be passed by what this "
          "long of ratings grants).");
ABSL_FLAG(bool, serve_api, true,
          "Serve the public gRPC API. false: only health and reflection (a "
          "settlement-only process, with --settlement_worker).");
ABSL_FLAG(bool, settlement_worker, false,
          "Run a settlement worker in this process: it pays accepted refunds "
          "from the outbox through the providers below.");
ABSL_FLAG(std::string, settlement_consumer, "",
          "The worker's name in the outbox consumer group; must be stable "
          "across restarts of the same replica and unique among replicas "
          "(default: the host name, which is the pod name on Kubernetes).");
ABSL_FLAG(std::string, card_provider, "sandbox",
          "Provider of refunds to the original payment: sandbox (simulated) "
          "or http (Stripe-compatible HTTPS API, see --http_provider_*).");
ABSL_FLAG(std::string, sandbox, "",
          "Sandbox card processor behaviour: comma-separated latency=DUR, "
          "slow_latency=DUR, decline=P, error=P, commit_timeout=P, slow=P, "
          "seed=N (P a probability), e.g. latency=20ms,decline=0.05.");
ABSL_FLAG(std::string, http_provider_url, "",
          "Base URL of the Stripe-compatible refunds API (https://...).");
ABSL_FLAG(std::string, http_provider_api_key_file, "",
          "File holding the API key sent as a bearer token (a mounted "
          "Secret).");
ABSL_FLAG(std::string, http_provider_ca, "",
          "CA bundle that verifies the provider (empty: system CAs).");
ABSL_FLAG(absl::Duration, http_provider_timeout, absl::Seconds(10),
          "Deadline of one provider call; a timed-out call is reconciled "
          "(looked up) before any retry.");
ABSL_FLAG(std::string, settlement_fallback, "wallet",
          "What a card refund the provider declines becomes: wallet (credit "
          "to the member's wallet) or none (the refund FAILS).");
ABSL_FLAG(int, settlement_concurrency, 64,
          "Refunds one worker settles at once.");
ABSL_FLAG(absl::Duration, settlement_retry_after, absl::Seconds(30),
          "An outbox entry pending this long (unknown provider answer, dead "
          "worker) is retried or taken over. Keep it above "
          "--http_provider_timeout, or a slow call is retried while it runs.");
ABSL_FLAG(int, settlement_max_deliveries, 8,
          "Deliveries after which an entry goes to the dead-letter stream and "
          "its refund to NEEDS_ATTENTION.");

namespace makegood::server {
namespace {

// The flags this binary documents and reads from the environment: every flag
// defined in this file, by name. Derived from the flag registry, so a new
// flag can never be left out of --help or the environment.
const std::vector<std::string>& FlagNames() {
  static const auto* names = [] {
    auto* list = new std::vector<std::string>;
    for (const auto& [name, flag] : absl::GetAllFlags()) {
      if (absl::EndsWith(flag->Filename(), "services/server/config.cc")) {
        list->push_back(std::string(name));
      }
    }
    std::sort(list->begin(), list->end());
    return list;
  }();
  return *names;
}

std::string EnvName(const std::string& flag) {
  return absl::StrCat("MAKEGOOD_", absl::AsciiStrToUpper(flag));
}

}  // namespace

absl::Status ApplyEnvironment() {
  for (const std::string& name : FlagNames()) {
    std::string env = EnvName(name);
    const char* value = std::getenv(env.c_str());
    if (value == nullptr) continue;
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      return absl::InvalidArgumentError(
          absl::StrCat(env, "=\"", value, "\": ", error));
    }
  }
  return absl::OkStatus();
}

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-h" || arg == "--helpfull" ||
        arg == "-help") {
      return true;
    }
  }
  return false;
}

std::string HelpText() {
  std::string text =
      "makegood: instant, fair refunds from delivery-satisfaction ratings.\n"
      "\n"
      "Usage: makegood --policy=FILE [--listen=HOST:PORT] "
      "[--redis=redis://HOST:PORT/DB] [flags]\n"
      "\n"
      "Serves the makegood.v1 gRPC API, grpc.health.v1.Health (SERVING only\n"
      "while Redis answers) and server reflection. SIGTERM drains in-flight\n"
      "calls and exits 0.\n"
      "\n"
      "Every flag can also be set by an environment variable; a flag given\n"
      "on the command line wins over the variable.\n"
      "\n"
      "Flags:\n";
  for (const std::string& name : FlagNames()) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    absl::StrAppendFormat(
        &text, "  --%s (env %s)\n      %s\n      default: %s\n", name,
        EnvName(name), flag->Help(),
        flag->DefaultValue().empty() ? "(none)" : flag->DefaultValue());
  }
  return text;
}

absl::StatusOr<ServerConfig> ConfigFromFlags() {
  ServerConfig config;
  config.listen = absl::GetFlag(FLAGS_listen);
  if (config.listen.find(':') == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("--listen=\"", config.listen, "\": want HOST:PORT"));
  }
  config.redis_url = absl::GetFlag(FLAGS_redis);
  if (absl::Status s = redis::ParseRedisUrl(config.redis_url, &config.redis);
      !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--redis: ", s.message()));
  }
  config.redis.connections = absl::GetFlag(FLAGS_redis_connections);
  config.redis.command_timeout = absl::GetFlag(FLAGS_redis_timeout);
  config.redis.connect_timeout = absl::GetFlag(FLAGS_redis_connect_timeout);
  config.redis.max_outstanding = absl::GetFlag(FLAGS_redis_max_outstanding);
  if (config.redis.connections < 1 || config.redis.connections > 64) {
    return absl::InvalidArgumentError("--redis_connections: must be 1-64");
  }
  if (config.redis.command_timeout <= absl::ZeroDuration() ||
      config.redis.connect_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--redis_timeout and --redis_connect_timeout: must be positive");
  }
  if (config.redis.max_outstanding < 1) {
    return absl::InvalidArgumentError("--redis_max_outstanding: must be >= 1");
  }
  config.policy_path = absl::GetFlag(FLAGS_policy);
  if (config.policy_path.empty()) {
    return absl::InvalidArgumentError(
        "--policy (or MAKEGOOD_POLICY) is required: a makegood.v1.Policy "
        "textproto file, e.g. config/policy/default.textproto");
  }
  config.shadow_policy_path = absl::GetFlag(FLAGS_shadow_policy);
  config.policy_reload_interval = absl::GetFlag(FLAGS_policy_reload_interval);
  if (config.policy_reload_interval < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("--policy_reload_interval: must be >= 0");
  }
  config.partitions = absl::GetFlag(FLAGS_partitions);
  if (config.partitions < 1 || config.partitions > 16384) {
    return absl::InvalidArgumentError("--partitions: must be 1-16384");
  }
  config.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  if (config.max_message_bytes < 1024) {
    return absl::InvalidArgumentError("--max_message_bytes: must be >= 1024");
  }
  config.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  config.health_interval = absl::GetFlag(FLAGS_health_interval);
  if (config.shutdown_grace < absl::ZeroDuration() ||
      config.health_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "--shutdown_grace must be >= 0 and --health_interval > 0");
  }
  if (!ParseLogLevel(absl::GetFlag(FLAGS_log_level), &config.log_level)) {
    return absl::InvalidArgumentError(
        "--log_level: must be debug, info, warning or error");
  }
  config.request_log = absl::GetFlag(FLAGS_request_log);
  config.log_pseudonym_key = absl::GetFlag(FLAGS_log_pseudonym_key);
  absl::StatusOr<rating::RateLimits> limits =
      rating::RateLimits::Parse(absl::GetFlag(FLAGS_rate_limits));
  if (!limits.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rate_limits: ", limits.status().message()));
  }
  config.rating.limits = *std::move(limits);
  config.rating.idempotency_ttl = absl::GetFlag(FLAGS_idempotency_ttl);
  config.rating.claim_lease = absl::GetFlag(FLAGS_claim_lease);
  if (config.rating.idempotency_ttl < absl::Minutes(1) ||
      config.rating.claim_lease < absl::Seconds(1)) {
    return absl::InvalidArgumentError(
        "--idempotency_ttl must be >= 1m and --claim_lease >= 1s");
  }
  config.insecure_dev = absl::GetFlag(FLAGS_insecure_dev);
  auth::AuthOptions& a = config.auth;
  a.insecure_dev = config.insecure_dev;
  a.jwt_issuer = absl::GetFlag(FLAGS_jwt_issuer);
  a.jwt_audience = absl::GetFlag(FLAGS_jwt_audience);
  a.jwt_key_file = absl::GetFlag(FLAGS_jwt_key_file);
  std::optional<auth::JwtAlgorithm> algorithm =
      auth::ParseJwtAlgorithm(absl::GetFlag(FLAGS_jwt_algorithm));
  if (!algorithm.has_value()) {
    return absl::InvalidArgumentError(
        "--jwt_algorithm: must be HS256, RS256 or ES256");
  }
  a.jwt_algorithm = *algorithm;
  a.jwt_leeway = absl::GetFlag(FLAGS_jwt_leeway);
  a.api_keys_file = absl::GetFlag(FLAGS_api_keys_file);
  a.tls_clients_file = absl::GetFlag(FLAGS_tls_clients_file);
  a.reload_interval = absl::GetFlag(FLAGS_auth_reload_interval);
  config.tls.cert_file = absl::GetFlag(FLAGS_tls_cert);
  config.tls.key_file = absl::GetFlag(FLAGS_tls_key);
  config.tls.client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  config.tls.refresh_interval = absl::GetFlag(FLAGS_tls_refresh_interval);
  if (config.insecure_dev) {
    absl::Status loopback = auth::CheckInsecureAllowed(config.listen);
    if (!loopback.ok()) return loopback;
  } else if (config.tls.cert_file.empty() || config.tls.key_file.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key are required: makegood moves money and "
        "does not serve plaintext, except with --insecure_dev on a loopback "
        "address for development");
  }
  config.admin_listen = absl::GetFlag(FLAGS_admin_listen);
  config.goodwill.agent_daily_budget_minor =
      absl::GetFlag(FLAGS_goodwill_agent_daily_budget);
  config.goodwill.member_budget_minor =
      absl::GetFlag(FLAGS_goodwill_member_budget);
  if (config.goodwill.agent_daily_budget_minor < 0 ||
      config.goodwill.member_budget_minor < 0) {
    return absl::InvalidArgumentError(
        "--goodwill_agent_daily_budget and --goodwill_member_budget must be "
        ">= 0");
  }
  config.insights_aggregator = absl::GetFlag(FLAGS_insights_aggregator);
  config.retention_day = absl::GetFlag(FLAGS_retention_day);
  config.retention_sweep_interval =
      absl::GetFlag(FLAGS_retention_sweep_interval);
  if (config.retention_day < absl::Milliseconds(1) ||
      config.retention_sweep_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError(
        "--retention_day must be >= 1ms and --retention_sweep_interval >= "
        "10ms");
  }
  config.rating.retention_day = config.retention_day;
  config.experiment_poll_interval =
      absl::GetFlag(FLAGS_experiment_poll_interval);
  config.experiment_guard_interval =
      absl::GetFlag(FLAGS_experiment_guard_interval);
  if (config.experiment_poll_interval < absl::Milliseconds(10) ||
      config.experiment_guard_interval < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError(
        "--experiment_poll_interval and --experiment_guard_interval must be "
        ">= 10ms");
  }
  config.serve_api = absl::GetFlag(FLAGS_serve_api);
  SettlementConfig& settlement = config.settlement;
  settlement.run_worker = absl::GetFlag(FLAGS_settlement_worker);
  settlement.consumer = absl::GetFlag(FLAGS_settlement_consumer);
  if (settlement.consumer.empty()) {
    char host[256] = {0};
    settlement.consumer =
        gethostname(host, sizeof(host) - 1) == 0 ? host : "worker";
  }
  settlement.card_provider = absl::GetFlag(FLAGS_card_provider);
  if (settlement.card_provider != "sandbox" &&
      settlement.card_provider != "http") {
    return absl::InvalidArgumentError(
        "--card_provider: must be sandbox or http");
  }
  settlement.sandbox_spec = absl::GetFlag(FLAGS_sandbox);
  settlement.http_url = absl::GetFlag(FLAGS_http_provider_url);
  settlement.http_api_key_file =
      absl::GetFlag(FLAGS_http_provider_api_key_file);
  settlement.http_ca_file = absl::GetFlag(FLAGS_http_provider_ca);
  settlement.http_timeout = absl::GetFlag(FLAGS_http_provider_timeout);
  if (settlement.card_provider == "http" &&
      (settlement.http_url.empty() || settlement.http_api_key_file.empty())) {
    return absl::InvalidArgumentError(
        "--card_provider=http needs --http_provider_url and "
        "--http_provider_api_key_file");
  }
  std::string fallback = absl::GetFlag(FLAGS_settlement_fallback);
  if (fallback != "wallet" && fallback != "none") {
    return absl::InvalidArgumentError(
        "--settlement_fallback: must be wallet or none");
  }
  settlement.fallback = fallback == "none" ? "" : fallback;
  settlement.max_in_flight = absl::GetFlag(FLAGS_settlement_concurrency);
  settlement.retry_after = absl::GetFlag(FLAGS_settlement_retry_after);
  settlement.max_deliveries = absl::GetFlag(FLAGS_settlement_max_deliveries);
  if (settlement.max_in_flight < 1 || settlement.max_deliveries < 1 ||
      settlement.retry_after < absl::Milliseconds(10)) {
    return absl::InvalidArgumentError(
        "--settlement_concurrency and --settlement_max_deliveries must be >= "
        "1, --settlement_retry_after >= 10ms");
  }
  if (!config.serve_api && !settlement.run_worker &&
      !config.insights_aggregator) {
    return absl::InvalidArgumentError(
        "--serve_api=false without --settlement_worker would do nothing");
  }
  return config;
}

}  // namespace makegood::server
