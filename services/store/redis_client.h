// File: services/store/redis_client.h
//
// A non-blocking Redis client for gRPC callback handlers.
//
// One I/O thread runs a libevent loop over a few hiredis async connections.
// Callers on any thread hand it commands; the loop writes every queued command
// in one go (hiredis buffers them, libevent flushes in one write), so
// concurrent requests are pipelined. hiredis 0.14 has no timeouts, connect
// timeouts, reconnects or back-pressure, so this class adds them:
//   - every command has a deadline; a connection whose oldest command misses it
//     is reset (its commands fail UNAVAILABLE) and reconnected, because Redis
//     answers in order and a stalled connection answers nothing;
//   - disconnected connections reconnect with exponential backoff;
//   - while no connection is ready, commands fail at once with UNAVAILABLE
//     (fail closed: callers never wait on a dead Redis);
//   - at most `max_outstanding` commands are queued or in flight; more fail
//     with UNAVAILABLE.
// A failed command may still have run on Redis (the reply was lost): callers
// must make writes idempotent, as every makegood script is.
//
// Sentinel mode (RedisOptions::sentinels non-empty): the client finds the
// primary through Redis Sentinel instead of a fixed address.
//   - before each (re)connect it asks the sentinels, in turn, SENTINEL
//     get-master-addr-by-name (one question at a time, shared by every
//     connection that needs it; each sentinel gets sentinel_timeout, and one
//     that is down or answers badly is skipped), then connects to the answer
//     and sends ROLE: only a server answering "master" is used; a replica
//     (e.g. a demoted old primary that a stale sentinel still names) is
//     dropped and the sentinels asked again after backoff;
//   - a READONLY error reply means the server was demoted under us: that
//     command fails UNAVAILABLE as before, and its connection is dropped and
//     re-resolved;
//   - every sentinel_check_interval the sentinels are asked again, and
//     connections to any other address are dropped, because after a
//     failover the old primary keeps accepting writes (which replication
//     then discards) until Sentinel demotes it, ~10 s later.
// All of it runs on the I/O thread with non-blocking hiredis contexts; only
// host name lookups (getaddrinfo inside hiredis) block, as in direct mode.
//
// Example:
//   auto client = RedisClient::Start(options);
//   (*client)->Command({"PING"}, [](absl::StatusOr<RedisReply> reply) { ... });
//
// Thread-safety: all public methods are thread-safe. Callbacks run on the I/O
// thread and must not block; they may issue further commands.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/store/lua_script.h"
#include "services/store/redis_reply.h"

struct event_base;
struct event;

namespace makegood::store {

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
  // Connections multiplexed by the I/O thread, round-robin.
  int connections = 2;
  absl::Duration command_timeout = absl::Seconds(1);
  absl::Duration connect_timeout = absl::Seconds(1);
  int max_outstanding = 10000;
  absl::Duration reconnect_min_backoff = absl::Milliseconds(20);
  absl::Duration reconnect_max_backoff = absl::Milliseconds(500);
  // If set, called on the I/O thread with each command's submit -> reply
  // time (any outcome), e.g. to feed a latency histogram. Must be quick.
  std::function<void(absl::Duration)> observe_latency;
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
// IPv6 hosts go in brackets ([::1]:26379). Nothing is percent-decoded: a
// password may contain '@', ':' and '/', but not the text
// "?sentinel_password=".
absl::Status ParseRedisUrl(absl::string_view url, RedisOptions* options);

// Where `options` point, for logs and error messages (no credentials):
// "host:port/db", or "sentinel master@host:port,host:port/db".
std::string DescribeRedisTarget(const RedisOptions& options);

// Counters for metrics and tests; monotonically increasing.
struct RedisClientStats {
  uint64_t commands = 0;       // Commands accepted for sending.
  uint64_t failures = 0;       // Commands completed with a non-OK status.
  uint64_t timeouts = 0;       // Connections reset because a command timed out.
  uint64_t connects = 0;       // Successful connections (first and re-).
  uint64_t rejected_full = 0;  // Refused by the outstanding-command cap.
  uint64_t noscript = 0;       // EVALSHA fallbacks to EVAL.
  // Sentinel mode: connections dropped because their server was not (or no
  // longer) the primary: a READONLY reply, a ROLE other than master, or the
  // sentinels naming another address.
  uint64_t primary_changes = 0;
};

class RedisClient {
 public:
  using Callback = absl::AnyInvocable<void(absl::StatusOr<RedisReply>)>;

  // Starts the I/O thread and begins connecting; does not wait for Redis.
  // Fails only on bad options or if the event loop cannot be created.
  static absl::StatusOr<std::unique_ptr<RedisClient>> Start(
      RedisOptions options);

  // Stops the I/O thread; commands still pending fail with UNAVAILABLE.
  ~RedisClient();

  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends `argv` (binary-safe). `done` gets the reply, or:
  //   UNAVAILABLE   Redis unreachable, timed out, connection lost, or the cap
  //                 of outstanding commands reached (retry later);
  //   INTERNAL      Redis answered with an error (the message has its text);
  //                 LOADING/BUSY/READONLY/MASTERDOWN/OOM/TRYAGAIN answers are
  //                 UNAVAILABLE since they pass (in sentinel mode READONLY
  //                 also drops the connection, which asks the sentinels
  //                 where the primary went).
  void Command(std::vector<std::string> argv, Callback done);

  // Runs `script` with EVALSHA; on NOSCRIPT sends it with EVAL (which also
  // caches it on the server). Errors as for Command.
  void Eval(const LuaScript& script, std::vector<std::string> keys,
            std::vector<std::string> args, Callback done);

  // Blocking convenience for tools, tests and start-up. Never call it from the
  // I/O thread (a callback) or from a gRPC handler.
  absl::StatusOr<RedisReply> CommandSync(std::vector<std::string> argv);

  // Number of connections currently ready to send.
  int ready_connections() const {
    return ready_connections_.load(std::memory_order_relaxed);
  }

  RedisClientStats stats() const;

  const RedisOptions& options() const { return options_; }

 private:
  class Connection;
  class Sentinels;
  struct Pending;

  explicit RedisClient(RedisOptions options);

  void Run();
  void Submit(std::unique_ptr<Pending> pending);
  // Loop thread: hands a command to a ready connection, or fails it.
  void Dispatch(std::unique_ptr<Pending> pending);
  // Loop-thread handlers.
  static void OnWake(int fd, short events, void* arg);
  static void OnTick(int fd, short events, void* arg);
  void DrainQueue();
  void Finish(Pending* pending, absl::StatusOr<RedisReply> result);

  const RedisOptions options_;
  event_base* base_ = nullptr;
  event* wake_event_ = nullptr;
  event* tick_event_ = nullptr;
  int wake_fd_ = -1;
  std::thread thread_;
  // Owned by the loop thread once Run() starts.
  std::vector<std::unique_ptr<Connection>> connections_;
  size_t next_connection_ = 0;
  // Sentinel mode only (else null). Destroyed before connections_.
  std::unique_ptr<Sentinels> sentinels_;

  absl::Mutex mu_;
  std::vector<std::unique_ptr<Pending>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  // The I/O thread's id (set when it starts) and a lock-free copy of
  // stopping_, so commands issued from callbacks skip the queue.
  std::atomic<std::thread::id> loop_thread_id_{};
  std::atomic<bool> stopping_fast_{false};
  std::atomic<int> ready_connections_{0};
  std::atomic<int> outstanding_{0};
  std::atomic<uint64_t> commands_{0};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> timeouts_{0};
  std::atomic<uint64_t> connects_{0};
  std::atomic<uint64_t> rejected_full_{0};
  std::atomic<uint64_t> noscript_{0};
  std::atomic<uint64_t> primary_changes_{0};
};

}  // namespace makegood::store
