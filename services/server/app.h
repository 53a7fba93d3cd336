// File: services/server/app.h
//
// The assembled makegood server: Redis client, stores, policy, gRPC services,
// health and reflection, wired from a ServerConfig. main() runs one; the
// integration tests run one in-process.
//
// Example:
//   auto app = App::Start(config, RealClock());
//   if (!app.ok()) { /* bad config or the port is taken */ }
//   ... (*app)->port() ...
//   (*app)->Shutdown();  // stop accepting, drain, stop Redis
//
// Thread-safety: Start/Shutdown from one thread.
#pragma once

#include <memory>

#include "absl/status/statusor.h"
#include "services/core/clock.h"
#include "services/metrics/metrics.h"
#include "services/server/config.h"
#include "services/settlement/worker.h"

namespace makegood::server {

class App {
 public:
  // Loads the policy, starts Redis I/O and the gRPC server. Does not wait for
  // Redis: the health service reports NOT_SERVING until it answers.
  static absl::StatusOr<std::unique_ptr<App>> Start(const ServerConfig& config,
                                                    const Clock& clock);

  ~App();

  // The port the gRPC server listens on.
  int port() const;

  // The port of /metrics (--admin_listen), 0 if none.
  int admin_port() const;

  // What the server measured (as GET /metrics serves it), for tests.
  const metrics::Metrics& metrics() const;

  // Counters of the in-process settlement worker (zero without one).
  settlement::WorkerStats settlement_stats() const;

  // Graceful stop: health goes NOT_SERVING, new calls are refused, in-flight
  // calls get up to config.shutdown_grace to finish (then are cancelled), then
  // Redis I/O stops. Idempotent.
  void Shutdown();

 private:
  struct Parts;
  explicit App(std::unique_ptr<Parts> parts);
  static absl::Status StartAdmin(const ServerConfig& config, Parts& parts);
  static absl::Status StartSettlement(const ServerConfig& config,
                                      const Clock& clock, Parts& parts);

  std::unique_ptr<Parts> parts_;
};

}  // namespace makegood::server
