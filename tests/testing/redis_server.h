// File: tests/testing/redis_server.h
//
// A real redis-server for integration and end-to-end tests, on a free
// loopback port with its own temporary directory, no persistence. It can be
// stopped, killed, restarted on the same port, and paused (SIGSTOP) to
// simulate a hung Redis. It can also run as a replica (extra arguments such
// as --replicaof) or as a Redis Sentinel.
//
// A primary's commands are recorded with MONITOR, and when the server is
// destroyed the scripts it ran are audited (script_key_audit.h): a script
// that touched a key it was not passed, or was passed keys in two hash
// slots, fails the running test. Tests that run scripts of their own may
// turn the audit off (set_key_audit).
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
  // Starts a Redis Cluster node (--cluster-enabled yes, its nodes.conf in
  // its temporary directory) with `extra_args` appended, on a port whose
  // cluster bus port (port + 10000) is free too. It is not part of a
  // cluster until redis-cli --cluster create (RedisCluster, in
  // redis_cluster.h) makes it one. Its scripts are audited as a primary's.
  static absl::StatusOr<std::unique_ptr<RedisServer>> StartClusterNode(
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

  // Whether destruction audits the scripts run (default: on for primaries).
  void set_key_audit(bool on) { key_audit_ = on; }
  // The violations so far (script_key_audit.h); runs the audit now.
  std::vector<std::string> AuditScriptKeys() const;

 private:
  RedisServer(int port, std::string dir, std::vector<std::string> extra_args,
              bool sentinel)
      : port_(port),
        dir_(std::move(dir)),
        extra_args_(std::move(extra_args)),
        sentinel_(sentinel) {}
  static absl::StatusOr<std::unique_ptr<RedisServer>> StartIn(
      const std::string& dir, const std::vector<std::string>& extra_args,
      bool sentinel, absl::StatusOr<int> (*pick_port)() = &PickFreePort);
  absl::Status Launch();
  // Starts `redis-cli monitor` into monitor_logs_'s next file.
  void StartMonitor();
  void StopMonitor();

  int port_;
  std::string dir_;
  std::vector<std::string> extra_args_;
  bool sentinel_;
  std::unique_ptr<Subprocess> process_;
  bool key_audit_ = true;
  std::unique_ptr<Subprocess> monitor_;
  std::vector<std::string> monitor_logs_;
};

}  // namespace makegood::testing
