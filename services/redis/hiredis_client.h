// File: services/redis/hiredis_client.h
//
// HiredisClient: the production RedisClient (redis_client.h), over hiredis.
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
// The parts, internal to services/redis: connection.h (one connection and
// its state machine), command_loop.h (the I/O thread, its queue and the
// outstanding cap), sentinels.h (asking the sentinels), client_state.h
// (what the client shares with them: options, event loop, observer, how a
// command completes) and hiredis_conversion.h (argv out, replies in).
//
// Example:
//   auto client = HiredisClient::Start(options);
//   (*client)->Command({"PING"}, [](absl::StatusOr<RedisReply> reply) { ... });
//
// Thread-safety: all public methods are thread-safe. Callbacks run on the I/O
// thread and must not block; they may issue further commands.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"

namespace makegood::redis {

// The client's parts, internal to services/redis: client_state.h,
// command_loop.h, connection.h, sentinels.h.
struct ClientState;
struct PendingCommand;
class CommandLoop;
class Connection;
class Sentinels;

class HiredisClient final : public RedisClient {
 public:
  // Starts the I/O thread and begins connecting; does not wait for Redis.
  // Fails only on bad options or if the event loop cannot be created.
  static absl::StatusOr<std::unique_ptr<HiredisClient>> Start(
      RedisOptions options);

  // Stops the I/O thread; commands still pending fail with UNAVAILABLE.
  ~HiredisClient() override;

  HiredisClient(const HiredisClient&) = delete;
  HiredisClient& operator=(const HiredisClient&) = delete;

  // Sends `argv` (binary-safe). `done` gets the reply, or:
  //   UNAVAILABLE   Redis unreachable, timed out, connection lost, or the cap
  //                 of outstanding commands reached (retry later);
  //   INTERNAL      Redis answered with an error (the message has its text);
  //                 LOADING/BUSY/READONLY/MASTERDOWN/OOM/TRYAGAIN answers are
  //                 UNAVAILABLE since they pass (in sentinel mode READONLY
  //                 also drops the connection, which asks the sentinels
  //                 where the primary went).
  void Command(std::vector<std::string> argv, Callback done) override;

  // Runs `script` with EVALSHA; on NOSCRIPT sends it with EVAL (which also
  // caches it on the server). Errors as for Command.
  void Eval(const LuaScript& script, std::vector<std::string> keys,
            std::vector<std::string> args, Callback done) override;

  // Blocking convenience for tools, tests and start-up. Never call it from the
  // I/O thread (a callback) or from a gRPC handler.
  absl::StatusOr<RedisReply> CommandSync(
      std::vector<std::string> argv) override;

  // Number of connections currently ready to send.
  int ready_connections() const override;

  const RedisOptions& options() const;

 private:
  explicit HiredisClient(RedisOptions options);

  // Loop thread: hands a command to a ready connection, or fails it.
  void Dispatch(std::unique_ptr<PendingCommand> command);
  void Tick(std::chrono::steady_clock::time_point now);

  // The options, the event loop (owned by loop_) and the counters, shared
  // with the connections and the sentinels; outlives them.
  const std::unique_ptr<ClientState> state_;
  // The I/O thread, its queue and the outstanding cap (command_loop.h).
  const std::unique_ptr<CommandLoop> loop_;
  // Owned by the loop thread once it starts.
  std::vector<std::unique_ptr<Connection>> connections_;
  size_t next_connection_ = 0;
  // Sentinel mode only (else null). Destroyed before connections_.
  std::unique_ptr<Sentinels> sentinels_;
};

}  // namespace makegood::redis
