// File: services/redis/connection.h
//
// Connection: one hiredis async connection of a HiredisClient (or, to one
// node, of a ClusterClient) and its state machine, internal to
// services/redis. It connects (through the sentinels in
// Sentinel mode), sends AUTH/SELECT (and ROLE in Sentinel mode) ahead of user
// commands, sends commands, turns their replies into results, times out a
// stalled server and reconnects with exponential backoff.
//
// Direct mode: kDisconnected -> kConnecting -> kReady.
// Sentinel mode: kDisconnected -> kResolving (the sentinels name the
// primary) -> kConnecting -> kVerifying (ROLE must say master) -> kReady.
// kClosing: a ready connection that must be dropped (reset at the next tick,
// since hiredis does not allow freeing a context inside its callbacks).
//
// Every command handed to Send completes exactly once through
// ClientState::Finish: with its reply, or UNAVAILABLE when the connection is
// reset or destroyed. A NOSCRIPT answer to an EVALSHA goes back to
// `redispatch` once, as EVAL.
//
// Thread-safety: lives on the loop thread only.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/redis/client_state.h"
#include "services/redis/redis_options.h"

struct redisAsyncContext;

namespace makegood::redis {

class Sentinels;

class Connection {
 public:
  using Redispatch = absl::AnyInvocable<void(std::unique_ptr<PendingCommand>)>;

  // `client` must outlive this object, and so must `sentinels` (null in
  // direct mode) except while both are being destroyed: the destructor does
  // not use it. `redispatch` sends a command again on any ready connection.
  Connection(int index, ClientState& client, Sentinels* sentinels,
             Redispatch redispatch);
  // Cluster mode: a connection to the node at `address` (not options.host).
  Connection(int index, ClientState& client, RedisAddress address,
             Redispatch redispatch);

  // Fails the commands in flight with UNAVAILABLE.
  ~Connection();

  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool ready() const { return state_ == State::kReady; }
  // Whether it has not been ready yet and its first attempt is under way
  // (cluster mode: a command redirected here waits for it).
  bool first_connect_pending() const {
    return !ever_ready_ && failed_attempts_ == 0;
  }
  const RedisAddress& address() const { return address_; }

  // Cluster mode: called with an error reply before it becomes a result; it
  // returns true when it took `command` over (e.g. to follow a MOVED), else
  // leaves `command` alone and the error completes it as usual.
  using ErrorReplyHandler = absl::AnyInvocable<bool(
      std::unique_ptr<PendingCommand>& command, absl::string_view error)>;
  void set_error_reply_handler(ErrorReplyHandler handler) {
    error_reply_handler_ = std::move(handler);
  }

  // Cluster mode: sends ASKING, so that the next command on this connection
  // may use a slot being imported; only while ready().
  void SendAsking();

  // Sends `command`; only while ready().
  void Send(std::unique_ptr<PendingCommand> command);

  // Connects when due, and resets the connection when its connect or its
  // oldest command is past due, or when it was marked for reset.
  void Tick(SteadyTime now);

  // Sentinel mode: the sentinels name `primary`. A connection to another
  // server is dropped (it reconnects through the sentinels): after a
  // failover the old primary keeps taking writes until Sentinel demotes it.
  void PrimaryIs(const RedisAddress& primary);

 private:
  enum class State {
    kDisconnected,
    kResolving,
    kConnecting,
    kVerifying,
    kReady,
    kClosing
  };

  bool sentinel_mode() const { return sentinels_ != nullptr; }

  void SetState(State state);
  // Takes the connection out of use now and drops it at the next tick; the
  // first reason given is what its commands in flight fail with.
  void MarkForReset(absl::Status why);
  void Connect(SteadyTime now);
  void Resolved(absl::StatusOr<RedisAddress> primary);
  void ConnectTo(RedisAddress address, SteadyTime now);
  void ScheduleReconnect(SteadyTime now);
  // Drops the connection: every command in flight fails with `why`.
  void Reset(absl::Status why);
  // Logs the first failed attempt of an outage only; retries are quiet.
  void ConnectFailed(absl::string_view error);
  void ConnectFailed(const char* error);
  // The connection failed or was closed by the server: hiredis frees it.
  void Lost(bool connecting, const char* error);
  // Sends AUTH/SELECT/ROLE ahead of user commands. Without `done`, a failure
  // drops the connection at the next tick.
  void SendSetup(std::vector<std::string> argv,
                 RedisClient::Callback done = nullptr);
  // Sentinel mode: the connection is used only once ROLE says "master"; the
  // sentinels may name a server that is no longer (or not yet) the primary.
  void SendRoleCheck();
  // Ready for commands: counts and logs it, and resets the backoff.
  void Established();
  // Sentinel mode: a READONLY reply; the server became a replica under us.
  void Demoted();

  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);

  ClientState& client_;
  Sentinels* const sentinels_;
  Redispatch redispatch_;
  const int index_;
  redisAsyncContext* ctx_ = nullptr;
  State state_ = State::kDisconnected;
  // The server connected to (or last tried).
  RedisAddress address_;
  std::deque<std::unique_ptr<PendingCommand>> inflight_;
  SteadyTime connect_deadline_{};
  SteadyTime next_attempt_{};
  std::chrono::nanoseconds backoff_;
  int64_t failed_attempts_ = 0;
  // Cluster mode: the node (fixed), and what error replies go through.
  std::optional<RedisAddress> fixed_address_;
  ErrorReplyHandler error_reply_handler_;
  bool ever_ready_ = false;
  // Set when the connection must be dropped at the next tick (hiredis does
  // not allow freeing a context from inside its own callbacks).
  absl::Status reset_reason_;
};

}  // namespace makegood::redis
