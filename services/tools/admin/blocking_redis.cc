#include "services/tools/admin/blocking_redis.h"

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "services/core/status_macros.h"
#include "services/redis/redis_client_factory.h"
#include "services/redis/slot_map.h"

namespace makegood::admin {
namespace {

using redis::RedisReply;

// Keys read per SCAN call.
constexpr int kScanCount = 1000;
// Cluster: how often a MULTI/EXEC block is sent while its slot is moving,
// and the pause between (the client's own retries come first).
constexpr int kMovingRounds = 10;
constexpr absl::Duration kMovingPause = absl::Seconds(1);

// A block refused because its slot is moving (some keys here, others not
// yet or missing: TRYAGAIN) or the cluster is down for a failover.
bool Unsettled(const absl::Status& status) {
  return absl::IsUnavailable(status) &&
         (absl::StrContains(status.message(), "TRYAGAIN") ||
          absl::StrContains(status.message(), "CLUSTERDOWN"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<BlockingRedis>> BlockingRedis::Connect(
    redis::RedisOptions options) {
  options.connections = 1;
  // Large hashes and stream pages are read whole.
  options.command_timeout = absl::Seconds(30);
  options.connect_timeout = absl::Seconds(3);
  MAKEGOOD_ASSIGN_OR_RETURN(auto client, redis::StartRedisClient(options));
  const absl::Time deadline = absl::Now() + options.connect_timeout;
  while (client->ready_connections() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  if (client->ready_connections() == 0) {
    return absl::UnavailableError(absl::StrCat(
        "cannot connect to redis at ", redis::DescribeRedisTarget(options)));
  }
  auto redis =
      std::unique_ptr<BlockingRedis>(new BlockingRedis(std::move(client)));
  // PING proves the connection (and AUTH) works, not just the socket.
  MAKEGOOD_RETURN_IF_ERROR(redis->Run({"PING"}).status());
  return redis;
}

BlockingRedis::BlockingRedis(std::unique_ptr<redis::RedisClient> client)
    : client_(std::move(client)),
      cluster_(dynamic_cast<redis::ClusterClient*>(client_.get())) {}

absl::StatusOr<RedisReply> BlockingRedis::Run(Argv argv) {
  return client_->CommandSync(std::move(argv));
}

std::vector<absl::StatusOr<RedisReply>> BlockingRedis::Gather(size_t n,
                                                              Issue issue) {
  struct State {
    absl::Mutex mu;
    size_t left ABSL_GUARDED_BY(mu) = 0;
    std::vector<absl::StatusOr<RedisReply>> replies ABSL_GUARDED_BY(mu);
  };
  // Shared with the callbacks, so the last one may finish unlocking after
  // this function returned.
  auto state = std::make_shared<State>();
  {
    absl::MutexLock lock(&state->mu);
    state->left = n;
    state->replies.assign(n, absl::UnknownError("no reply from redis"));
  }
  for (size_t i = 0; i < n; ++i) {
    issue(i, [state, i](absl::StatusOr<RedisReply> reply) {
      absl::MutexLock lock(&state->mu);
      state->replies[i] = std::move(reply);
      --state->left;
    });
  }
  absl::MutexLock lock(&state->mu);
  state->mu.Await(absl::Condition(
      +[](size_t* left) { return *left == 0; }, &state->left));
  return std::move(state->replies);
}

std::vector<absl::StatusOr<RedisReply>> BlockingRedis::Pipeline(
    std::vector<Argv> commands) {
  return Gather(commands.size(),
                [&](size_t i, redis::RedisClient::Callback done) {
                  client_->Command(std::move(commands[i]), std::move(done));
                });
}

absl::StatusOr<std::vector<std::vector<RedisReply>>> BlockingRedis::Snapshots(
    std::vector<std::vector<Argv>> blocks) {
  // Checked on a single Redis too: a block that works there only would
  // fail on a cluster.
  for (const std::vector<Argv>& block : blocks) {
    MAKEGOOD_RETURN_IF_ERROR(redis::BlockSlot(block).status());
  }
  std::vector<absl::StatusOr<RedisReply>> execs;
  if (cluster_ != nullptr) {
    execs = Transactions(blocks);
  } else {
    std::vector<Argv> flat;
    std::vector<size_t> exec_at;
    for (std::vector<Argv>& block : blocks) {
      flat.push_back({"MULTI"});
      for (Argv& command : block) flat.push_back(std::move(command));
      flat.push_back({"EXEC"});
      exec_at.push_back(flat.size() - 1);
    }
    std::vector<absl::StatusOr<RedisReply>> replies = Pipeline(std::move(flat));
    for (const auto& reply : replies) {
      if (!reply.ok()) return reply.status();
    }
    for (size_t at : exec_at) execs.push_back(std::move(replies[at]));
  }
  std::vector<std::vector<RedisReply>> out;
  out.reserve(execs.size());
  for (absl::StatusOr<RedisReply>& exec : execs) {
    if (!exec.ok()) return exec.status();
    if (exec->type != RedisReply::Type::kArray) {
      return absl::InternalError("redis: EXEC answered no array");
    }
    for (const RedisReply& r : exec->elements) {
      if (r.type == RedisReply::Type::kError) {
        return absl::InternalError(absl::StrCat("redis: ", r.str));
      }
    }
    out.push_back(std::move(exec->elements));
  }
  return out;
}

std::vector<absl::StatusOr<RedisReply>> BlockingRedis::Transactions(
    const std::vector<std::vector<Argv>>& blocks) {
  std::vector<absl::StatusOr<RedisReply>> execs(
      blocks.size(), absl::UnknownError("no reply from redis"));
  std::vector<size_t> todo;
  for (size_t i = 0; i < blocks.size(); ++i) todo.push_back(i);
  for (int round = 1;; ++round) {
    std::vector<absl::StatusOr<RedisReply>> replies =
        Gather(todo.size(), [&](size_t i, redis::RedisClient::Callback done) {
          cluster_->Transaction(blocks[todo[i]], std::move(done));
        });
    std::vector<size_t> again;
    for (size_t i = 0; i < todo.size(); ++i) {
      if (round < kMovingRounds && Unsettled(replies[i].status())) {
        again.push_back(todo[i]);
      }
      execs[todo[i]] = std::move(replies[i]);
    }
    if (again.empty()) return execs;
    absl::SleepFor(kMovingPause);
    todo = std::move(again);
  }
}

absl::StatusOr<RedisReply> BlockingRedis::Eval(const redis::LuaScript& script,
                                               std::vector<std::string> keys,
                                               std::vector<std::string> args) {
  auto state = std::make_shared<
      std::pair<absl::Notification, absl::StatusOr<RedisReply>>>();
  client_->Eval(script, std::move(keys), std::move(args),
                [state](absl::StatusOr<RedisReply> reply) {
                  state->second = std::move(reply);
                  state->first.Notify();
                });
  state->first.WaitForNotification();
  return state->second;
}

absl::Status BlockingRedis::Scan(
    const std::string& pattern, const std::string& type,
    absl::FunctionRef<absl::Status(std::vector<std::string>)> batch) {
  absl::flat_hash_set<std::string> seen;
  if (cluster_ == nullptr) return ScanOne(nullptr, pattern, type, seen, batch);
  const std::vector<redis::RedisAddress> primaries = cluster_->Primaries();
  if (primaries.empty()) {
    return absl::UnavailableError("redis cluster: no primary known to SCAN");
  }
  for (const redis::RedisAddress& node : primaries) {
    MAKEGOOD_RETURN_IF_ERROR(ScanOne(&node, pattern, type, seen, batch));
  }
  return absl::OkStatus();
}

absl::Status BlockingRedis::ScanOne(
    const redis::RedisAddress* node, const std::string& pattern,
    const std::string& type, absl::flat_hash_set<std::string>& seen,
    absl::FunctionRef<absl::Status(std::vector<std::string>)> batch) {
  std::string cursor = "0";
  do {
    Argv scan = {"SCAN",  cursor,  "MATCH",
                 pattern, "COUNT", absl::StrCat(kScanCount),
                 "TYPE",  type};
    absl::StatusOr<RedisReply> reply;
    if (node == nullptr) {
      reply = Run(std::move(scan));
    } else {
      reply =
          std::move(Gather(1, [&](size_t, redis::RedisClient::Callback done) {
            cluster_->CommandOn(*node, std::move(scan), std::move(done));
          })[0]);
    }
    if (!reply.ok()) {
      return node == nullptr
                 ? reply.status()
                 : absl::Status(reply.status().code(),
                                absl::StrCat("SCAN of ",
                                             redis::FormatRedisAddress(*node),
                                             ": ", reply.status().message()));
    }
    MAKEGOOD_ASSIGN_OR_RETURN(const auto* parts,
                              redis::ReplyArray(*reply, 2, "SCAN"));
    MAKEGOOD_ASSIGN_OR_RETURN(cursor, redis::ReplyText((*parts)[0], "SCAN"));
    std::vector<std::string> keys;
    for (const RedisReply& key : (*parts)[1].elements) {
      if (seen.insert(key.str).second) keys.push_back(key.str);
    }
    if (!keys.empty()) MAKEGOOD_RETURN_IF_ERROR(batch(std::move(keys)));
  } while (cursor != "0");
  return absl::OkStatus();
}

}  // namespace makegood::admin
