// End-to-end settlement: the built `makegood` (API and settlement worker in
// one process) is SIGKILLed while refunds are being paid and started again —
// under the same consumer name, under another one (XAUTOCLAIM takeover), and
// with Redis itself killed and restarted — and every refund must end up paid
// exactly once, as the sandbox processor's books (read directly in Redis) and
// `makegood_admin check` both confirm. Then makegood_admin itself: the check
// must catch planted corruption (and only that), and `reconcile --fix` must
// record what the books say and leave what they never saw alone.
#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "services/redis/hiredis_client.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/eventually.h"
#include "tests/testing/makegood_process.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::CommandResult;
using ::makegood::testing::Eventually;
using ::makegood::testing::RedisServer;
using ::makegood::testing::RunCommand;
using ::makegood::testing::Subprocess;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = MAKEGOOD_BINARY;
const std::string kAdmin = MAKEGOOD_ADMIN;
const std::string kPolicy =
    std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";
constexpr int kRefunds = 20;

// A redis-server that keeps its data across a SIGKILL (append-only file,
// fsync on every write), on a port and directory it keeps when restarted.
class DurableRedis {
 public:
  static std::unique_ptr<DurableRedis> Start() {
    char dir[] = "/tmp/makegood-durable-redis-XXXXXX";
    if (mkdtemp(dir) == nullptr) return nullptr;
    for (int attempt = 0; attempt < 5; ++attempt) {
      auto port = testing::PickFreePort();
      if (!port.ok()) return nullptr;
      auto redis = std::unique_ptr<DurableRedis>(new DurableRedis(*port, dir));
      if (redis->Launch()) return redis;
    }
    return nullptr;
  }

  ~DurableRedis() {
    process_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  std::string url() const {
    return absl::StrCat("redis://127.0.0.1:", port_, "/0");
  }

  void Kill() {
    process_->Signal(SIGKILL);
    (void)process_->Wait(absl::Seconds(10));
    process_.reset();
  }

  bool Launch() {
    auto process = Subprocess::Start({"redis-server",
                                      "--port",
                                      absl::StrCat(port_),
                                      "--bind",
                                      "127.0.0.1",
                                      "--save",
                                      "",
                                      "--appendonly",
                                      "yes",
                                      "--appendfsync",
                                      "always",
                                      "--notify-keyspace-events",
                                      "Kt",
                                      "--dir",
                                      dir_,
                                      "--logfile",
                                      "",
                                      "--daemonize",
                                      "no",
                                      "--protected-mode",
                                      "no"});
    if (!process.ok()) return false;
    auto ready = (*process)->WaitForLine(
        [](const std::string& line) {
          return absl::StrContains(line, "Ready to accept connections");
        },
        absl::Seconds(10));
    if (!ready.ok()) return false;
    process_ = *std::move(process);
    return true;
  }

 private:
  DurableRedis(int port, std::string dir) : port_(port), dir_(std::move(dir)) {}

  int port_;
  std::string dir_;
  std::unique_ptr<Subprocess> process_;
};

// The line of `output` holding check's JSON report (the output may also
// hold log lines on stderr).
nlohmann::json Report(const std::string& output) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, R"({"command":"check")")) {
      return nlohmann::json::parse(line);
    }
  }
  ADD_FAILURE() << "no check report in:\n" << output;
  return nlohmann::json::object();
}

// Reconcile's JSON line about `refund_id`.
nlohmann::json Finding(const std::string& output,
                       const std::string& refund_id) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StrContains(line, absl::StrCat("\"", refund_id, "\""))) {
      return nlohmann::json::parse(line);
    }
  }
  ADD_FAILURE() << "no finding about " << refund_id << " in:\n" << output;
  return nlohmann::json::object();
}

class SettlementE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    url_ = redis_->url();
    ConnectRedis();
  }

  void TearDown() override {
    server_.reset();
    client_.reset();
  }

  void ConnectRedis() {
    redis::RedisOptions options;
    ASSERT_TRUE(redis::ParseRedisUrl(url_, &options).ok());
    auto client = redis::HiredisClient::Start(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = *std::move(client);
  }

  // Direct Redis access for assertions and planted faults.
  absl::StatusOr<redis::RedisReply> Redis(std::vector<std::string> argv) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (client_->ready_connections() == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    return client_->CommandSync(std::move(argv));
  }

  std::string HGet(const std::string& key, const std::string& field) {
    auto reply = Redis({"HGET", key, field});
    EXPECT_TRUE(reply.ok()) << reply.status();
    return reply.ok() && reply->is_text() ? reply->str : "";
  }

  std::string Prefix(const std::string& member) const {
    return keys_.PartitionPrefix(keys_.PartitionOf(member));
  }

  // Starts makegood with a settlement worker named `consumer` (`extra` adds
  // or overrides flags) and waits for its "serving" line.
  void StartServer(const std::string& consumer,
                   const std::vector<std::string>& extra = {}) {
    std::vector<std::string> argv = {kBinary,
                                     "--listen=127.0.0.1:0",
                                     "--redis=" + url_,
                                     "--policy=" + kPolicy,
                                     "--insecure_dev",
                                     "--settlement_worker",
                                     "--settlement_consumer=" + consumer};
    argv.insert(argv.end(), extra.begin(), extra.end());
    auto server = testing::StartMakegood(argv);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server->process);
    stubs_ = testing::ConnectStubs(server->port);
  }

  // The crash: no drain, no goodbye.
  void KillServer() {
    server_->Signal(SIGKILL);
    auto code = server_->Wait(absl::Seconds(10));
    ASSERT_TRUE(code.ok()) << code.status();
    EXPECT_EQ(*code, 128 + SIGKILL);
  }

  // Member m-<i> with one delivered card order o-<i>.
  void Seed(int i) {
    const std::string member = absl::StrCat("m-", i);
    {
      v1::UpsertMemberRequest request;
      v1::Member* m = request.mutable_member();
      m->set_member_id(member);
      m->set_tier("premium");
      m->mutable_member_since()->set_seconds(1609459200);  // 2021-01-01.
      m->add_flags("verified");
      grpc::ClientContext context;
      v1::UpsertMemberResponse response;
      grpc::Status s =
          stubs_.members->UpsertMember(&context, request, &response);
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    v1::RecordDeliveryRequest request;
    *request.mutable_order() = testing::AppHarness::SampleOrder(
        member, absl::StrCat("o-", i), absl::Now() - absl::Hours(1));
    grpc::ClientContext context;
    v1::RecordDeliveryResponse response;
    grpc::Status s =
        stubs_.orders->RecordDelivery(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  // Rates o-<i> (seeded): returns the refund id. The decision must pay now,
  // to the card.
  std::string Rate(int i) {
    grpc::ClientContext context;
    v1::SubmitRatingResponse response;
    grpc::Status s = stubs_.ratings->SubmitRating(
        &context,
        testing::MeltedRating(absl::StrCat("k-", i), absl::StrCat("m-", i),
                              absl::StrCat("o-", i)),
        &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(response.decision().has_refund()) << response.DebugString();
    EXPECT_EQ(response.decision().refund().instrument(),
              v1::INSTRUMENT_ORIGINAL_PAYMENT);
    return response.decision().refund().refund_id();
  }

  std::string RateNewMember(int i) {
    Seed(i);
    return Rate(i);
  }

  // Members first..first+count-1, all seeded before any is rated, so their
  // settlements overlap.
  std::vector<std::string> RateMembers(int first, int count) {
    for (int i = first; i < first + count; ++i) Seed(i);
    std::vector<std::string> ids;
    for (int i = first; i < first + count; ++i) ids.push_back(Rate(i));
    return ids;
  }

  // How often a worker took the refund (settle_begin counts each take).
  int64_t Attempts(int member, const std::string& refund_id) {
    int64_t n = 0;
    (void)absl::SimpleAtoi(HGet(absl::StrCat(Prefix(absl::StrCat("m-", member)),
                                             "refund:", refund_id),
                                "attempts"),
                           &n);
    return n;
  }

  std::string State(int member, const std::string& refund_id) {
    return HGet(
        absl::StrCat(Prefix(absl::StrCat("m-", member)), "refund:", refund_id),
        "state");
  }

  // Refunds of members first.. in `state`, read in Redis.
  std::vector<int> InState(const std::vector<std::string>& ids, int first,
                           const std::string& state) {
    std::vector<int> out;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (State(first + static_cast<int>(i), ids[i]) == state) {
        out.push_back(first + static_cast<int>(i));
      }
    }
    return out;
  }

  // Polls GetRefund until every refund is SUCCEEDED.
  bool AllSucceeded(const std::vector<std::string>& ids) {
    return Eventually([&] {
      for (const std::string& id : ids) {
        v1::GetRefundRequest request;
        request.set_refund_id(id);
        grpc::ClientContext context;
        v1::GetRefundResponse response;
        if (!stubs_.refunds->GetRefund(&context, request, &response).ok() ||
            response.refund().state() != v1::REFUND_STATE_SUCCEEDED) {
          return false;
        }
      }
      return true;
    });
  }

  int64_t SandboxPaid(int member, const std::string& refund_id) {
    int64_t n = 0;
    (void)absl::SimpleAtoi(
        HGet(Prefix(absl::StrCat("m-", member)) + "psp:sandbox",
             "paid:" + refund_id),
        &n);
    return n;
  }

  // The actor of a refund's last event.
  std::string LastActor(int member, const std::string& refund_id) {
    auto events = Redis({"XREVRANGE",
                         absl::StrCat(Prefix(absl::StrCat("m-", member)),
                                      "refund:", refund_id, ":events"),
                         "+", "-", "COUNT", "1"});
    if (!events.ok() || events->elements.empty()) return "";
    const auto& kv = events->elements[0].elements[1].elements;
    for (size_t i = 0; i + 1 < kv.size(); i += 2) {
      if (kv[i].str == "actor") return kv[i + 1].str;
    }
    return "";
  }

  CommandResult Admin(const std::string& command,
                      std::vector<std::string> flags = {}) {
    std::vector<std::string> argv = {kAdmin, command, "--redis=" + url_};
    argv.insert(argv.end(), flags.begin(), flags.end());
    auto result = RunCommand(argv, absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  // Every refund paid once at the sandbox, and the admin check clean.
  void ExpectPaidOnceAndCheckClean(const std::vector<std::string>& ids) {
    for (size_t i = 0; i < ids.size(); ++i) {
      EXPECT_EQ(SandboxPaid(static_cast<int>(i), ids[i]), 1) << ids[i];
    }
    CommandResult check = Admin("check");
    EXPECT_EQ(check.exit_code, 0) << check.output;
    nlohmann::json report = Report(check.output);
    EXPECT_EQ(report["ok"], true);
    EXPECT_EQ(report["counts"]["refunds"], ids.size());
    EXPECT_EQ(report["counts"]["refunds_by_state"]["SUCCEEDED"], ids.size());
    EXPECT_EQ(report["counts"]["payouts_verified"], ids.size());
    EXPECT_EQ(report["counts"]["orders"], ids.size());
    EXPECT_EQ(report["outbox"]["pending"], 0);
    EXPECT_EQ(report["outbox"]["backlog"], 0);
  }

  std::unique_ptr<RedisServer> redis_;
  std::string url_;
  std::unique_ptr<redis::RedisClient> client_;
  std::unique_ptr<Subprocess> server_;
  testing::Stubs stubs_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
};

// The issue's crash setup: payouts take 300 ms, unfinished entries are
// retried (or taken over) after 500 ms.
std::vector<std::string> SlowSandbox() {
  return {"--sandbox=latency=300ms", "--settlement_retry_after=500ms"};
}

TEST_F(SettlementE2eTest, KilledWorkerRestartedUnderItsNamePaysEachRefundOnce) {
  StartServer("w1", SlowSandbox());
  std::vector<std::string> ids = RateMembers(0, kRefunds);
  ASSERT_TRUE(Eventually([&] { return !InState(ids, 0, "SETTLING").empty(); }));
  KillServer();
  // Frozen by the crash: refunds the dead worker had sent to the processor.
  const std::vector<int> in_flight = InState(ids, 0, "SETTLING");
  ASSERT_FALSE(in_flight.empty());

  StartServer("w1", SlowSandbox());
  ASSERT_TRUE(AllSucceeded(ids));
  // Its own pending entries were resumed (taken a second time) by the
  // restarted worker.
  for (int i : in_flight) {
    EXPECT_EQ(LastActor(i, ids[i]), "settlement:w1");
    EXPECT_GE(Attempts(i, ids[i]), 2) << ids[i];
  }
  ExpectPaidOnceAndCheckClean(ids);
}

TEST_F(SettlementE2eTest, AnotherWorkerTakesOverPaidButUnrecordedRefunds) {
  // Every payout is made but its answer lost, and no retry happens here: the
  // dead worker leaves refunds SETTLING that the processor already paid.
  StartServer("w1", {"--sandbox=latency=100ms,commit_timeout=1",
                     "--settlement_retry_after=1h"});
  std::vector<std::string> ids = RateMembers(0, kRefunds);
  ASSERT_TRUE(Eventually([&] { return SandboxPaid(0, ids[0]) == 1; }));
  KillServer();
  EXPECT_TRUE(InState(ids, 0, "SUCCEEDED").empty());
  const std::vector<int> in_flight = InState(ids, 0, "SETTLING");
  ASSERT_FALSE(in_flight.empty());

  // w2 claims w1's idle entries (XAUTOCLAIM), looks each payout up and pays
  // only what the processor never saw.
  StartServer("w2", SlowSandbox());
  ASSERT_TRUE(AllSucceeded(ids));
  for (int i : in_flight) {
    EXPECT_EQ(LastActor(i, ids[i]), "settlement:w2");
    EXPECT_GE(Attempts(i, ids[i]), 2) << ids[i];
  }
  ExpectPaidOnceAndCheckClean(ids);
}

TEST_F(SettlementE2eTest, RedisKilledAndRestartedMidSettlementLosesNothing) {
  std::unique_ptr<DurableRedis> durable = DurableRedis::Start();
  ASSERT_NE(durable, nullptr);
  url_ = durable->url();
  ConnectRedis();
  StartServer("w1", SlowSandbox());
  std::vector<std::string> ids = RateMembers(0, kRefunds);
  ASSERT_TRUE(Eventually([&] { return !InState(ids, 0, "SETTLING").empty(); }));
  durable->Kill();
  // Down until a payout call failed for it (its answer is then unknown and
  // the entry is retried, looking the payout up first).
  ASSERT_TRUE(server_
                  ->WaitForLine(
                      [](const std::string& l) {
                        return absl::StrContains(
                            l, R"("event":"settlement_outcome_unknown")");
                      },
                      absl::Seconds(10))
                  .ok());
  ASSERT_TRUE(durable->Launch());

  ASSERT_TRUE(AllSucceeded(ids));
  ExpectPaidOnceAndCheckClean(ids);
  KillServer();
}

TEST_F(SettlementE2eTest, CheckFailsOnEachPlantedFaultAndOnlyOnIt) {
  StartServer("w1", {"--sandbox=latency=1ms"});
  std::vector<std::string> ids = RateMembers(0, 3);
  ASSERT_TRUE(AllSucceeded(ids));
  KillServer();  // Nothing moves while faults are planted.
  ExpectPaidOnceAndCheckClean(ids);
  const std::string prefix = Prefix("m-0");
  const std::string account = "expense:refunds:original_payment:EUR";

  // (a) A ledger balance off by one minor unit.
  ASSERT_TRUE(
      Redis({"HINCRBY", prefix + "ledger:balances", account, "1"}).ok());
  CommandResult ledger = Admin("check");
  EXPECT_EQ(ledger.exit_code, 1) << ledger.output;
  nlohmann::json report = Report(ledger.output);
  EXPECT_EQ(report["ok"], false);
  ASSERT_EQ(report["violations"].size(), 2u) << report.dump(2);
  for (const auto& v : report["violations"]) {
    EXPECT_THAT(v["check"].get<std::string>(),
                ::testing::AnyOf("ledger_replay", "ledger_balance_sum"));
    EXPECT_THAT(v["keys"].dump(), HasSubstr(prefix + "ledger:balances"));
  }
  EXPECT_THAT(ledger.output, HasSubstr(account));
  ASSERT_TRUE(
      Redis({"HINCRBY", prefix + "ledger:balances", account, "-1"}).ok());
  EXPECT_EQ(Admin("check").exit_code, 0);

  // (b) The processor's books show a refund paid twice.
  ASSERT_TRUE(
      Redis({"HINCRBY", prefix + "psp:sandbox", "paid:" + ids[0], "1"}).ok());
  CommandResult twice = Admin("check");
  EXPECT_EQ(twice.exit_code, 1) << twice.output;
  report = Report(twice.output);
  ASSERT_EQ(report["violations"].size(), 1u) << report.dump(2);
  EXPECT_EQ(report["violations"][0]["check"], "payout");
  EXPECT_EQ(report["violations"][0]["refund_id"], ids[0]);
  EXPECT_THAT(report["violations"][0]["problem"].get<std::string>(),
              HasSubstr("\"2\""));
  ASSERT_TRUE(
      Redis({"HINCRBY", prefix + "psp:sandbox", "paid:" + ids[0], "-1"}).ok());
  EXPECT_EQ(Admin("check").exit_code, 0);

  // (c) An order refunded above its total.
  const std::string order = prefix + "order:o-0";
  const std::string refunded = HGet(order, "refunded_minor");
  int64_t total = 0;
  ASSERT_TRUE(absl::SimpleAtoi(HGet(order, "total_minor"), &total));
  ASSERT_TRUE(
      Redis({"HSET", order, "refunded_minor", absl::StrCat(total + 1)}).ok());
  CommandResult over = Admin("check");
  EXPECT_EQ(over.exit_code, 1) << over.output;
  report = Report(over.output);
  ASSERT_FALSE(report["violations"].empty());
  for (const auto& v : report["violations"]) {
    EXPECT_EQ(v["order_id"], "o-0") << v.dump();
  }
  EXPECT_THAT(over.output, HasSubstr("order_over_refunded"));
  ASSERT_TRUE(Redis({"HSET", order, "refunded_minor", refunded}).ok());
  EXPECT_EQ(Admin("check").exit_code, 0);
}

TEST_F(SettlementE2eTest, ReconcileRecordsWhatTheBooksSayAndNeverGuesses) {
  // m-0: paid, answer lost, dead-lettered at once -> NEEDS_ATTENTION.
  StartServer("a",
              {"--sandbox=commit_timeout=1", "--settlement_retry_after=100ms",
               "--settlement_max_deliveries=1"});
  const std::string attention = RateNewMember(0);
  ASSERT_TRUE(
      Eventually([&] { return State(0, attention) == "NEEDS_ATTENTION"; }));
  KillServer();
  // m-1: paid, answer lost, never retried -> stuck SETTLING.
  auto answer_lost = [](const std::string& l) {
    return absl::StrContains(l, R"("event":"settlement_outcome_unknown")");
  };
  StartServer("b",
              {"--sandbox=commit_timeout=1", "--settlement_retry_after=1h"});
  const std::string settling_paid = RateNewMember(1);
  ASSERT_TRUE(server_->WaitForLine(answer_lost, absl::Seconds(10)).ok());
  KillServer();
  // m-2: the processor failed before doing anything -> SETTLING, unseen.
  StartServer("c", {"--sandbox=error=1", "--settlement_retry_after=1h"});
  const std::string unseen = RateNewMember(2);
  ASSERT_TRUE(server_->WaitForLine(answer_lost, absl::Seconds(10)).ok());
  KillServer();
  ASSERT_EQ(State(1, settling_paid), "SETTLING");
  ASSERT_EQ(State(2, unseen), "SETTLING");
  ASSERT_EQ(SandboxPaid(0, attention), 1);
  ASSERT_EQ(SandboxPaid(1, settling_paid), 1);
  ASSERT_EQ(SandboxPaid(2, unseen), 0);

  // Nothing is wrong yet, only unfinished.
  CommandResult before = Admin("check");
  EXPECT_EQ(before.exit_code, 0) << before.output;
  nlohmann::json report = Report(before.output);
  EXPECT_EQ(report["attention"]["needs_attention_count"], 1);
  EXPECT_EQ(report["attention"]["needs_attention"][0]["refund_id"], attention);
  EXPECT_EQ(report["outbox"]["dead_letters"], 1);
  EXPECT_EQ(report["outbox"]["pending"], 2);
  CommandResult dead = Admin("dead-letters");
  EXPECT_EQ(dead.exit_code, 0) << dead.output;
  EXPECT_THAT(dead.output, HasSubstr(attention));
  EXPECT_THAT(dead.output, HasSubstr("max_deliveries_exceeded"));

  // Without --fix: findings only.
  CommandResult look = Admin("reconcile");
  EXPECT_EQ(look.exit_code, 1) << look.output;
  EXPECT_EQ(Finding(look.output, attention)["finding"], "succeeded");
  EXPECT_EQ(Finding(look.output, attention)["action"], "would_record");
  EXPECT_EQ(Finding(look.output, settling_paid)["finding"], "succeeded");
  EXPECT_EQ(Finding(look.output, unseen)["finding"], "not_found");
  EXPECT_EQ(State(0, attention), "NEEDS_ATTENTION");
  EXPECT_EQ(State(1, settling_paid), "SETTLING");

  CommandResult fix = Admin("reconcile", {"--fix"});
  EXPECT_EQ(fix.exit_code, 1) << fix.output;  // The unseen one is left.
  EXPECT_EQ(Finding(fix.output, attention)["action"], "recorded");
  EXPECT_EQ(Finding(fix.output, settling_paid)["action"], "recorded");
  EXPECT_EQ(Finding(fix.output, unseen)["action"], "none");
  EXPECT_EQ(State(0, attention), "SUCCEEDED");
  EXPECT_EQ(State(1, settling_paid), "SUCCEEDED");
  EXPECT_EQ(State(2, unseen), "SETTLING");
  EXPECT_EQ(LastActor(0, attention), "operator:reconcile");
  EXPECT_EQ(LastActor(1, settling_paid), "operator:reconcile");
  EXPECT_EQ(LastActor(2, unseen), "settlement:c");
  EXPECT_EQ(SandboxPaid(0, attention), 1);
  EXPECT_EQ(SandboxPaid(1, settling_paid), 1);
  EXPECT_EQ(SandboxPaid(2, unseen), 0);

  CommandResult after = Admin("check");
  EXPECT_EQ(after.exit_code, 0) << after.output;
  report = Report(after.output);
  EXPECT_EQ(report["counts"]["refunds_by_state"]["SUCCEEDED"], 2);
  EXPECT_EQ(report["counts"]["refunds_by_state"]["SETTLING"], 1);
  EXPECT_EQ(report["counts"]["payouts_verified"], 2);
  // Recording again changes nothing.
  CommandResult again = Admin("reconcile", {"--fix"});
  EXPECT_THAT(again.output, Not(HasSubstr(attention)));
  EXPECT_THAT(again.output, HasSubstr(unseen));
}

// A deployment of the previous release (plain partition tags, schema 1) is
// refused, moved under the balanced tags by migrate-tags, and then checks
// clean with every refund where it was.
TEST_F(SettlementE2eTest, MigrateTagsMovesSchemaOneDataUnderTheNewTags) {
  StartServer("w1", {"--sandbox=latency=1ms"});
  std::vector<std::string> ids = RateMembers(0, 3);
  ASSERT_TRUE(AllSucceeded(ids));
  KillServer();
  // What the previous release wrote: {p<N>} and {g<N>}, schema_version 1.
  auto all = Redis({"KEYS", "mg:{*"});
  ASSERT_TRUE(all.ok()) << all.status();
  int plain = 0;
  for (const redis::RedisReply& key : all->elements) {
    const size_t dot = key.str.find('.');
    const size_t close = key.str.find("}:");
    if (key.str.rfind("mg:{c", 0) == 0 || dot > close) continue;
    std::string old = key.str.substr(0, dot) + key.str.substr(close);
    ASSERT_TRUE(Redis({"RENAME", key.str, old}).ok()) << key.str;
    ++plain;
  }
  ASSERT_GT(plain, 20);
  ASSERT_TRUE(Redis({"HSET", "mg:meta", "schema_version", "1"}).ok());
  EXPECT_EQ(Admin("check").exit_code, 2);

  // A key under a new tag already: refused, nothing recorded as done.
  const std::string taken = Prefix("m-0") + "ledger";
  ASSERT_TRUE(Redis({"SET", taken, "x"}).ok());
  CommandResult refused = Admin("migrate-tags");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_THAT(refused.output, HasSubstr(taken));
  EXPECT_EQ(HGet("mg:meta", "schema_version"), "1");
  ASSERT_TRUE(Redis({"DEL", taken}).ok());

  // Run again (as after a crash): the rest moves, then the version.
  CommandResult migrated = Admin("migrate-tags");
  EXPECT_EQ(migrated.exit_code, 0) << migrated.output;
  EXPECT_THAT(migrated.output, HasSubstr("\"renamed\":"));
  EXPECT_EQ(HGet("mg:meta", "schema_version"), "2");
  auto left = Redis({"KEYS", "mg:{p*}"});
  ASSERT_TRUE(left.ok());
  for (const redis::RedisReply& key : left->elements) {
    EXPECT_TRUE(store::KeySchema::PartitionOfKey(key.str).has_value())
        << key.str;
  }
  ExpectPaidOnceAndCheckClean(ids);
  CommandResult again = Admin("migrate-tags");
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("\"already_done\":true"));
}

TEST_F(SettlementE2eTest, AdminRefusesBadUsageAndUnreachableRedis) {
  auto no_command = RunCommand({kAdmin});
  ASSERT_TRUE(no_command.ok());
  EXPECT_EQ(no_command->exit_code, 2);
  auto no_redis = RunCommand({kAdmin, "check"});
  ASSERT_TRUE(no_redis.ok());
  EXPECT_EQ(no_redis->exit_code, 2);
  EXPECT_THAT(no_redis->output, HasSubstr("--redis"));
  // A partition count other than the deployment's would look for every key
  // in the wrong place.
  ASSERT_TRUE(Redis({"HSET", "mg:meta", "partitions", "64"}).ok());
  auto wrong_partitions =
      RunCommand({kAdmin, "check", "--redis=" + url_, "--partitions=8"});
  ASSERT_TRUE(wrong_partitions.ok());
  EXPECT_EQ(wrong_partitions->exit_code, 2);
  EXPECT_THAT(wrong_partitions->output, HasSubstr("64"));
  // Schema 1 data (plain partition tags) would look like an empty deployment.
  ASSERT_TRUE(Redis({"HSET", "mg:meta", "schema_version", "1"}).ok());
  auto old_schema = RunCommand({kAdmin, "check", "--redis=" + url_});
  ASSERT_TRUE(old_schema.ok());
  EXPECT_EQ(old_schema->exit_code, 2);
  EXPECT_THAT(old_schema->output, HasSubstr("Partition tags"));
  ASSERT_TRUE(redis_->Stop().ok());
  auto down = RunCommand({kAdmin, "check", "--redis=" + url_});
  ASSERT_TRUE(down.ok());
  EXPECT_EQ(down->exit_code, 2);
}

}  // namespace
}  // namespace makegood
