// File: services/redis/redis_options.h
//
// Where a Redis client connects and how it behaves (timeouts, connections,
// back-pressure), and the Redis URL forms that fill these options
// (redis_url.cc).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/redis/client_observer.h"

namespace makegood::redis {

// A server's address: a host name, IPv4 or IPv6 address (no brackets), and
// a TCP port.
struct RedisAddress {
  std::string host;
  int port = 0;

  bool operator==(const RedisAddress&) const = default;
};

// "host:port", or "[host]:port" for an IPv6 address.
std::string FormatRedisAddress(const RedisAddress& address);

struct RedisOptions {
  // Direct mode: the server. Ignored in sentinel mode.
  std::string host = "127.0.0.1";
  int port = 6379;
  // Database, user and password on the server (in sentinel mode, on the
  // primary the sentinels name).
  int db = 0;
  std::string username;  // Empty: AUTH with the password only.
  std::string password;  // Empty: no AUTH.
  // Sentinel mode when non-empty: the sentinels to ask, in this order, for
  // the address of the primary called `sentinel_master`.
  std::vector<RedisAddress> sentinels;
  std::string sentinel_master;
  std::string sentinel_password;  // Empty: no AUTH to the sentinels.
  // Deadline of one question to one sentinel (connect and answer).
  absl::Duration sentinel_timeout = absl::Milliseconds(500);
  // How often the sentinels are asked whether the primary moved.
  absl::Duration sentinel_check_interval = absl::Seconds(1);
  // Cluster mode when non-empty (cluster_client.h): the nodes asked
  // first for the slot map (CLUSTER SLOTS). host/port/db/sentinels are then
  // unused; username/password are for every node.
  std::vector<RedisAddress> cluster_nodes;
  // Cluster mode: the slot map is fetched again at most this often when
  // redirects or unreachable nodes ask for it, and at least every
  // cluster_refresh_interval.
  absl::Duration cluster_refresh_min_interval = absl::Seconds(1);
  absl::Duration cluster_refresh_interval = absl::Seconds(15);
  // Connections multiplexed by the I/O thread, round-robin (cluster mode:
  // one per primary instead).
  int connections = 2;
  absl::Duration command_timeout = absl::Seconds(1);
  absl::Duration connect_timeout = absl::Seconds(1);
  int max_outstanding = 10000;
  absl::Duration reconnect_min_backoff = absl::Milliseconds(20);
  absl::Duration reconnect_max_backoff = absl::Milliseconds(500);
  // If set, told about every command, connection and fallback as it
  // happens (client_observer.h), e.g. to feed metrics. Not owned; must
  // outlive the client.
  ClientObserver* observer = nullptr;
};

// Parses a Redis URL into the address fields of `options` (host, port, db,
// username, password and the sentinel_* addresses; other fields keep their
// values). INVALID_ARGUMENT on bad URLs, leaving `options` untouched. Forms:
//
//   redis://[[user]:password@]host[:port][/db]
//     Direct mode; port 6379 and db 0 by default.
//
//   redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master[/db]
//       [?sentinel_password=PASSWORD]
//     Sentinel mode: the sentinels (port 26379 by default) are asked for the
//     primary called `master`. user/password are for the Redis servers; the
//     optional sentinel_password (everything after "=", verbatim) for the
//     sentinels. E.g.
//     redis-sentinel://:pw@sentinel-a:26379,sentinel-b:26379/mymaster/0
//
//   redis-cluster://[[user]:password@]host[:port][,host[:port]...]
//     Cluster mode (cluster_nodes): the nodes first asked for the slot map
//     (port 6379 by default); any node of the cluster will do, more than
//     one in case one is down. No database: a cluster has only db 0.
//
// IPv6 hosts go in brackets ([::1]:26379). Nothing is percent-decoded: a
// password may contain '@', ':' and '/', but not the text
// "?sentinel_password=".
absl::Status ParseRedisUrl(absl::string_view url, RedisOptions* options);

// Where `options` point, for logs and error messages (no credentials):
// "host:port/db", "sentinel master@host:port,host:port/db", or
// "cluster host:port,host:port".
std::string DescribeRedisTarget(const RedisOptions& options);

// A port: 1..65535, digits only.
bool ParsePort(absl::string_view text, int* port);

}  // namespace makegood::redis
