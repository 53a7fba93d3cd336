// File: tests/testing/redis_server.h
//
// A real redis-server for integration and end-to-end tests, on a free
// loopback port with its own temporary directory, no persistence. It can be
// stopped, restarted on the same port, and paused (SIGSTOP) to simulate a
// hung Redis.
//
// Thread-safety: not thread-safe; owned by one test.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace makegood::testing {

class RedisServer {
 public:
  // Starts redis-server and waits until it accepts connections.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start();

  ~RedisServer();

  int port() const { return port_; }
  // "redis://127.0.0.1:<port>/0".
  std::string url() const;

  // Stops it (SIGTERM, waits for exit). Data is gone (no persistence).
  absl::Status Stop();
  // Starts it again on the same port.
  absl::Status Restart();
  // SIGSTOP / SIGCONT: connections stay open but nothing is answered.
  void Pause();
  void Resume();

 private:
  RedisServer(int port, std::string dir) : port_(port), dir_(std::move(dir)) {}
  absl::Status Launch();

  int port_;
  std::string dir_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace makegood::testing
