// makegood_admin against a real Redis Cluster (testing::RedisCluster: 3
// primaries, 3 replicas), given a redis-cluster:// URL. The data is real:
// an in-process makegood (server::App, its settlement worker included) runs
// on the cluster, records orders, rates them and settles the refunds, some
// set aside as NEEDS_ATTENTION by a failing card provider. Schema 1 data
// for migrate-tags is made on a single Redis (AppHarness) instead, and
// every key copied (DUMP, RESTORE) onto the cluster under its old plain
// tag. The
// members are chosen so that every primary holds some, and what a test
// plants or expects sits on primaries other than the first seed of the URL:
// a tool that read one node only would miss it.
//
// First, what the tool needs of redis::ClusterClient: Primaries, CommandOn
// (a command to one node, as SCAN must be) and Transaction (a MULTI/EXEC
// block on its slot's primary, following ASK and MOVED as a whole).
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/redis/cluster_client.h"
#include "services/redis/key_slot.h"
#include "services/redis/redis_client_factory.h"
#include "services/redis/redis_options.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/samples.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::makegood::testing::CommandResult;
using ::makegood::testing::RedisCluster;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kAdmin = MAKEGOOD_ADMIN;

// The JSON line of `output` that starts with `prefix` (null if none).
nlohmann::json JsonLine(const std::string& output, absl::string_view prefix) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, prefix)) {
      return nlohmann::json::parse(std::string(line), nullptr,
                                   /*allow_exceptions=*/false);
    }
  }
  return nullptr;
}

// The violations of a check report of check kind `check`.
std::vector<nlohmann::json> Violations(const nlohmann::json& report,
                                       const std::string& check) {
  std::vector<nlohmann::json> out;
  if (!report.is_object()) return out;
  for (const nlohmann::json& v : report["violations"]) {
    if (v["check"] == check) out.push_back(v);
  }
  return out;
}

// How often `node` answered with `error` (RedisCluster::ErrorCount); -1
// when it cannot be asked.
int64_t ErrorCount(RedisCluster& cluster, int node, const std::string& error) {
  return cluster.ErrorCount(node, error).value_or(-1);
}

// Waits for a callback API's answer.
absl::StatusOr<redis::RedisReply> Await(
    absl::FunctionRef<void(redis::RedisClient::Callback)> call) {
  absl::Notification done;
  absl::StatusOr<redis::RedisReply> out;
  call([&](absl::StatusOr<redis::RedisReply> reply) {
    out = std::move(reply);
    done.Notify();
  });
  done.WaitForNotification();
  return out;
}

TEST(ClusterClientForToolsTest, CommandOnReachesOneNodeAndBlocksFollowMoves) {
  auto cluster = RedisCluster::Start();
  ASSERT_TRUE(cluster.ok()) << cluster.status();
  redis::RedisOptions options;
  ASSERT_TRUE(redis::ParseRedisUrl((*cluster)->url(), &options).ok());
  auto started = redis::ClusterClient::Start(options);
  ASSERT_TRUE(started.ok()) << started.status();
  redis::ClusterClient& client = **started;
  for (int i = 0; i < 1000 && client.ready_connections() == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  const std::vector<redis::RedisAddress> primaries = client.Primaries();
  ASSERT_EQ(primaries.size(), 3u);

  // SCAN on each primary sees that primary's keys only; together, all.
  constexpr int kKeys = 30;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(
        client.CommandSync({"SET", absl::StrCat("{t", i, "}:k"), "v"}).ok());
  }
  int seen = 0;
  for (const redis::RedisAddress& node : primaries) {
    auto scan = Await([&](redis::RedisClient::Callback done) {
      client.CommandOn(node, {"SCAN", "0", "COUNT", "1000"}, std::move(done));
    });
    ASSERT_TRUE(scan.ok()) << scan.status();
    const int index = [&] {
      for (int n = 0; n < RedisCluster::kNodes; ++n) {
        if ((*cluster)->port(n) == node.port) return n;
      }
      return -1;
    }();
    for (const redis::RedisReply& key : scan->elements[1].elements) {
      EXPECT_EQ(
          (*cluster)->NodeServingSlot(redis::KeySlot(key.str)).value_or(-1),
          index)
          << key.str;
      ++seen;
    }
  }
  EXPECT_EQ(seen, kKeys);

  // A block runs on its slot's primary and answers every command.
  const std::string key = "{blk}:x", counter = "{blk}:n";
  auto block = Await([&](redis::RedisClient::Callback done) {
    client.Transaction({{"SET", key, "1"},
                        {"INCR", counter},
                        {"GET", key},
                        {"HGET", key, "f"}},
                       std::move(done));
  });
  ASSERT_TRUE(block.ok()) << block.status();
  ASSERT_EQ(block->elements.size(), 4u);
  EXPECT_EQ(block->elements[1].integer, 1);
  EXPECT_EQ(block->elements[2].str, "1");
  EXPECT_EQ(block->elements[3].type, redis::RedisReply::Type::kError)
      << "a command's own runtime error is its element";
  // Keys of two slots: refused before anything is sent.
  auto crossed = Await([&](redis::RedisClient::Callback done) {
    client.Transaction({{"GET", key}, {"GET", "{other}:x"}}, std::move(done));
  });
  EXPECT_EQ(crossed.status().code(), absl::StatusCode::kInvalidArgument);

  // The slot moves to another primary, step by step.
  const int slot = redis::KeySlot(key);
  absl::StatusOr<int> source = (*cluster)->NodeServingSlot(slot);
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<std::vector<int>> nodes = (*cluster)->Primaries();
  ASSERT_TRUE(nodes.ok());
  const int target = (*nodes)[0] != *source ? (*nodes)[0] : (*nodes)[1];
  ASSERT_TRUE((*cluster)->SetSlotImporting(slot, *source, target).ok());
  ASSERT_TRUE((*cluster)->SetSlotMigrating(slot, *source, target).ok());
  // A key the source does not hold: ASK, and the block goes to the target
  // after ASKING.
  const int64_t ask_before = ErrorCount(**cluster, *source, "ASK");
  const std::string fresh = "{blk}:fresh";
  auto asked = Await([&](redis::RedisClient::Callback done) {
    client.Transaction({{"SET", fresh, "2"}, {"GET", fresh}}, std::move(done));
  });
  ASSERT_TRUE(asked.ok()) << asked.status();
  EXPECT_EQ(asked->elements[1].str, "2");
  EXPECT_GT(ErrorCount(**cluster, *source, "ASK"), ask_before);
  // Only the two older keys were left on the source to migrate.
  ASSERT_EQ((*cluster)->MigrateKeys(slot, *source, target).value_or(-1), 2);
  ASSERT_TRUE((*cluster)->SetSlotNode(slot, target).ok());
  EXPECT_EQ((*cluster)->Cli(target, {"GET", fresh}).value_or(""), "2");
  // The client's map is stale: MOVED, and the block is sent again.
  const int64_t moved_before = ErrorCount(**cluster, *source, "MOVED");
  auto moved = Await([&](redis::RedisClient::Callback done) {
    client.Transaction({{"INCR", counter}, {"GET", key}}, std::move(done));
  });
  ASSERT_TRUE(moved.ok()) << moved.status();
  EXPECT_EQ(moved->elements[0].integer, 2) << "ran once";
  EXPECT_EQ(moved->elements[1].str, "1");
  EXPECT_GT(ErrorCount(**cluster, *source, "MOVED"), moved_before);
  EXPECT_EQ(*(*cluster)->Cli(target, {"GET", counter}), "2");
}

class AdminClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto cluster = RedisCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    redis::RedisOptions options;
    ASSERT_TRUE(redis::ParseRedisUrl(cluster_->url(), &options).ok());
    auto client = redis::StartRedisClient(options);
    ASSERT_TRUE(client.ok()) << client.status();
    redis_ = *std::move(client);
    for (int i = 0; i < 1000 && redis_->ready_connections() == 0; ++i) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    ASSERT_GT(redis_->ready_connections(), 0);
    auto primaries = cluster_->Primaries();
    ASSERT_TRUE(primaries.ok()) << primaries.status();
    ASSERT_EQ(primaries->size(), 3u);
    primaries_ = *primaries;
    auto harness = AppHarness::Create();
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = *std::move(harness);
  }

  void TearDown() override {
    cluster_app_.reset();
    if (h_ != nullptr) h_->StopApp();
    redis_.reset();
  }

  // The stubs of the running makegood: on the cluster, else the harness's.
  testing::Stubs& stubs() {
    return cluster_app_ != nullptr ? cluster_stubs_ : h_->stubs();
  }

  // Starts makegood (with its settlement worker, whose sandbox card
  // provider follows `sandbox_spec`) on the cluster.
  void StartAppOnCluster(const std::string& sandbox_spec = "",
                         int max_deliveries = 8) {
    server::ServerConfig config = testing::TestConfig(h_->redis());
    config.redis = redis::RedisOptions();
    ASSERT_TRUE(redis::ParseRedisUrl(cluster_->url(), &config.redis).ok());
    config.redis.command_timeout = absl::Seconds(2);
    config.redis_url = cluster_->url();
    config.settlement.run_worker = true;
    config.settlement.consumer = "w1";
    config.settlement.retry_after = absl::Milliseconds(100);
    config.settlement.sandbox_spec = sandbox_spec;
    config.settlement.max_deliveries = max_deliveries;
    auto app = server::App::Start(config, h_->clock());
    ASSERT_TRUE(app.ok()) << app.status();
    cluster_app_ = *std::move(app);
    cluster_stubs_ = testing::ConnectStubs(cluster_app_->port());
    ASSERT_TRUE(testing::WaitServing(*cluster_stubs_.health));
  }

  // The primary serving partition `p` (asked once: redis-cli is slow).
  int NodeOfPartition(int p) {
    auto [it, fresh] = node_of_partition_.try_emplace(p, -1);
    if (fresh) {
      absl::StatusOr<int> node =
          cluster_->NodeServingSlot(keys_.PartitionSlot(p));
      EXPECT_TRUE(node.ok()) << node.status();
      it->second = node.value_or(-1);
    }
    return it->second;
  }
  int NodeOf(const std::string& member) {
    return NodeOfPartition(keys_.PartitionOf(member));
  }

  // `count` members ("m-<i>") whose partitions are served by `node`, none
  // of them in `taken`'s partitions (so each has a partition of its own).
  std::vector<std::string> MembersOn(int node, int count) {
    std::vector<std::string> out;
    for (int i = 0; static_cast<int>(out.size()) < count && i < 10000; ++i) {
      const std::string member = absl::StrCat("m-", i);
      const int p = keys_.PartitionOf(member);
      if (used_partitions_.contains(p) || NodeOf(member) != node) continue;
      used_partitions_.insert(p);
      out.push_back(member);
    }
    EXPECT_EQ(static_cast<int>(out.size()), count);
    return out;
  }

  // A primary other than node 0, whose address is the URL's first seed.
  int OtherPrimary(int nth) {
    std::vector<int> others;
    for (int node : primaries_) {
      if (node != 0) others.push_back(node);
    }
    return others[nth % others.size()];
  }

  // Rates an order of each member (a card refund each); the refund ids.
  std::vector<std::string> RateOrders(const std::vector<std::string>& members) {
    std::vector<std::string> ids;
    for (const std::string& member : members) {
      {
        v1::UpsertMemberRequest request;
        *request.mutable_member() = testing::SampleMember(member, "premium");
        v1::UpsertMemberResponse response;
        grpc::ClientContext context;
        grpc::Status status =
            stubs().members->UpsertMember(&context, request, &response);
        EXPECT_TRUE(status.ok()) << status.error_message();
      }
      const std::string order = "o-" + member;
      {
        v1::RecordDeliveryRequest request;
        *request.mutable_order() = testing::SampleOrder(
            member, order, h_->clock().Now() - absl::Hours(1));
        v1::RecordDeliveryResponse response;
        grpc::ClientContext context;
        grpc::Status status =
            stubs().orders->RecordDelivery(&context, request, &response);
        EXPECT_TRUE(status.ok()) << status.error_message();
      }
      v1::SubmitRatingResponse response;
      grpc::ClientContext context;
      grpc::Status status = stubs().ratings->SubmitRating(
          &context, testing::MeltedRating("k-" + member, member, order, 50),
          &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      const std::string id = response.decision().refund().refund_id();
      EXPECT_FALSE(id.empty()) << response.DebugString();
      ids.push_back(id);
      orders_[id] = order;
      member_of_[id] = member;
    }
    return ids;
  }

  v1::RefundState StateOf(const std::string& refund_id) {
    v1::GetRefundRequest request;
    request.set_refund_id(refund_id);
    v1::GetRefundResponse response;
    grpc::ClientContext context;
    (void)stubs().refunds->GetRefund(&context, request, &response);
    return response.refund().state();
  }

  // Waits (10 s at most) until every refund of `ids` is in `state`.
  void WaitFor(const std::vector<std::string>& ids, v1::RefundState state) {
    for (const std::string& id : ids) {
      v1::RefundState now = StateOf(id);
      for (int i = 0; i < 1000 && now != state; ++i) {
        absl::SleepFor(absl::Milliseconds(10));
        now = StateOf(id);
      }
      ASSERT_EQ(v1::RefundState_Name(now), v1::RefundState_Name(state)) << id;
    }
  }

  // The data every test starts from, made by makegood on the cluster (or,
  // with `on_cluster` false, on its single Redis): two SUCCEEDED refunds on
  // each primary's partitions, and two refunds a failing card provider set
  // aside (NEEDS_ATTENTION, dead-lettered), on the two primaries other than
  // node 0.
  void MakeData(bool on_cluster = true) {
    auto start = [&](const std::string& sandbox_spec, int max_deliveries) {
      if (on_cluster) {
        StartAppOnCluster(sandbox_spec, max_deliveries);
        return;
      }
      h_->config().settlement.run_worker = true;
      h_->config().settlement.consumer = "w1";
      h_->config().settlement.retry_after = absl::Milliseconds(100);
      h_->config().settlement.sandbox_spec = sandbox_spec;
      h_->config().settlement.max_deliveries = max_deliveries;
      ASSERT_TRUE(h_->StartApp().ok());
    };
    auto stop = [&] {
      cluster_app_.reset();
      h_->StopApp();
    };
    start("", 8);
    std::vector<std::string> members;
    for (int node : primaries_) {
      for (const std::string& m : MembersOn(node, 2)) members.push_back(m);
    }
    succeeded_ = RateOrders(members);
    WaitFor(succeeded_, v1::REFUND_STATE_SUCCEEDED);
    members_ = members;
    stop();

    start("error=1", 1);
    std::vector<std::string> aside_members = {MembersOn(OtherPrimary(0), 1)[0],
                                              MembersOn(OtherPrimary(1), 1)[0]};
    set_aside_ = RateOrders(aside_members);
    WaitFor(set_aside_, v1::REFUND_STATE_NEEDS_ATTENTION);
    for (const std::string& m : aside_members) members_.push_back(m);
    stop();
  }

  // Copies every key of the single Redis onto the cluster; with
  // `schema_one`, under the plain tags of schema version 1 (as the previous
  // release wrote them), recording schema_version 1.
  void CopyToCluster(bool schema_one = false) {
    auto all = h_->Redis({"KEYS", "*"});
    ASSERT_TRUE(all.ok()) << all.status();
    ASSERT_GT(all->elements.size(), 50u);
    for (const redis::RedisReply& key : all->elements) {
      auto pttl = h_->Redis({"PTTL", key.str});
      auto dump = h_->Redis({"DUMP", key.str});
      ASSERT_TRUE(pttl.ok() && dump.ok()) << key.str;
      if (dump->is_nil()) continue;  // Expired meanwhile.
      // A key about to expire (a lease, a limiter window) could be gone
      // before migrate-tags counts what it moved: leave it behind.
      if (schema_one && pttl->integer > 0 && pttl->integer < 120'000) continue;
      std::string name = key.str;
      const size_t dot = name.find('.');
      const size_t close = name.find("}:");
      if (schema_one && absl::StartsWith(name, "mg:{") &&
          !absl::StartsWith(name, "mg:{c") && dot < close) {
        name = name.substr(0, dot) + name.substr(close);
        ++plain_keys_;
      }
      auto restored = redis_->CommandSync(
          {"RESTORE", name, absl::StrCat(pttl->integer > 0 ? pttl->integer : 0),
           dump->str});
      ASSERT_TRUE(restored.ok()) << name << ": " << restored.status();
    }
    if (schema_one) {
      ASSERT_TRUE(
          redis_->CommandSync({"HSET", "mg:meta", "schema_version", "1"}).ok());
    }
  }

  CommandResult Admin(std::vector<std::string> args) {
    std::vector<std::string> argv = {kAdmin};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--redis=" + cluster_->url());
    auto result = testing::RunCommand(argv, absl::Seconds(60));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  // `makegood_admin check` on the cluster: its report.
  nlohmann::json Check(int expected_exit) {
    CommandResult check = Admin({"check"});
    EXPECT_EQ(check.exit_code, expected_exit) << check.output;
    nlohmann::json report = JsonLine(check.output, "{\"command\":\"check\"");
    EXPECT_TRUE(report.is_object()) << check.output;
    return report;
  }

  std::string Field(const std::string& key, const std::string& field) {
    auto value = redis_->CommandSync({"HGET", key, field});
    return value.ok() && value->is_text() ? value->str : "";
  }

  int PartitionOfRefund(const std::string& refund_id) {
    return keys_.PartitionOf(member_of_[refund_id]);
  }

  store::KeySchema keys_ = *store::KeySchema::Create(64);
  std::unique_ptr<RedisCluster> cluster_;
  std::unique_ptr<redis::RedisClient> redis_;  // To the cluster.
  std::vector<int> primaries_;
  std::unique_ptr<AppHarness> h_;  // Its clock is every App's.
  std::unique_ptr<server::App> cluster_app_;
  testing::Stubs cluster_stubs_;
  absl::flat_hash_set<int> used_partitions_;
  std::vector<std::string> members_;
  std::vector<std::string> succeeded_, set_aside_;
  std::map<std::string, std::string> orders_;     // By refund id.
  std::map<std::string, std::string> member_of_;  // By refund id.
  absl::flat_hash_map<int, int> node_of_partition_;
  int plain_keys_ = 0;
};

TEST_F(AdminClusterTest, CheckIsCleanAndFindsProblemsPlantedOnOtherPrimaries) {
  MakeData();
  // Every node's keys are read: the counts are the whole deployment's.
  nlohmann::json report = Check(0);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["ok"], true) << report.dump();
  EXPECT_EQ(report["counts"]["refunds"], succeeded_.size() + set_aside_.size())
      << report.dump();
  EXPECT_EQ(report["counts"]["orders"], succeeded_.size() + set_aside_.size());
  EXPECT_EQ(report["counts"]["refunds_by_state"]["SUCCEEDED"],
            succeeded_.size());
  EXPECT_EQ(report["attention"]["needs_attention_count"], set_aside_.size());
  EXPECT_GT(report["counts"]["ledger_entries"], 0);
  EXPECT_EQ(report["outbox"]["dead_letters"], set_aside_.size());

  // A refund's amount edited past its order's total, on one primary other
  // than node 0 (the URL's first seed); a ledger balance edited on the
  // other.
  std::string over, ledger_member;
  for (const std::string& id : succeeded_) {
    if (NodeOf(member_of_[id]) == OtherPrimary(0)) over = id;
    if (NodeOf(member_of_[id]) == OtherPrimary(1)) {
      ledger_member = member_of_[id];
    }
  }
  ASSERT_FALSE(over.empty());
  ASSERT_FALSE(ledger_member.empty());
  const int over_p = keys_.PartitionOf(member_of_[over]);
  const int ledger_p = keys_.PartitionOf(ledger_member);
  ASSERT_NE(NodeOfPartition(over_p), 0);
  ASSERT_NE(NodeOfPartition(ledger_p), 0);
  ASSERT_NE(NodeOfPartition(over_p), NodeOfPartition(ledger_p));
  ASSERT_TRUE(redis_
                  ->CommandSync({"HSET", keys_.RefundKey(over_p, over),
                                 "amount_minor", "3001"})
                  .ok());
  auto balances =
      redis_->CommandSync({"HKEYS", keys_.LedgerBalancesKey(ledger_p)});
  ASSERT_TRUE(balances.ok() && !balances->elements.empty());
  const std::string account = balances->elements[0].str;
  ASSERT_TRUE(redis_
                  ->CommandSync({"HINCRBY", keys_.LedgerBalancesKey(ledger_p),
                                 account, "7"})
                  .ok());

  report = Check(1);
  ASSERT_TRUE(report.is_object());
  std::vector<nlohmann::json> over_refunded =
      Violations(report, "order_over_refunded");
  ASSERT_EQ(over_refunded.size(), 1u) << report.dump();
  EXPECT_EQ(over_refunded[0]["order_id"], orders_[over]);
  EXPECT_EQ(over_refunded[0]["partition"], over_p);
  std::vector<nlohmann::json> replay = Violations(report, "ledger_replay");
  ASSERT_EQ(replay.size(), 1u) << report.dump();
  EXPECT_EQ(replay[0]["partition"], ledger_p);
  EXPECT_EQ(replay[0]["account"], account);
  ASSERT_EQ(Violations(report, "ledger_balance_sum").size(), 1u);
  for (const nlohmann::json& v : report["violations"]) {
    EXPECT_TRUE(v["partition"] == over_p || v["partition"] == ledger_p)
        << v.dump();
  }
}

// A partition's slot moves to another primary by hand, with pauses between
// the steps, while check runs: one started before the keys move, one after
// (while the source still serves the slot, so its reads are answered ASK).
// A block touching a key absent there (a card refund's wallet) is refused
// with TRYAGAIN until the move ends, and waits for it. Both are clean and
// count every object; then a problem planted in the moved partition is
// found.
TEST_F(AdminClusterTest, CheckWaitsOutAPartitionsSlotMovingUnderIt) {
  MakeData();
  const nlohmann::json before = Check(0);
  ASSERT_TRUE(before.is_object());
  std::string moving;
  for (const std::string& id : succeeded_) {
    if (NodeOf(member_of_[id]) == OtherPrimary(0)) moving = id;
  }
  ASSERT_FALSE(moving.empty());
  const int p = PartitionOfRefund(moving);
  const int slot = keys_.PartitionSlot(p);
  const int source = OtherPrimary(0), target = OtherPrimary(1);
  const int64_t ask_before = ErrorCount(*cluster_, source, "ASK");
  const int64_t tryagain_before = ErrorCount(*cluster_, source, "TRYAGAIN") +
                                  ErrorCount(*cluster_, target, "TRYAGAIN");
  ASSERT_TRUE(cluster_->SetSlotImporting(slot, source, target).ok());
  ASSERT_TRUE(cluster_->SetSlotMigrating(slot, source, target).ok());
  CommandResult early, late;
  // Pauses longer together than the client's own retries of a command
  // (about 4 s at most).
  const absl::Duration pause = absl::Milliseconds(2500);
  std::thread early_check([&] { early = Admin({"check"}); });
  absl::SleepFor(pause);
  absl::StatusOr<int> migrated = cluster_->MigrateKeys(slot, source, target);
  std::thread late_check([&] { late = Admin({"check"}); });
  absl::SleepFor(pause);
  const int64_t ask_during = ErrorCount(*cluster_, source, "ASK");
  ASSERT_TRUE(cluster_->SetSlotNode(slot, target).ok());
  early_check.join();
  late_check.join();
  ASSERT_TRUE(migrated.ok()) << migrated.status();
  EXPECT_GT(*migrated, 5);
  EXPECT_GT(ask_during, ask_before) << "the late check was sent on by ASK";
  EXPECT_GT(ErrorCount(*cluster_, source, "TRYAGAIN") +
                ErrorCount(*cluster_, target, "TRYAGAIN"),
            tryagain_before)
      << "blocks met the move";
  for (const CommandResult* check : {&early, &late}) {
    EXPECT_EQ(check->exit_code, 0) << check->output;
    nlohmann::json report = JsonLine(check->output, "{\"command\":\"check\"");
    ASSERT_TRUE(report.is_object()) << check->output;
    EXPECT_EQ(report["counts"], before["counts"]);
  }

  ASSERT_TRUE(redis_
                  ->CommandSync({"HSET", keys_.RefundKey(p, moving),
                                 "amount_minor", "3001"})
                  .ok());
  nlohmann::json report = Check(1);
  std::vector<nlohmann::json> over = Violations(report, "order_over_refunded");
  ASSERT_EQ(over.size(), 1u) << report.dump();
  EXPECT_EQ(over[0]["partition"], p);
  EXPECT_TRUE(
      cluster_->Holds(target, keys_.RefundKey(p, moving)).value_or(false));
}

TEST_F(AdminClusterTest, OperatorCommandsWorkOnTheCluster) {
  MakeData();

  CommandResult dead = Admin({"dead-letters"});
  EXPECT_EQ(dead.exit_code, 0) << dead.output;
  for (const std::string& id : set_aside_) {
    EXPECT_THAT(dead.output, HasSubstr(id));
  }

  CommandResult attention = Admin({"attention"});
  EXPECT_EQ(attention.exit_code, 1) << attention.output;
  for (const std::string& id : set_aside_) {
    EXPECT_THAT(attention.output, HasSubstr(id));
  }
  EXPECT_THAT(attention.output, HasSubstr("\"needs_attention\":2"));

  // One is re-driven by hand, the other by reconcile --fix (the provider
  // never saw either).
  const std::string by_hand = set_aside_[0], by_reconcile = set_aside_[1];
  const int hand_p = PartitionOfRefund(by_hand);
  const int reconcile_p = PartitionOfRefund(by_reconcile);
  auto backlog = [&](int p) {
    auto length = redis_->CommandSync({"XLEN", keys_.OutboxKey(p)});
    EXPECT_TRUE(length.ok()) << length.status();
    return length.ok() ? length->integer : -1;
  };
  const int64_t hand_backlog = backlog(hand_p);
  const int64_t reconcile_backlog = backlog(reconcile_p);
  CommandResult redriven =
      Admin({"redrive", "--refund_id=" + by_hand, "--operator=op-1"});
  EXPECT_EQ(redriven.exit_code, 0) << redriven.output;
  EXPECT_THAT(redriven.output, HasSubstr("\"outcome\":\"redriven\""));
  EXPECT_EQ(Field(keys_.RefundKey(hand_p, by_hand), "state"), "ACCEPTED");

  CommandResult dry = Admin({"reconcile"});
  EXPECT_EQ(dry.exit_code, 1) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("would_redrive"));
  EXPECT_THAT(dry.output, HasSubstr(by_reconcile));
  EXPECT_THAT(dry.output, Not(HasSubstr(by_hand)));
  EXPECT_EQ(Field(keys_.RefundKey(reconcile_p, by_reconcile), "state"),
            "NEEDS_ATTENTION");
  CommandResult fixed = Admin({"reconcile", "--fix"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_THAT(fixed.output, HasSubstr("\"redriven\":1"));
  EXPECT_EQ(Field(keys_.RefundKey(reconcile_p, by_reconcile), "state"),
            "ACCEPTED");
  // Each sent again through its partition's outbox.
  EXPECT_EQ(backlog(hand_p), hand_backlog + 1);
  EXPECT_EQ(backlog(reconcile_p), reconcile_backlog + 1);

  CommandResult none = Admin({"attention"});
  EXPECT_EQ(none.exit_code, 0) << none.output;
  EXPECT_THAT(none.output, HasSubstr("\"needs_attention\":0"));
  nlohmann::json report = Check(0);
  EXPECT_EQ(report["counts"]["refunds_by_state"]["ACCEPTED"], 2)
      << report.dump();
}

TEST_F(AdminClusterTest, MigrateTagsMovesAVersionOneDeploymentAcrossSlots) {
  MakeData(/*on_cluster=*/false);
  CopyToCluster(/*schema_one=*/true);
  ASSERT_GT(plain_keys_, 50);
  // Refused as the server refuses it, until migrated.
  EXPECT_EQ(Admin({"check"}).exit_code, 2);

  // A run that stopped between a RESTORE and its DEL left a copy under the
  // new tag: it is recognised (same value) and the old key goes.
  const std::string order_key = keys_.OrderKey(members_[0], "o-" + members_[0]);
  const std::string old_order_key = order_key.substr(0, order_key.find('.')) +
                                    order_key.substr(order_key.find("}:"));
  auto payload = redis_->CommandSync({"DUMP", old_order_key});
  ASSERT_TRUE(payload.ok() && payload->is_text()) << old_order_key;
  ASSERT_TRUE(
      redis_->CommandSync({"RESTORE", order_key, "0", payload->str}).ok());

  // A key under a new tag already: refused, nothing recorded as done.
  const std::string taken =
      keys_.PartitionPrefix(keys_.PartitionOf(members_.back())) + "ledger";
  ASSERT_TRUE(redis_->CommandSync({"SET", taken, "x"}).ok());
  CommandResult refused = Admin({"migrate-tags"});
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr(taken));
  EXPECT_THAT(refused.output,
              HasSubstr(absl::StrCat("moved ", plain_keys_ - 1, " others")))
      << "every primary's keys";
  EXPECT_EQ(Field("mg:meta", "schema_version"), "1");
  EXPECT_EQ(redis_->CommandSync({"EXISTS", old_order_key})->integer, 0);
  ASSERT_TRUE(redis_->CommandSync({"DEL", taken}).ok());

  // Run again (as after a crash): the rest moves, then the version.
  CommandResult migrated = Admin({"migrate-tags"});
  ASSERT_EQ(migrated.exit_code, 0) << migrated.output;
  nlohmann::json moved = JsonLine(migrated.output, "{\"already_done\"");
  ASSERT_TRUE(moved.is_object()) << migrated.output;
  EXPECT_EQ(moved["renamed"], 1) << "the ledger refused the first time";
  EXPECT_EQ(Field("mg:meta", "schema_version"), "2");
  // No plain tag is left on any primary.
  for (int node : primaries_) {
    auto left =
        cluster_->Cli(node, {"--scan", "--pattern", "mg:{[pg][0-9]*}:*"});
    ASSERT_TRUE(left.ok()) << left.status();
    for (absl::string_view key :
         absl::StrSplit(*left, '\n', absl::SkipEmpty())) {
      EXPECT_NE(key.find('.'), absl::string_view::npos) << key;
    }
  }
  nlohmann::json report = Check(0);
  EXPECT_EQ(report["counts"]["refunds"], succeeded_.size() + set_aside_.size())
      << report.dump();
  EXPECT_EQ(report["counts"]["refunds_by_state"]["SUCCEEDED"],
            succeeded_.size());
  CommandResult again = Admin({"migrate-tags"});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_THAT(again.output, HasSubstr("\"already_done\":true"));
}

}  // namespace
}  // namespace makegood
