// File: services/server/config.h
//
// The server's configuration: command-line flags, each also settable through
// an environment variable MAKEGOOD_<FLAG NAME IN UPPER CASE> (for Kubernetes).
// Precedence: flag > environment > default. Bad values stop the process at
// start-up with a message naming the flag or variable.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/auth/authenticator.h"
#include "services/auth/tls_credentials.h"
#include "services/core/log.h"
#include "services/goodwill/goodwill_flow.h"
#include "services/rating/rating_flow.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"

namespace makegood::server {

// The settlement worker and its payment providers (see
// services/settlement/worker.h).
struct SettlementConfig {
  // Run a settlement worker inside this process.
  bool run_worker = false;
  // Consumer name in the outbox consumer group: stable per process across
  // restarts (default: the host name, i.e. the pod name).
  std::string consumer;
  // Card refunds: "sandbox" or "http".
  std::string card_provider = "sandbox";
  std::string sandbox_spec;
  std::string http_url;
  std::string http_api_key_file;
  std::string http_ca_file;
  absl::Duration http_timeout = absl::Seconds(10);
  // "wallet": a declined card refund becomes wallet credit; "none": FAILED.
  std::string fallback = "wallet";
  int max_in_flight = 64;
  absl::Duration retry_after = absl::Seconds(30);
  int max_deliveries = 8;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:50051";
  redis::RedisOptions redis;
  std::string redis_url = "redis://127.0.0.1:6379/0";
  std::string policy_path;
  // Candidate policy decided beside the active one (never moves money).
  std::string shadow_policy_path;
  int partitions = 64;
  int max_message_bytes = 1 << 20;
  absl::Duration shutdown_grace = absl::Seconds(20);
  absl::Duration health_interval = absl::Milliseconds(500);
  // How often the policy file is checked for changes; zero: never.
  absl::Duration policy_reload_interval = absl::Seconds(2);
  LogLevel log_level = LogLevel::kInfo;
  // One structured line per RPC (event "rpc"), member ids pseudonymised
  // with HMAC-SHA256 under log_pseudonym_key (random per process if empty).
  bool request_log = false;
  std::string log_pseudonym_key;
  rating::RatingFlowOptions rating;
  // Plaintext, no credentials, every role: loopback development only.
  bool insecure_dev = false;
  // Who may call (JWT, API keys, mTLS clients); insecure_dev copied in.
  auth::AuthOptions auth;
  // TLS of the gRPC port; required unless insecure_dev.
  auth::ServerTlsOptions tls;
  // Prometheus /metrics on its own "IPv4:port"; empty: off.
  std::string admin_listen;
  goodwill::GoodwillOptions goodwill;
  // Fold decision events into the insights aggregates in this process, and
  // close retention windows when due (retention/sweeper.h).
  bool insights_aggregator = false;
  // A day of the retention windows (7, 30, 90 days after a trouble): a day
  // but in simulations; also in config.rating.retention_day.
  absl::Duration retention_day = absl::Hours(24);
  absl::Duration retention_sweep_interval = absl::Seconds(60);
  // How often each replica looks for a started or stopped policy
  // experiment, and how often the worker processes check its guardrails.
  absl::Duration experiment_poll_interval = absl::Seconds(1);
  absl::Duration experiment_guard_interval = absl::Seconds(5);
  // Serve the public API; false leaves only health (a worker-only process).
  bool serve_api = true;
  SettlementConfig settlement;
};

// Applies MAKEGOOD_* environment variables to the flags they name. Call before
// absl::ParseCommandLine so flags given on the command line win.
absl::Status ApplyEnvironment();

// True if argv asks for help (--help, -h, --helpfull).
bool WantsHelp(int argc, char** argv);

// The --help text: usage, every flag with its variable and default.
std::string HelpText();

// Reads the parsed flags into a validated config.
absl::StatusOr<ServerConfig> ConfigFromFlags();

}  // namespace makegood::server
