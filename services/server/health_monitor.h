// File: services/server/health_monitor.h
//
// Keeps grpc.health.v1.Health in step with Redis: SERVING only while a Redis
// check succeeds (reachable, writable and holding this deployment's key
// schema), NOT_SERVING otherwise, and back by itself when Redis returns.
//
// Checks are asynchronous: a hung Redis never delays Stop(), so SIGTERM
// drains at once.
//
// Thread-safety: Start/Stop from one thread; serving() from any.
#pragma once

#include <memory>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/health_check_service_interface.h"
#include "services/redis/redis_client.h"
#include "services/store/key_schema.h"

namespace makegood::server {

class HealthMonitor {
 public:
  // Does not take ownership; all must outlive the monitor (`health` only
  // until Stop() returns).
  HealthMonitor(redis::RedisClient& redis, const store::KeySchema& keys,
                grpc::HealthCheckServiceInterface& health,
                absl::Duration interval);

  ~HealthMonitor() { Stop(); }

  // Checks at once, then every interval, from its own thread.
  void Start();
  // Stops checking and reports NOT_SERVING for good (shutdown). Does not
  // wait for a check in flight.
  void Stop();

  bool serving() const;

 private:
  // Shared with check callbacks, which may outlive the monitor (they run
  // when Redis answers or the client shuts down).
  struct State;

  void Run();
  void CheckOnce();

  redis::RedisClient& redis_;
  const store::KeySchema& keys_;
  const absl::Duration interval_;
  std::shared_ptr<State> state_;
  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace makegood::server
