// File: services/redis/cluster_client.h
//
// ClusterClient: a RedisClient (redis_client.h) for Redis Cluster, over
// hiredis 0.14's async API, for a redis-cluster:// URL. hiredis 0.14 knows
// nothing of clusters and no Debian package offers a cluster client, so the
// routing is here. It shares its parts with HiredisClient: the I/O thread
// and the outstanding cap (command_loop.h), connections with their
// deadlines and reconnects (connection.h), replies and errors
// (hiredis_conversion.h), the observer (client_observer.h).
//
// Routing:
//   - the slot map (which primary serves each of the 16384 slots) comes from
//     CLUSTER SLOTS, asked of a random ready node (the seeds of the URL
//     first, then any node known). It is fetched again when a redirect,
//     CLUSTERDOWN or an unreachable primary asks for it, one question at a
//     time and at most every cluster_refresh_min_interval, and anyway every
//     cluster_refresh_interval;
//   - a command goes to the primary of the slot of its routing key
//     (slot_map.h, RoutingKey: the first KEYS entry of a script, else the
//     first key argument); one without keys goes to any primary;
//   - one pipelined connection per node (options.connections is unused).
//
// Redirects and retries (Redis answers them before it runs anything, so a
// write may be sent again after them; never after a lost connection, where
// it may have run):
//   - MOVED: the slot is set to that node in the map, the command is sent
//     there, and a map refresh is asked for;
//   - ASK: ASKING and the command go to that node back to back; the map
//     stays as it is;
//   - TRYAGAIN, CLUSTERDOWN: sent again after a jittered backoff (10 ms,
//     doubling, at most 1 s), at most 10 times and never past the
//     command's deadline; then UNAVAILABLE with Redis's text;
//   - NOSCRIPT (a promoted replica has no script cache): sent again as
//     EVAL, which also caches it there;
//   - at most 5 redirects in a row; a 6th fails UNAVAILABLE.
// For tools that must see every node or one instant (makegood_admin):
//   - Primaries() lists the primaries of the current map, and CommandOn
//     sends a command to one given node (SCAN, DBSIZE, INFO see only the
//     node they run on), following no redirect;
//   - Transaction runs a MULTI/EXEC block on the primary of its one slot:
//     MULTI, the commands and EXEC go back to back on that node's
//     connection, so nothing comes between them. A redirect, TRYAGAIN or
//     CLUSTERDOWN answered to any part (Redis then discards the block)
//     sends the whole block again, as for one command.
// Failures are as for HiredisClient: a command to a primary that is not
// connected fails at once with UNAVAILABLE (fail closed) and asks for a map
// refresh, so that after a failover the promoted replica is found without a
// restart. Every command keeps the deadline it got when submitted, across
// redirects and retries. A command that waits to be retried while newer ones
// for its slot go ahead may be overtaken: order within a slot holds only
// between commands that meet no redirect.
//
// Example:
//   RedisOptions options;
//   RETURN_IF_ERROR(ParseRedisUrl("redis-cluster://10.0.0.1:6379", &options));
//   auto client = ClusterClient::Start(options);
//
// Thread-safety: all public methods are thread-safe. Callbacks run on the
// I/O thread and must not block; they may issue further commands.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/redis/redis_client.h"
#include "services/redis/redis_options.h"
#include "services/redis/slot_map.h"

namespace makegood::redis {

struct ClientState;
struct PendingCommand;
class CommandLoop;
class Connection;

class ClusterClient final : public RedisClient {
 public:
  // Starts the I/O thread and begins connecting to the seeds
  // (options.cluster_nodes); does not wait for the cluster. INVALID_ARGUMENT
  // on bad options.
  static absl::StatusOr<std::unique_ptr<ClusterClient>> Start(
      RedisOptions options);

  // Stops the I/O thread; commands still pending fail with UNAVAILABLE.
  ~ClusterClient() override;

  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  // Sends `argv` to the primary of its routing key's slot. Errors as for
  // HiredisClient::Command, plus: UNAVAILABLE when the slot map is not
  // known yet, the slot's primary is not connected, or redirects and
  // retries (above) ran out.
  void Command(std::vector<std::string> argv, Callback done) override;

  // EVALSHA to the primary of keys[0]'s slot; on NOSCRIPT, EVAL.
  void Eval(const LuaScript& script, std::vector<std::string> keys,
            std::vector<std::string> args, Callback done) override;

  // Never call it from the I/O thread (a callback) or a gRPC handler.
  absl::StatusOr<RedisReply> CommandSync(
      std::vector<std::string> argv) override;

  // Ready connections (to any node); 0 until the slot map is known.
  int ready_connections() const override;

  bool one_slot_per_command() const override { return true; }

  // The primaries serving at least one slot by the current slot map (empty
  // until it is known), e.g. to SCAN each of them.
  std::vector<RedisAddress> Primaries() const;

  // Sends `argv` to `node` itself, whatever keys it names: for commands
  // that see one node's keys only (SCAN, DBSIZE, INFO). No redirect is
  // followed and no retry made: an error reply completes it. UNAVAILABLE
  // when `node` is not connected.
  void CommandOn(const RedisAddress& node, std::vector<std::string> argv,
                 Callback done);

  // Runs `commands` as one MULTI/EXEC block on the primary of their slot,
  // so that their replies describe one instant. Every command's routing
  // key must be in one slot (BlockSlot, slot_map.h), else INVALID_ARGUMENT
  // at once (`done` then runs on the calling thread). `done` gets EXEC's
  // reply: an array with one reply per command (a command's own runtime
  // error is an element of type kError). A block Redis refused to queue
  // fails with the first refusal's error (e.g. CROSSSLOT, INTERNAL), unless
  // it was a redirect, TRYAGAIN or CLUSTERDOWN: then the block is sent
  // again as one command would be (MOVED patches the map; ASK sends ASKING
  // before MULTI).
  void Transaction(std::vector<std::vector<std::string>> commands,
                   Callback done);

  const RedisOptions& options() const;

 private:
  using SteadyTime = std::chrono::steady_clock::time_point;

  explicit ClusterClient(RedisOptions options);

  // Loop thread from here on.
  void Dispatch(std::unique_ptr<PendingCommand> command);
  void Tick(SteadyTime now);
  // The connection to `node`, made (and started) if there is none.
  Connection& ConnectionTo(const RedisAddress& node);
  // An error reply from `node`: follows redirects and retries; false when
  // the error completes the command.
  bool OnErrorReply(const RedisAddress& node,
                    std::unique_ptr<PendingCommand>& command,
                    absl::string_view error);
  // Sends `command` again after a backoff, or false when its retries or its
  // deadline are spent.
  bool Retry(std::unique_ptr<PendingCommand>& command, absl::string_view error);
  void Park(std::unique_ptr<PendingCommand> command, SteadyTime not_before,
            absl::Status reason);
  // Asks for a map refresh; Tick starts it when throttling allows.
  void RequestRefresh() { refresh_wanted_ = true; }
  void StartRefresh(SteadyTime now);
  void Refreshed(const RedisAddress& asked, absl::StatusOr<RedisReply> reply);
  // Drops connections to nodes that are neither primaries nor seeds.
  void Prune();
  // A primary for a command without keys (round-robin over ready ones).
  const RedisAddress* AnyPrimary();
  // Sets primaries_ and the copy Primaries() reads.
  void SetPrimaries(std::vector<RedisAddress> primaries);
  // Sends a Transaction's block on `connection` (ready): ASKING when
  // `asked`, MULTI, its commands, EXEC.
  void SendBlock(Connection& connection, std::unique_ptr<PendingCommand> block,
                 bool asked);
  // EXEC's reply to `block`, sent to `node`; `refused` is the first error
  // a part of it was answered with (empty if none).
  void BlockDone(const RedisAddress& node,
                 std::unique_ptr<PendingCommand> block,
                 const std::string& refused, absl::StatusOr<RedisReply> exec);

  const std::unique_ptr<ClientState> state_;
  const std::unique_ptr<CommandLoop> loop_;
  // Owned by the loop thread once it starts. A std::map: connections are
  // added from callbacks while Tick walks it, which must not invalidate it.
  std::map<std::string, std::unique_ptr<Connection>> connections_;
  SlotMap map_;
  std::vector<RedisAddress> primaries_;
  size_t next_primary_ = 0;
  std::vector<std::unique_ptr<PendingCommand>> parked_;
  bool refresh_wanted_ = true;
  bool refresh_in_flight_ = false;
  bool prune_wanted_ = false;
  // Set when the loop stops: connections are going, nothing is sent.
  bool stopping_ = false;
  SteadyTime last_refresh_{};
  // Failed refreshes in a row (only the first is logged).
  int64_t refresh_failures_ = 0;
  std::minstd_rand random_;
  std::atomic<bool> map_known_{false};
  // A copy of primaries_ for Primaries(), which any thread calls.
  mutable absl::Mutex primaries_mu_;
  std::vector<RedisAddress> primaries_copy_ ABSL_GUARDED_BY(primaries_mu_);
};

}  // namespace makegood::redis
