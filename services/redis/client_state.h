// File: services/redis/client_state.h
//
// What a HiredisClient (hiredis_client.h) or a ClusterClient
// (cluster_client.h) shares with its parts, internal to
// services/redis: the options, the event loop, the observer told about what
// happens, the two counts the client acts on, and the one place a command
// completes (Finish). The
// client owns one ClientState; its Connections (connection.h) and Sentinels
// (sentinels.h) hold a reference to it and must not outlive it.
//
// Also here: PendingCommand, a command on its way through the client, and the
// monotonic clock the client's timeouts are measured on.
//
// Thread-safety: options and base are set before the I/O thread starts and
// then only read; the counts are atomic; Finish runs on any thread but
// once per command (the first call wins, later ones do nothing).
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/redis/client_observer.h"
#include "services/redis/hiredis_client.h"
#include "services/redis/lua_script.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"
#include "services/redis/redis_reply.h"

struct event_base;

namespace makegood::redis {

// Timeouts use the monotonic clock: they measure elapsed time, not business
// time, so they do not go through the injected Clock.
using SteadyTime = std::chrono::steady_clock::time_point;
inline SteadyTime SteadyNow() { return std::chrono::steady_clock::now(); }

// "250ms", for logs and error messages.
std::string FormatMillis(absl::Duration d);

// A command from the moment it is accepted until its callback has run.
struct PendingCommand {
  std::vector<std::string> argv;
  RedisClient::Callback done;
  SteadyTime deadline;
  bool finished = false;
  // Set for EVALSHA: argv is kept until the reply so that a NOSCRIPT answer
  // can be re-sent as EVAL without copying it up front.
  const LuaScript* script = nullptr;
  bool sent_source = false;
  // Cluster mode (cluster_client.h): argv is kept until the reply, because a
  // redirect sends it again; the hash slot it routes by (-1: any primary);
  // the redirects and retries it has had; while set, the node that asked
  // for it (ASK) and must get it next, after ASKING.
  bool keep_argv = false;
  int slot = -1;
  int redirects = 0;
  int retries = 0;
  std::optional<RedisAddress> ask_target;
  // Cluster mode: a command waiting to be retried is sent at this time, or
  // fails with retry_reason once its deadline has passed.
  SteadyTime not_before{};
  absl::Status retry_reason;
  // Cluster mode: when set, sent to this node whatever its slot, and an
  // error reply (a redirect too) completes it (ClusterClient::CommandOn, and
  // the parts of a MULTI/EXEC block).
  std::optional<RedisAddress> node;
  // Cluster mode: a MULTI/EXEC block (ClusterClient::Transaction): these
  // commands go between MULTI and EXEC, back to back on the connection of
  // the slot's primary; `done` gets EXEC's reply.
  std::vector<std::vector<std::string>> block;
};

// An EVALSHA of `script` (keys then args) whose NOSCRIPT answer is re-sent
// as EVAL; both clients' Eval build their command with it.
std::unique_ptr<PendingCommand> EvalShaCommand(const LuaScript& script,
                                               std::vector<std::string> keys,
                                               std::vector<std::string> args,
                                               RedisClient::Callback done);

struct ClientState {
  explicit ClientState(RedisOptions redis_options)
      : options(std::move(redis_options)),
        observer(options.observer != nullptr ? *options.observer
                                             : NoObserver()) {}

  ClientState(const ClientState&) = delete;
  ClientState& operator=(const ClientState&) = delete;

  // Completes `command` with `result`: releases its place under
  // max_outstanding, reports it to the observer and runs its callback. Only
  // the first call for a command does anything.
  void Finish(PendingCommand* command, absl::StatusOr<RedisReply> result);

  // One more (`delta` 1) or one fewer (-1) ready connection.
  void AddReadyConnections(int delta);

  // The observer that does nothing, for a client given none.
  static ClientObserver& NoObserver();

  const RedisOptions options;
  ClientObserver& observer;
  event_base* base = nullptr;  // Owned by the client.

  std::atomic<int> ready_connections{0};
  std::atomic<int> outstanding{0};
};

}  // namespace makegood::redis
