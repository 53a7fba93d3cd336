// File: tests/testing/redis_server.h
//
// A real redis-server for integration and end-to-end tests, on a free
// loopback port with its own temporary directory, no persistence. It can be
// stopped, killed, restarted on the same port, and paused (SIGSTOP) to
// simulate a hung Redis. It can also run as a replica (extra arguments such
// as --replicaof) or as a Redis Sentinel.
//
// Thread-safety: not thread-safe; owned by one test.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tests/testing/subprocess.h"

namespace makegood::testing {

class RedisServer {
 public:
  // Starts redis-server and waits until it accepts connections.
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start();
  // The same with `extra_args` appended to its command line, e.g.
  // {"--replicaof", "127.0.0.1", "6380"}; kept for Restart().
  static absl::StatusOr<std::unique_ptr<RedisServer>> Start(
      std::vector<std::string> extra_args);
  // Starts a Redis Sentinel whose configuration file (in its temporary
  // directory, which Sentinel rewrites) holds `config`, e.g.
  // "sentinel monitor mymaster 127.0.0.1 6380 1\n".
  static absl::StatusOr<std::unique_ptr<RedisServer>> StartSentinel(
      const std::string& config);

  ~RedisServer();

  int port() const { return port_; }
  // "redis://127.0.0.1:<port>/0".
  std::string url() const;

  // Stops it (SIGTERM, waits for exit). Data is gone (no persistence).
  absl::Status Stop();
  // SIGKILL, as in a crash: no shutdown, connections reset at once.
  absl::Status Kill();
  // Starts it again on the same port.
  absl::Status Restart();
  // SIGSTOP / SIGCONT: connections stay open but nothing is answered.
  void Pause();
  void Resume();

 private:
  RedisServer(int port, std::string dir, std::vector<std::string> extra_args,
              bool sentinel)
      : port_(port),
        dir_(std::move(dir)),
        extra_args_(std::move(extra_args)),
        sentinel_(sentinel) {}
  static absl::StatusOr<std::unique_ptr<RedisServer>> StartIn(
      const std::string& dir, const std::vector<std::string>& extra_args,
      bool sentinel);
  absl::Status Launch();

  int port_;
  std::string dir_;
  std::vector<std::string> extra_args_;
  bool sentinel_;
  std::unique_ptr<Subprocess> process_;
};

}  // namespace makegood::testing
