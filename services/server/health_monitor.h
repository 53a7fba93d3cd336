// File: services/server/health_monitor.h
//
// Keeps grpc.health.v1.Health in step with Redis: SERVING only while a Redis
// check succeeds (reachable, writable and holding this deployment's key
// schema), NOT_SERVING otherwise, and back by itself when Redis returns.
//
// Thread-safety: Start/Stop from one thread; serving() from any.
#pragma once

#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "services/store/key_schema.h"
#include "services/store/redis_client.h"

namespace makegood::server {

class HealthMonitor {
 public:
  // Does not take ownership; all must outlive the monitor.
  HealthMonitor(store::RedisClient& redis, const store::KeySchema& keys,
                grpc::HealthCheckServiceInterface& health,
                absl::Duration interval)
      : redis_(redis), keys_(keys), health_(health), interval_(interval) {}

  ~HealthMonitor() { Stop(); }

  // Checks at once, then every interval, on its own thread.
  void Start();
  // Stops checking and reports NOT_SERVING for good (shutdown).
  void Stop();

  bool serving() const { return serving_.load(); }

 private:
  void Run();
  // One check; blocks this monitor's thread, never a gRPC or Redis thread.
  bool CheckOnce();
  void Report(bool serving, absl::string_view why);

  store::RedisClient& redis_;
  const store::KeySchema& keys_;
  grpc::HealthCheckServiceInterface& health_;
  const absl::Duration interval_;
  absl::Notification stop_;
  std::thread thread_;
  std::atomic<bool> serving_{false};
  bool reported_ = false;
  std::string last_problem_;
};

}  // namespace makegood::server
