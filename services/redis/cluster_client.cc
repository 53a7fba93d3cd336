// File: services/redis/cluster_client.cc
#include "services/redis/cluster_client.h"

#include <algorithm>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/core/log.h"
#include "services/redis/client_state.h"
#include "services/redis/command_loop.h"
#include "services/redis/connection.h"
#include "services/redis/hiredis_conversion.h"
#include "services/redis/key_slot.h"

namespace makegood::redis {
namespace {

// Redirects in a row (MOVED, ASK) before a command fails.
constexpr int kMaxRedirects = 5;
// TRYAGAIN / CLUSTERDOWN retries of one command.
constexpr int kMaxRetries = 10;
constexpr std::chrono::milliseconds kFirstBackoff{10};
constexpr std::chrono::milliseconds kMaxBackoff{1000};
// How often a command redirected to a node still connecting looks again.
constexpr std::chrono::milliseconds kConnectWait{5};
// How often the slot map is asked for while there is none.
constexpr std::chrono::milliseconds kFirstMapRetry{100};

}  // namespace

ClusterClient::ClusterClient(RedisOptions options)
    : state_(std::make_unique<ClientState>(std::move(options))),
      loop_(std::make_unique<CommandLoop>(*state_)),
      random_(static_cast<uint32_t>(
          std::chrono::steady_clock::now().time_since_epoch().count())) {}

absl::StatusOr<std::unique_ptr<ClusterClient>> ClusterClient::Start(
    RedisOptions options) {
  if (options.cluster_nodes.empty()) {
    return absl::InvalidArgumentError(
        "redis cluster mode needs at least one node (cluster_nodes)");
  }
  for (const RedisAddress& node : options.cluster_nodes) {
    if (node.host.empty() || node.port < 1 || node.port > 65535) {
      return absl::InvalidArgumentError(absl::StrCat("redis cluster node \"",
                                                     FormatRedisAddress(node),
                                                     "\" is not host:port"));
    }
  }
  if (options.db != 0) {
    return absl::InvalidArgumentError("redis cluster has only db 0");
  }
  if (!options.sentinels.empty()) {
    return absl::InvalidArgumentError(
        "redis cluster and sentinel modes exclude each other");
  }
  if (options.max_outstanding < 1) {
    return absl::InvalidArgumentError("redis max_outstanding must be >= 1");
  }
  if (options.command_timeout <= absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration() ||
      options.cluster_refresh_min_interval <= absl::ZeroDuration() ||
      options.cluster_refresh_interval <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "redis timeouts and cluster refresh intervals must be positive");
  }
  std::unique_ptr<ClusterClient> client(new ClusterClient(std::move(options)));
  if (absl::Status s = client->loop_->Init(); !s.ok()) return s;
  for (const RedisAddress& seed : client->state_->options.cluster_nodes) {
    client->ConnectionTo(seed);
  }
  ClusterClient* c = client.get();
  client->loop_->Start(CommandLoop::Hooks{
      .dispatch =
          [c](std::unique_ptr<PendingCommand> command) {
            c->Dispatch(std::move(command));
          },
      .tick = [c](SteadyTime now) { c->Tick(now); },
      .stop =
          [c] {
            c->stopping_ = true;
            c->connections_.clear();
            std::vector<std::unique_ptr<PendingCommand>> parked;
            parked.swap(c->parked_);
            for (auto& command : parked) {
              c->state_->Finish(command.get(), absl::UnavailableError(
                                                   "redis client shut down"));
            }
            c->map_ = SlotMap();  // Queued commands now fail at once.
            c->SetPrimaries({});
          },
  });
  return client;
}

ClusterClient::~ClusterClient() { loop_->Stop(); }

void ClusterClient::Command(std::vector<std::string> argv, Callback done) {
  auto command = std::make_unique<PendingCommand>();
  std::optional<absl::string_view> key = RoutingKey(argv);
  command->slot = key.has_value() ? KeySlot(*key) : -1;
  command->argv = std::move(argv);
  command->keep_argv = true;
  command->done = std::move(done);
  loop_->Submit(std::move(command));
}

void ClusterClient::Eval(const LuaScript& script, std::vector<std::string> keys,
                         std::vector<std::string> args, Callback done) {
  const int slot = keys.empty() ? -1 : KeySlot(keys[0]);
  std::unique_ptr<PendingCommand> command =
      EvalShaCommand(script, std::move(keys), std::move(args), std::move(done));
  command->slot = slot;
  command->keep_argv = true;
  loop_->Submit(std::move(command));
}

absl::StatusOr<RedisReply> ClusterClient::CommandSync(
    std::vector<std::string> argv) {
  if (loop_->on_loop_thread()) {
    return absl::FailedPreconditionError(
        "CommandSync called on the redis I/O thread");
  }
  return RedisClient::CommandSync(std::move(argv));
}

int ClusterClient::ready_connections() const {
  if (!map_known_.load(std::memory_order_relaxed)) return 0;
  return state_->ready_connections.load(std::memory_order_relaxed);
}

const RedisOptions& ClusterClient::options() const { return state_->options; }

std::vector<RedisAddress> ClusterClient::Primaries() const {
  absl::MutexLock lock(&primaries_mu_);
  return primaries_copy_;
}

void ClusterClient::SetPrimaries(std::vector<RedisAddress> primaries) {
  {
    absl::MutexLock lock(&primaries_mu_);
    primaries_copy_ = primaries;
  }
  primaries_ = std::move(primaries);
}

void ClusterClient::CommandOn(const RedisAddress& node,
                              std::vector<std::string> argv, Callback done) {
  auto command = std::make_unique<PendingCommand>();
  command->node = node;
  command->argv = std::move(argv);
  command->keep_argv = true;
  command->done = std::move(done);
  loop_->Submit(std::move(command));
}

void ClusterClient::Transaction(std::vector<std::vector<std::string>> commands,
                                Callback done) {
  absl::StatusOr<int> slot = BlockSlot(commands);
  if (!slot.ok()) {
    done(slot.status());
    return;
  }
  auto command = std::make_unique<PendingCommand>();
  command->slot = *slot;
  command->block = std::move(commands);
  command->argv = {"EXEC"};  // What the observer and logs see.
  command->keep_argv = true;
  command->done = std::move(done);
  loop_->Submit(std::move(command));
}

void ClusterClient::SendBlock(Connection& connection,
                              std::unique_ptr<PendingCommand> block,
                              bool asked) {
  // The parts are commands of their own (each counted as outstanding),
  // pinned to this node so that their errors come back here unredirected.
  auto refused = std::make_shared<std::string>();
  const SteadyTime deadline = block->deadline;
  const RedisAddress node = connection.address();
  auto part = [&](std::vector<std::string> argv, Callback done) {
    auto command = std::make_unique<PendingCommand>();
    command->argv = std::move(argv);
    command->deadline = deadline;
    command->node = node;
    command->done = std::move(done);
    state_->outstanding.fetch_add(1, std::memory_order_relaxed);
    return command;
  };
  // Redis's error replies only (ErrorReplyToStatus's "redis: " text), not
  // a lost connection, which fails EXEC too.
  auto note = [refused](absl::StatusOr<RedisReply> reply) {
    if (reply.ok() || !refused->empty()) return;
    absl::string_view text = reply.status().message();
    if (absl::ConsumePrefix(&text, "redis: ")) *refused = std::string(text);
  };
  if (asked) connection.SendAsking();
  connection.Send(part({"MULTI"}, note));
  for (const std::vector<std::string>& argv : block->block) {
    connection.Send(part(argv, note));  // Copied: the block may go again.
  }
  connection.Send(
      part({"EXEC"}, [this, node, refused, block = std::move(block)](
                         absl::StatusOr<RedisReply> exec) mutable {
        BlockDone(node, std::move(block), *refused, std::move(exec));
      }));
}

void ClusterClient::BlockDone(const RedisAddress& node,
                              std::unique_ptr<PendingCommand> block,
                              const std::string& refused,
                              absl::StatusOr<RedisReply> exec) {
  if (exec.ok() || stopping_) {
    state_->Finish(block.get(), exec.ok() ? std::move(exec)
                                          : absl::UnavailableError(
                                                "redis client shut down"));
    return;
  }
  // EXEC's own error, or (EXECABORT) the first part Redis refused to queue.
  std::string error = refused;
  if (error.empty()) {
    absl::string_view text = exec.status().message();
    if (!absl::ConsumePrefix(&text, "redis: ")) {
      // Not Redis's answer (a lost connection, a timeout): as it came.
      state_->Finish(block.get(), exec.status());
      return;
    }
    error = std::string(text);
  }
  if (!OnErrorReply(node, block, error)) {
    state_->Finish(block.get(), ErrorReplyToStatus(error));
  }
}

Connection& ClusterClient::ConnectionTo(const RedisAddress& node) {
  std::unique_ptr<Connection>& connection =
      connections_[FormatRedisAddress(node)];
  if (connection == nullptr) {
    connection = std::make_unique<Connection>(
        static_cast<int>(connections_.size() - 1), *state_, node,
        [this](std::unique_ptr<PendingCommand> command) {
          Dispatch(std::move(command));
        });
    Connection* raw = connection.get();
    connection->set_error_reply_handler(
        [this, raw](std::unique_ptr<PendingCommand>& command,
                    absl::string_view error) {
          return OnErrorReply(raw->address(), command, error);
        });
    // Before the loop runs, its first tick connects.
    if (state_->base != nullptr && loop_->on_loop_thread()) {
      connection->Tick(SteadyNow());
    }
  }
  return *connection;
}

const RedisAddress* ClusterClient::AnyPrimary() {
  for (size_t i = 0; i < primaries_.size(); ++i) {
    const RedisAddress& node =
        primaries_[(next_primary_ + i) % primaries_.size()];
    auto it = connections_.find(FormatRedisAddress(node));
    if (it != connections_.end() && it->second->ready()) {
      next_primary_ = (next_primary_ + i + 1) % primaries_.size();
      return &node;
    }
  }
  return primaries_.empty() ? nullptr : &primaries_[0];
}

void ClusterClient::Dispatch(std::unique_ptr<PendingCommand> command) {
  if (stopping_) {
    state_->Finish(command.get(),
                   absl::UnavailableError("redis client shut down"));
    return;
  }
  const SteadyTime now = SteadyNow();
  const RedisAddress* node = nullptr;
  const bool asked = command->ask_target.has_value();
  RedisAddress ask_target;
  if (asked) {
    ask_target = *std::move(command->ask_target);
    command->ask_target.reset();
    node = &ask_target;
  } else if (command->node.has_value()) {
    node = &*command->node;
  } else if (command->slot >= 0) {
    node = map_.NodeOf(command->slot);
  } else {
    node = AnyPrimary();
  }
  if (node == nullptr) {
    RequestRefresh();
    state_->Finish(
        command.get(),
        absl::UnavailableError(
            map_.empty()
                ? "redis cluster slot map not known yet"
                : absl::StrCat("redis cluster: no primary serves slot ",
                               command->slot)));
    return;
  }
  Connection& connection = ConnectionTo(*node);
  if (connection.ready()) {
    if (!command->block.empty()) {
      SendBlock(connection, std::move(command), asked);
      return;
    }
    if (asked) connection.SendAsking();
    connection.Send(std::move(command));
    return;
  }
  const std::string where = FormatRedisAddress(*node);
  if (connection.first_connect_pending() && now < command->deadline) {
    // A node just learnt of (a redirect, a new map): wait for its connect.
    if (asked) command->ask_target = *node;
    Park(std::move(command), now + kConnectWait,
         absl::UnavailableError(
             absl::StrCat("redis cluster node ", where, " did not connect")));
    return;
  }
  RequestRefresh();
  state_->Finish(command.get(),
                 absl::UnavailableError(absl::StrCat(
                     "redis cluster node ", where, " is not connected")));
}

bool ClusterClient::OnErrorReply(const RedisAddress& node,
                                 std::unique_ptr<PendingCommand>& command,
                                 absl::string_view error) {
  if (command->node.has_value()) return false;  // Pinned: no redirects.
  if (std::optional<Redirect> redirect = ParseRedirect(error, node)) {
    if (++command->redirects > kMaxRedirects) {
      state_->Finish(command.get(),
                     absl::UnavailableError(absl::StrCat(
                         "redis cluster: too many redirects, last: ", error)));
      return true;
    }
    if (redirect->kind == Redirect::Kind::kMoved) {
      map_.Set(redirect->slot, redirect->address);
      SetPrimaries(map_.Primaries());
      RequestRefresh();
    } else {
      command->ask_target = redirect->address;
    }
    Dispatch(std::move(command));
    return true;
  }
  if (absl::StartsWith(error, "TRYAGAIN") ||
      absl::StartsWith(error, "CLUSTERDOWN")) {
    if (absl::StartsWith(error, "CLUSTERDOWN")) RequestRefresh();
    return Retry(command, error);
  }
  return false;
}

bool ClusterClient::Retry(std::unique_ptr<PendingCommand>& command,
                          absl::string_view error) {
  if (++command->retries > kMaxRetries) return false;
  std::chrono::nanoseconds backoff =
      kFirstBackoff * (1 << std::min(command->retries - 1, 7));
  backoff = std::min<std::chrono::nanoseconds>(backoff, kMaxBackoff);
  // Jitter: between half and all of it, so that retries spread out.
  std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2,
                                                backoff.count());
  const SteadyTime at = SteadyNow() + std::chrono::nanoseconds(jitter(random_));
  if (at >= command->deadline) return false;
  command->redirects = 0;
  Park(std::move(command), at, ErrorReplyToStatus(error));
  return true;
}

void ClusterClient::Park(std::unique_ptr<PendingCommand> command,
                         SteadyTime not_before, absl::Status reason) {
  command->not_before = not_before;
  command->retry_reason = std::move(reason);
  parked_.push_back(std::move(command));
}

void ClusterClient::Tick(SteadyTime now) {
  if (prune_wanted_) Prune();
  for (auto& [address, connection] : connections_) connection->Tick(now);
  if (!parked_.empty()) {
    std::vector<std::unique_ptr<PendingCommand>> due;
    for (auto& command : parked_) {
      if (command->not_before <= now || command->deadline <= now) {
        due.push_back(std::move(command));
      }
    }
    std::erase(parked_, nullptr);
    for (auto& command : due) {
      if (command->deadline <= now) {
        state_->Finish(command.get(), command->retry_reason);
      } else {
        Dispatch(std::move(command));
      }
    }
  }
  const RedisOptions& options = state_->options;
  if (now >= last_refresh_ +
                 absl::ToChronoNanoseconds(options.cluster_refresh_interval)) {
    refresh_wanted_ = true;
  }
  // Without a map nothing works: ask again sooner than once a second.
  const std::chrono::nanoseconds min_interval =
      map_.empty()
          ? kFirstMapRetry
          : absl::ToChronoNanoseconds(options.cluster_refresh_min_interval);
  if (refresh_wanted_ && !refresh_in_flight_ &&
      now >= last_refresh_ + min_interval) {
    StartRefresh(now);
  }
}

void ClusterClient::StartRefresh(SteadyTime now) {
  // A random ready node: the primaries known, else any (the seeds).
  std::vector<Connection*> ready;
  for (const RedisAddress& node : primaries_) {
    auto it = connections_.find(FormatRedisAddress(node));
    if (it != connections_.end() && it->second->ready()) {
      ready.push_back(it->second.get());
    }
  }
  if (ready.empty()) {
    for (auto& [address, connection] : connections_) {
      if (connection->ready()) ready.push_back(connection.get());
    }
  }
  if (ready.empty()) return;  // Tried again at the next tick.
  Connection* asked = ready[std::uniform_int_distribution<size_t>(
      0, ready.size() - 1)(random_)];
  refresh_wanted_ = false;
  refresh_in_flight_ = true;
  last_refresh_ = now;
  auto command = std::make_unique<PendingCommand>();
  command->argv = {"CLUSTER", "SLOTS"};
  command->deadline =
      now + absl::ToChronoNanoseconds(state_->options.command_timeout);
  command->done = [this,
                   node = asked->address()](absl::StatusOr<RedisReply> reply) {
    Refreshed(node, std::move(reply));
  };
  state_->outstanding.fetch_add(1, std::memory_order_relaxed);
  asked->Send(std::move(command));
}

void ClusterClient::Refreshed(const RedisAddress& asked,
                              absl::StatusOr<RedisReply> reply) {
  refresh_in_flight_ = false;
  if (stopping_) return;
  absl::StatusOr<std::vector<SlotRange>> ranges =
      reply.ok() ? ParseClusterSlots(*reply, asked) : reply.status();
  if (ranges.ok() && ranges->empty()) {
    ranges = absl::UnavailableError("CLUSTER SLOTS: no slot is served");
  }
  if (!ranges.ok()) {
    if (refresh_failures_++ == 0) {
      Log(LogLevel::kWarning, "redis_cluster_refresh_failed",
          {{"node", FormatRedisAddress(asked)},
           {"error", ranges.status().ToString()},
           {"note", "retrying; further failures not logged"}});
    }
    refresh_wanted_ = true;  // Again after the minimum interval.
    return;
  }
  refresh_failures_ = 0;
  const bool first = map_.empty();
  map_.Assign(*ranges);
  std::vector<RedisAddress> primaries = map_.Primaries();
  if (first || primaries != primaries_) {
    Log(LogLevel::kInfo, "redis_cluster_map",
        {{"asked", FormatRedisAddress(asked)},
         {"ranges", static_cast<int64_t>(ranges->size())},
         {"primaries", static_cast<int64_t>(primaries.size())}});
  }
  SetPrimaries(std::move(primaries));
  for (const RedisAddress& node : primaries_) ConnectionTo(node);
  prune_wanted_ = true;
  map_known_.store(true, std::memory_order_relaxed);
}

void ClusterClient::Prune() {
  prune_wanted_ = false;
  const std::vector<RedisAddress>& seeds = state_->options.cluster_nodes;
  // Destroyed after the map no longer holds them: their failing commands'
  // callbacks may send new ones, which may add connections.
  std::vector<std::unique_ptr<Connection>> dropped;
  for (auto it = connections_.begin(); it != connections_.end();) {
    const RedisAddress& node = it->second->address();
    if (std::find(primaries_.begin(), primaries_.end(), node) !=
            primaries_.end() ||
        std::find(seeds.begin(), seeds.end(), node) != seeds.end()) {
      ++it;
      continue;
    }
    dropped.push_back(std::move(it->second));
    it = connections_.erase(it);
  }
}

}  // namespace makegood::redis
