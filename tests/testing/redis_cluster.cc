// File: tests/testing/redis_cluster.cc
#include "tests/testing/redis_cluster.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "services/redis/key_slot.h"
#include "tests/testing/subprocess.h"

namespace makegood::testing {
namespace {

constexpr absl::string_view kNodeTimeoutMs = "2000";

// Error answers as redis-cli prints them (without a terminal: no "(error)").
bool IsErrorAnswer(absl::string_view output) {
  for (absl::string_view prefix :
       {"ERR", "MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "NOSCRIPT",
        "WRONGTYPE", "BUSYKEY", "IOERR", "NOAUTH", "(error)"}) {
    if (absl::StartsWith(output, prefix)) return true;
  }
  return false;
}

// "0-5460" or "7" into first..last; false for "[7->-id]" (a migration).
bool ParseSlots(absl::string_view field, int* first, int* last) {
  if (absl::StartsWith(field, "[")) return false;
  std::vector<absl::string_view> bounds = absl::StrSplit(field, '-');
  if (!absl::SimpleAtoi(bounds[0], first)) return false;
  *last = *first;
  return bounds.size() < 2 || absl::SimpleAtoi(bounds[1], last);
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisCluster>> RedisCluster::Start() {
  std::unique_ptr<RedisCluster> cluster(new RedisCluster());
  std::vector<std::string> create = {"redis-cli", "--cluster", "create"};
  for (int i = 0; i < kNodes; ++i) {
    auto node = RedisServer::StartClusterNode(
        {"--cluster-node-timeout", std::string(kNodeTimeoutMs),
         // Replicas sync at once (not after the default 5 s): a replica
         // that never synced refuses to take over a killed primary.
         "--repl-diskless-sync-delay", "0",
         // Keyspace notifications for stream commands: they wake makegood's
         // stream consumers on a cluster (without them they poll).
         "--notify-keyspace-events", "Kt"});
    if (!node.ok()) return node.status();
    create.push_back(absl::StrCat("127.0.0.1:", (*node)->port()));
    cluster->nodes_.push_back(*std::move(node));
    cluster->alive_.push_back(true);
  }
  create.insert(create.end(), {"--cluster-replicas", "1", "--cluster-yes"});
  absl::StatusOr<CommandResult> created = RunCommand(create, absl::Seconds(60));
  if (!created.ok()) return created.status();
  if (created->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("redis-cli --cluster create failed: ", created->output));
  }
  for (int i = 0; i < kNodes; ++i) {
    absl::StatusOr<std::string> id = cluster->NodeId(i);
    if (!id.ok()) return id.status();
    cluster->ids_.push_back(*id);
  }
  if (absl::Status s = cluster->WaitUntilOk(absl::Seconds(30)); !s.ok()) {
    return s;
  }
  // Who replicates whom, for WaitForPromotion, once node 0 sees all three
  // replicas (they are told whom to follow as the cluster forms).
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    cluster->replica_of_.assign(kNodes, -1);
    absl::StatusOr<std::vector<std::vector<std::string>>> lines =
        cluster->ClusterNodes(0);
    if (!lines.ok()) return lines.status();
    int replicas = 0;
    for (const auto& fields : *lines) {
      if (!absl::StrContains(fields[2], "slave")) continue;
      for (int master = 0; master < kNodes; ++master) {
        const int replica = cluster->NodeAt(fields[1]);
        if (cluster->ids_[master] == fields[3] && replica >= 0) {
          cluster->replica_of_[replica] = master;
          ++replicas;
        }
      }
    }
    bool synced = replicas == kNodes / 2;
    for (int i = 0; i < kNodes && synced; ++i) {
      if (cluster->replica_of_[i] < 0) continue;
      absl::StatusOr<std::string> info =
          cluster->Cli(i, {"INFO", "replication"});
      synced = info.ok() && absl::StrContains(*info, "master_link_status:up");
    }
    if (synced) break;
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          "redis cluster: the replicas did not attach and sync in time");
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return cluster;
}

RedisCluster::~RedisCluster() = default;

std::string RedisCluster::url() const {
  std::vector<std::string> nodes;
  for (const auto& node : nodes_) {
    nodes.push_back(absl::StrCat("127.0.0.1:", node->port()));
  }
  return absl::StrCat("redis-cluster://", absl::StrJoin(nodes, ","));
}

absl::StatusOr<std::string> RedisCluster::Cli(
    int node, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"redis-cli", "-p", absl::StrCat(port(node))};
  argv.insert(argv.end(), args.begin(), args.end());
  absl::StatusOr<CommandResult> result = RunCommand(argv, absl::Seconds(30));
  if (!result.ok()) return result.status();
  std::string output(absl::StripAsciiWhitespace(result->output));
  if (result->exit_code != 0 || IsErrorAnswer(output)) {
    return absl::InternalError(absl::StrCat("redis-cli -p ", port(node), " ",
                                            absl::StrJoin(args, " "), ": ",
                                            output));
  }
  return output;
}

absl::StatusOr<std::string> RedisCluster::NodeId(int node) {
  return Cli(node, {"CLUSTER", "MYID"});
}

int RedisCluster::AnyLiveNode() const {
  for (int i = 0; i < kNodes; ++i) {
    if (alive_[i]) return i;
  }
  return -1;
}

int RedisCluster::NodeAt(const std::string& ip_port) const {
  for (int i = 0; i < kNodes; ++i) {
    if (ip_port == absl::StrCat("127.0.0.1:", port(i))) return i;
  }
  return -1;
}

absl::StatusOr<std::vector<std::vector<std::string>>>
RedisCluster::ClusterNodes(int asked) {
  absl::StatusOr<std::string> text = Cli(asked, {"CLUSTER", "NODES"});
  if (!text.ok()) return text.status();
  std::vector<std::vector<std::string>> lines;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    std::vector<std::string> fields =
        absl::StrSplit(absl::StripAsciiWhitespace(line), ' ');
    if (fields.size() < 8) continue;
    // "ip:port@bus[,hostname]" -> "ip:port".
    fields[1] = fields[1].substr(0, fields[1].find('@'));
    lines.push_back(std::move(fields));
  }
  return lines;
}

absl::StatusOr<std::vector<int>> RedisCluster::Primaries() {
  absl::StatusOr<std::vector<std::vector<std::string>>> lines =
      ClusterNodes(AnyLiveNode());
  if (!lines.ok()) return lines.status();
  std::vector<int> primaries;
  for (const auto& fields : *lines) {
    if (absl::StrContains(fields[2], "master") &&
        !absl::StrContains(fields[2], "fail") && fields.size() > 8) {
      primaries.push_back(NodeAt(fields[1]));
    }
  }
  std::sort(primaries.begin(), primaries.end());
  return primaries;
}

absl::StatusOr<int> RedisCluster::NodeServingSlot(int slot, int asked) {
  absl::StatusOr<std::vector<std::vector<std::string>>> lines =
      ClusterNodes(asked >= 0 ? asked : AnyLiveNode());
  if (!lines.ok()) return lines.status();
  for (const auto& fields : *lines) {
    if (!absl::StrContains(fields[2], "master") ||
        absl::StrContains(fields[2], "fail")) {
      continue;
    }
    for (size_t i = 8; i < fields.size(); ++i) {
      int first, last;
      if (ParseSlots(fields[i], &first, &last) && first <= slot &&
          slot <= last) {
        return NodeAt(fields[1]);
      }
    }
  }
  return absl::NotFoundError(absl::StrCat("no primary serves slot ", slot));
}

absl::StatusOr<int> RedisCluster::NodeServingKey(const std::string& key,
                                                 int asked) {
  return NodeServingSlot(redis::KeySlot(key), asked);
}

absl::StatusOr<int64_t> RedisCluster::DbSize(int node) {
  absl::StatusOr<std::string> text = Cli(node, {"DBSIZE"});
  if (!text.ok()) return text.status();
  int64_t size;
  if (!absl::SimpleAtoi(*text, &size)) {
    return absl::InternalError(absl::StrCat("DBSIZE answered ", *text));
  }
  return size;
}

absl::StatusOr<bool> RedisCluster::Holds(int node, const std::string& key) {
  absl::StatusOr<std::string> text = Cli(node, {"EXISTS", key});
  if (!text.ok()) return text.status();
  return *text == "1";
}

absl::StatusOr<int64_t> RedisCluster::InfoCounter(int node,
                                                  const std::string& section,
                                                  const std::string& name,
                                                  const std::string& field) {
  absl::StatusOr<std::string> info = Cli(node, {"INFO", section});
  if (!info.ok()) return info.status();
  const std::string prefix = absl::StrCat(name, ":");
  for (absl::string_view line : absl::StrSplit(*info, '\n')) {
    if (!absl::ConsumePrefix(&line, prefix)) continue;
    // "calls=3,usec=10,..." or "count=3".
    for (absl::string_view pair :
         absl::StrSplit(absl::StripAsciiWhitespace(line), ',')) {
      std::pair<absl::string_view, absl::string_view> kv =
          absl::StrSplit(pair, absl::MaxSplits('=', 1));
      int64_t value = 0;
      if (kv.first == field && absl::SimpleAtoi(kv.second, &value)) {
        return value;
      }
    }
  }
  return 0;
}

absl::StatusOr<int64_t> RedisCluster::ErrorCount(int node,
                                                 const std::string& prefix) {
  return InfoCounter(node, "errorstats", absl::StrCat("errorstat_", prefix),
                     "count");
}

absl::StatusOr<int64_t> RedisCluster::CommandCalls(int node,
                                                   const std::string& command) {
  return InfoCounter(node, "commandstats",
                     absl::StrCat("cmdstat_", absl::AsciiStrToLower(command)),
                     "calls");
}

absl::Status RedisCluster::SetSlotImporting(int slot, int source, int target) {
  return Cli(target, {"CLUSTER", "SETSLOT", absl::StrCat(slot), "IMPORTING",
                      ids_[source]})
      .status();
}

absl::Status RedisCluster::SetSlotMigrating(int slot, int source, int target) {
  return Cli(source, {"CLUSTER", "SETSLOT", absl::StrCat(slot), "MIGRATING",
                      ids_[target]})
      .status();
}

absl::StatusOr<int> RedisCluster::MigrateKeys(int slot, int source,
                                              int target) {
  int moved = 0;
  while (true) {
    absl::StatusOr<std::string> keys =
        Cli(source, {"CLUSTER", "GETKEYSINSLOT", absl::StrCat(slot), "100"});
    if (!keys.ok()) return keys.status();
    if (keys->empty()) return moved;
    std::vector<std::string> migrate = {
        "MIGRATE", "127.0.0.1", absl::StrCat(port(target)), "", "0",
        "5000",    "KEYS"};
    for (absl::string_view key : absl::StrSplit(*keys, '\n')) {
      migrate.emplace_back(absl::StripAsciiWhitespace(key));
      ++moved;
    }
    if (absl::Status s = Cli(source, migrate).status(); !s.ok()) return s;
  }
}

absl::Status RedisCluster::SetSlotNode(int slot, int target) {
  // The target first, so that it owns the slot before the source stops.
  std::vector<int> order = {target};
  for (int i = 0; i < kNodes; ++i) {
    if (i != target) order.push_back(i);
  }
  absl::StatusOr<std::vector<int>> primaries = Primaries();
  if (!primaries.ok()) return primaries.status();
  for (int node : order) {
    if (!alive_[node] || std::find(primaries->begin(), primaries->end(),
                                   node) == primaries->end()) {
      continue;
    }
    absl::Status s = Cli(node, {"CLUSTER", "SETSLOT", absl::StrCat(slot),
                                "NODE", ids_[target]})
                         .status();
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status RedisCluster::Kill(int node) {
  alive_[node] = false;
  return nodes_[node]->Kill();
}

absl::StatusOr<int> RedisCluster::WaitForPromotion(int killed,
                                                   absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    for (int replica = 0; replica < kNodes; ++replica) {
      if (!alive_[replica] || replica_of_[replica] != killed) continue;
      absl::StatusOr<std::vector<std::vector<std::string>>> lines =
          ClusterNodes(replica);
      if (!lines.ok()) continue;
      for (const auto& fields : *lines) {
        if (absl::StrContains(fields[2], "myself") &&
            absl::StrContains(fields[2], "master")) {
          if (absl::Status ok = WaitUntilOk(deadline - absl::Now()); !ok.ok()) {
            return ok;
          }
          replica_of_[replica] = -1;
          return replica;
        }
      }
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(absl::StrCat(
      "no replica of node ", killed,
      " was promoted (replicas: ", absl::StrJoin(replica_of_, ","), ")"));
}

absl::Status RedisCluster::RestartAsReplica(int node, absl::Duration timeout) {
  if (alive_[node]) {
    return absl::FailedPreconditionError(
        absl::StrCat("node ", node, " is running"));
  }
  const absl::Time deadline = absl::Now() + timeout;
  if (absl::Status s = nodes_[node]->Restart(); !s.ok()) return s;
  alive_[node] = true;
  // Its nodes.conf still says it serves its slots; the others tell it
  // otherwise and it follows the node that took them over.
  while (true) {
    absl::StatusOr<std::vector<std::vector<std::string>>> lines =
        ClusterNodes(node);
    int master = -1;
    if (lines.ok()) {
      for (const auto& fields : *lines) {
        if (!absl::StrContains(fields[2], "myself") ||
            !absl::StrContains(fields[2], "slave")) {
          continue;
        }
        for (int i = 0; i < kNodes; ++i) {
          if (ids_[i] == fields[3]) master = i;
        }
      }
    }
    absl::StatusOr<std::string> info = Cli(node, {"INFO", "replication"});
    if (master >= 0 && info.ok() &&
        absl::StrContains(*info, "master_link_status:up")) {
      replica_of_[node] = master;
      break;
    }
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(absl::StrCat(
          "node ", node, " did not rejoin as a synced replica in time"));
    }
    absl::SleepFor(absl::Milliseconds(50));
  }
  return WaitUntilOk(deadline - absl::Now());
}

absl::Status RedisCluster::WaitUntilOk(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string last = "not asked yet";
  while (absl::Now() < deadline) {
    bool ok = true;
    std::vector<int> agreed;
    bool first = true;
    for (int i = 0; i < kNodes && ok; ++i) {
      if (!alive_[i]) continue;
      absl::StatusOr<std::string> info = Cli(i, {"CLUSTER", "INFO"});
      if (!info.ok() || !absl::StrContains(*info, "cluster_state:ok")) {
        ok = false;
        last = absl::StrCat("node ", i, " is not ok");
        break;
      }
      absl::StatusOr<std::vector<std::vector<std::string>>> lines =
          ClusterNodes(i);
      if (!lines.ok() || lines->size() != kNodes) {
        ok = false;
        last = absl::StrCat("node ", i, " does not know all nodes yet");
        break;
      }
      std::vector<int> primaries;
      for (const auto& fields : *lines) {
        if (absl::StrContains(fields[2], "handshake") ||
            absl::StrContains(fields[2], "noaddr") ||
            (fields[7] != "connected" && NodeAt(fields[1]) >= 0 &&
             alive_[NodeAt(fields[1])])) {
          ok = false;
          last = absl::StrCat("node ", i, " sees ", fields[1], " as ",
                              fields[2], " ", fields[7]);
        }
        if (absl::StrContains(fields[2], "master") &&
            !absl::StrContains(fields[2], "fail") && fields.size() > 8) {
          primaries.push_back(NodeAt(fields[1]));
        }
      }
      std::sort(primaries.begin(), primaries.end());
      if (first) {
        agreed = primaries;
        first = false;
      } else if (primaries != agreed) {
        ok = false;
        last = absl::StrCat("node ", i, " disagrees on the primaries");
      }
    }
    if (ok) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(50));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("redis cluster not ok in time: ", last));
}

}  // namespace makegood::testing
