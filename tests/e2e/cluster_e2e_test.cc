// End-to-end on Redis Cluster: the built `makegood` (API, settlement worker
// and insights aggregator in one process) started with a redis-cluster://
// URL on a real local cluster (testing::RedisCluster: 3 primaries, 3
// replicas), called through the generated gRPC stubs.
//
//   - ClusterE2eTest (one cluster and one server for the suite): the flows
//     of a single Redis (delivery, rating, instant refund, SUCCEEDED on
//     WatchRefund, GetRefund, ListRefunds, insights), idempotency and rate
//     limits with members whose partitions sit on different primaries;
//   - ClusterMigrationE2eTest: one partition's slot moved by hand, step by
//     step with pauses, while several clients rate members of it;
//   - ClusterFailoverE2eTest: a primary SIGKILLed under rating traffic.
//
// After each, the money is checked through the public API (every refund
// SUCCEEDED once, one refund per rated order, never more refunded than
// paid) and in the sandbox processor's books (each refund paid once).
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "services/redis/redis_client.h"
#include "services/redis/redis_client_factory.h"
#include "services/redis/redis_options.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/eventually.h"
#include "tests/testing/makegood_process.h"
#include "tests/testing/redis_cluster.h"
#include "tests/testing/samples.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::Eventually;
using ::makegood::testing::RedisCluster;
using ::makegood::testing::Subprocess;
using ::testing::HasSubstr;

const std::string kBinary = MAKEGOOD_BINARY;
const std::string kAdmin = MAKEGOOD_ADMIN;
const std::string kPolicy =
    std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";
constexpr char kClient[] = "cluster-e2e";

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

// A makegood process on the cluster, its stubs, and a thread that keeps
// reading its output (a full pipe would stall its logging, and so it).
class Makegood {
 public:
  static absl::StatusOr<std::unique_ptr<Makegood>> Start(
      const std::string& url, const std::vector<std::string>& extra) {
    std::vector<std::string> argv = {kBinary, "--listen=127.0.0.1:0",
                                     "--redis=" + url, "--policy=" + kPolicy,
                                     "--insecure_dev"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    absl::StatusOr<testing::MakegoodProcess> started =
        testing::StartMakegood(argv, {}, absl::Seconds(30));
    if (!started.ok()) return started.status();
    auto server = std::unique_ptr<Makegood>(new Makegood());
    server->process_ = std::move(started->process);
    server->stubs_ = testing::ConnectStubs(started->port);
    server->insights_ = v1::InsightsService::NewStub(server->stubs_.channel);
    server->drain_ = std::thread([s = server.get()] {
      while (!s->stop_.load()) {
        (void)s->process_->WaitForLine([](const std::string&) { return false; },
                                       absl::Milliseconds(100));
      }
    });
    return server;
  }

  ~Makegood() {
    stop_.store(true);
    drain_.join();
  }

  testing::Stubs& stubs() { return stubs_; }
  pid_t pid() const { return process_->pid(); }

  // Upserts member `member` (premium, verified, since 2021) and records
  // its delivered card order `order` (3000 EUR, frozen line l1 of 1200)
  // sold by `store`.
  grpc::Status Seed(const std::string& member, const std::string& order,
                    const std::string& store = "store-1") {
    {
      v1::UpsertMemberRequest request;
      *request.mutable_member() = testing::SampleMember(member);
      grpc::ClientContext context;
      context.set_deadline(In(absl::Seconds(10)));
      v1::UpsertMemberResponse response;
      grpc::Status s =
          stubs_.members->UpsertMember(&context, request, &response);
      if (!s.ok()) return s;
    }
    v1::RecordDeliveryRequest request;
    *request.mutable_order() =
        testing::SampleOrder(member, order, absl::Now() - absl::Hours(1));
    request.mutable_order()->set_store_id(store);
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(10)));
    v1::RecordDeliveryResponse response;
    return stubs_.orders->RecordDelivery(&context, request, &response);
  }

  // Rates `order` of `member` (line l1 melted, 50 %) under `key`, as
  // `client` (x-client-id).
  grpc::Status Rate(const std::string& key, const std::string& member,
                    const std::string& order, v1::SubmitRatingResponse* out,
                    const std::string& client = kClient) {
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(10)));
    context.AddMetadata("x-client-id", client);
    return stubs_.ratings->SubmitRating(
        &context, testing::MeltedRating(key, member, order), out);
  }

  // Rates until answered: UNAVAILABLE (Redis not back yet) and ABORTED
  // (the claim of an attempt that failed midway still leased) are retried
  // with the same key, for up to `budget`.
  grpc::Status RateUntilAnswered(const std::string& key,
                                 const std::string& member,
                                 const std::string& order,
                                 v1::SubmitRatingResponse* out,
                                 absl::Duration budget = absl::Seconds(30)) {
    const absl::Time deadline = absl::Now() + budget;
    while (true) {
      out->Clear();
      grpc::Status s = Rate(key, member, order, out);
      const bool again = s.error_code() == grpc::StatusCode::UNAVAILABLE ||
                         s.error_code() == grpc::StatusCode::ABORTED;
      if (!again || absl::Now() > deadline) return s;
      absl::SleepFor(absl::Milliseconds(100));
    }
  }

  absl::StatusOr<v1::GetRefundResponse> GetRefund(const std::string& id,
                                                  bool events = false) {
    v1::GetRefundRequest request;
    request.set_refund_id(id);
    request.set_include_events(events);
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(10)));
    v1::GetRefundResponse response;
    grpc::Status s = stubs_.refunds->GetRefund(&context, request, &response);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          s.error_message());
    }
    return response;
  }

  // Every refund of an order (`by_order`) or a member, all pages.
  absl::StatusOr<std::vector<v1::Refund>> ListRefunds(const std::string& id,
                                                      bool by_order) {
    std::vector<v1::Refund> all;
    std::string token;
    do {
      v1::ListRefundsRequest request;
      by_order ? request.set_order_id(id) : request.set_member_id(id);
      request.set_page_size(2);
      request.set_page_token(token);
      grpc::ClientContext context;
      context.set_deadline(In(absl::Seconds(10)));
      v1::ListRefundsResponse response;
      grpc::Status s =
          stubs_.refunds->ListRefunds(&context, request, &response);
      if (!s.ok()) return absl::InternalError(s.error_message());
      all.insert(all.end(), response.refunds().begin(),
                 response.refunds().end());
      token = response.next_page_token();
    } while (!token.empty());
    return all;
  }

  absl::StatusOr<v1::GetOrderResponse> GetOrder(const std::string& order) {
    v1::GetOrderRequest request;
    request.set_order_id(order);
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(10)));
    v1::GetOrderResponse response;
    grpc::Status s = stubs_.orders->GetOrder(&context, request, &response);
    if (!s.ok()) return absl::InternalError(s.error_message());
    return response;
  }

  // The states WatchRefund streams for `id`, until it ends (a final state)
  // or `timeout`.
  std::vector<v1::RefundState> Watch(const std::string& id,
                                     absl::Duration timeout) {
    grpc::ClientContext context;
    context.set_deadline(In(timeout));
    v1::WatchRefundRequest request;
    request.set_refund_id(id);
    auto reader = stubs_.refunds->WatchRefund(&context, request);
    std::vector<v1::RefundState> states;
    v1::WatchRefundResponse message;
    while (reader->Read(&message)) states.push_back(message.refund().state());
    grpc::Status end = reader->Finish();
    EXPECT_TRUE(end.ok()) << id << ": " << end.error_message();
    return states;
  }

  absl::StatusOr<v1::SatisfactionStats> StoreStats(const std::string& store) {
    v1::GetSatisfactionStatsRequest request;
    request.set_dimension(v1::DIMENSION_STORE);
    request.set_subject_id(store);
    request.set_window(v1::STATS_WINDOW_1H);
    grpc::ClientContext context;
    context.set_deadline(In(absl::Seconds(10)));
    v1::GetSatisfactionStatsResponse response;
    grpc::Status s =
        insights_->GetSatisfactionStats(&context, request, &response);
    if (!s.ok()) return absl::InternalError(s.error_message());
    return response.stats();
  }

 private:
  Makegood() = default;

  std::unique_ptr<Subprocess> process_;
  testing::Stubs stubs_;
  std::unique_ptr<v1::InsightsService::Stub> insights_;
  std::atomic<bool> stop_{false};
  std::thread drain_;
};

// The worker and the aggregator in the server, a quick sandbox processor,
// unfinished outbox entries retried after a second, claims of failed
// attempts released after two.
std::vector<std::string> WorkerFlags(const std::string& consumer,
                                     const std::string& sandbox) {
  return {"--settlement_worker",         "--settlement_consumer=" + consumer,
          "--insights_aggregator",       "--sandbox=" + sandbox,
          "--settlement_retry_after=1s", "--claim_lease=2s"};
}

// One rated order and what its rating answered.
struct Rated {
  std::string member;
  std::string order;
  std::string key;
  std::string refund_id;
  int64_t amount_minor = 0;
};

// Rated from an answer that must carry an instant card refund.
Rated FromAnswer(const std::string& member, const std::string& order,
                 const std::string& key,
                 const v1::SubmitRatingResponse& response) {
  EXPECT_TRUE(response.decision().has_refund()) << response.DebugString();
  EXPECT_EQ(response.decision().refund().instrument(),
            v1::INSTRUMENT_ORIGINAL_PAYMENT);
  EXPECT_GT(response.decision().refund().amount_minor(), 0);
  return Rated{member, order, key, response.decision().refund().refund_id(),
               response.decision().refund().amount_minor()};
}

// `count` member ids "<prefix><i>" whose partition satisfies `wanted`.
std::vector<std::string> MembersWhere(const store::KeySchema& keys,
                                      const std::string& prefix,
                                      const std::function<bool(int)>& wanted,
                                      int count) {
  std::vector<std::string> members;
  for (int i = 0; static_cast<int>(members.size()) < count; ++i) {
    std::string member = absl::StrCat(prefix, i);
    if (wanted(keys.PartitionOf(member))) members.push_back(member);
  }
  return members;
}

// The primary serving each partition, from the cluster's view of the slot
// of each partition's tag.
std::vector<int> PartitionOwners(RedisCluster& cluster,
                                 const store::KeySchema& keys) {
  std::vector<int> owners;
  for (int p = 0; p < keys.partitions(); ++p) {
    absl::StatusOr<int> node = cluster.NodeServingSlot(keys.PartitionSlot(p));
    EXPECT_TRUE(node.ok()) << node.status();
    owners.push_back(node.ok() ? *node : -1);
  }
  return owners;
}

// A direct client to the cluster, for the sandbox processor's books.
std::unique_ptr<redis::RedisClient> ConnectDirect(const std::string& url) {
  redis::RedisOptions options;
  EXPECT_TRUE(redis::ParseRedisUrl(url, &options).ok());
  auto client = redis::StartRedisClient(options);
  EXPECT_TRUE(client.ok()) << client.status();
  if (!client.ok()) return nullptr;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while ((*client)->ready_connections() == 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  return *std::move(client);
}

// How often the sandbox processor paid refund `id` of `member`.
int64_t SandboxPaid(redis::RedisClient& redis, const store::KeySchema& keys,
                    const std::string& member, const std::string& id) {
  // After a failover the client learns the new primary from a first
  // command that fails (fail closed): ask again for a while.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  absl::StatusOr<redis::RedisReply> reply;
  do {
    reply = redis.CommandSync(
        {"HGET", keys.SandboxPaymentsKey(keys.PartitionOf(member)),
         "paid:" + id});
    if (reply.ok() || reply.status().code() != absl::StatusCode::kUnavailable) {
      break;
    }
    absl::SleepFor(absl::Milliseconds(50));
  } while (absl::Now() < deadline);
  EXPECT_TRUE(reply.ok()) << reply.status();
  int64_t n = 0;
  if (reply.ok() && reply->is_text()) (void)absl::SimpleAtoi(reply->str, &n);
  return n;
}

// True once every refund in `rated` is SUCCEEDED (GetRefund).
bool AllSucceeded(Makegood& server, const std::vector<Rated>& rated,
                  absl::Duration timeout = absl::Seconds(30)) {
  size_t done = 0;  // rated[0..done) seen SUCCEEDED.
  const bool ok = Eventually(
      [&] {
        while (done < rated.size()) {
          auto got = server.GetRefund(rated[done].refund_id);
          if (!got.ok() ||
              got->refund().state() != v1::REFUND_STATE_SUCCEEDED) {
            return false;
          }
          ++done;
        }
        return true;
      },
      timeout);
  if (!ok) {
    auto got = server.GetRefund(rated[done].refund_id);
    ADD_FAILURE() << "refund " << rated[done].refund_id << " of "
                  << rated[done].order << " not SUCCEEDED: "
                  << (got.ok() ? got->DebugString() : got.status().ToString());
  }
  return ok;
}

// The line of `output` holding check's JSON report (the output may also
// hold log lines).
nlohmann::json Report(const std::string& output) {
  for (absl::string_view line : absl::StrSplit(output, '\n')) {
    if (absl::StartsWith(line, R"({"command":"check")")) {
      return nlohmann::json::parse(line);
    }
  }
  ADD_FAILURE() << "no check report in:\n" << output;
  return nlohmann::json::object();
}

// `makegood_admin check` on the cluster (every primary's keys): exit 0, no
// violation. With `refunds` >= 0 (the deployment's refunds, all paid), its
// counts and an empty outbox too.
void ExpectAdminCheckClean(const std::string& url, int64_t refunds) {
  absl::StatusOr<testing::CommandResult> check = testing::RunCommand(
      {kAdmin, "check", "--redis=" + url}, absl::Seconds(60));
  ASSERT_TRUE(check.ok()) << check.status();
  EXPECT_EQ(check->exit_code, 0) << check->output;
  nlohmann::json report = Report(check->output);
  EXPECT_EQ(report["ok"], true) << report.dump();
  if (refunds < 0) return;
  EXPECT_EQ(report["counts"]["refunds"], refunds) << report.dump();
  EXPECT_EQ(report["counts"]["refunds_by_state"]["SUCCEEDED"], refunds);
  EXPECT_EQ(report["counts"]["payouts_verified"], refunds);
  EXPECT_EQ(report["outbox"]["pending"], 0);
  EXPECT_EQ(report["outbox"]["backlog"], 0);
}

// The money, through the public API: each rated order has exactly the one
// refund its rating answered, SUCCEEDED, for the amount answered, and the
// order's refunded sum is that amount, within what was paid. And in the
// sandbox processor's books: each refund paid exactly once. Then
// makegood_admin's check on `url` (ExpectAdminCheckClean with
// `deployment_refunds`).
void ExpectMoneyRight(Makegood& server, redis::RedisClient& direct,
                      const store::KeySchema& keys,
                      const std::vector<Rated>& rated, const std::string& url,
                      int64_t deployment_refunds) {
  ASSERT_TRUE(AllSucceeded(server, rated));
  std::set<std::string> ids;
  for (const Rated& r : rated) {
    EXPECT_TRUE(ids.insert(r.refund_id).second) << "refund id twice";
    absl::StatusOr<v1::GetRefundResponse> got = server.GetRefund(r.refund_id);
    ASSERT_TRUE(got.ok()) << r.refund_id << ": " << got.status();
    EXPECT_EQ(got->refund().state(), v1::REFUND_STATE_SUCCEEDED);
    EXPECT_EQ(got->refund().amount_minor(), r.amount_minor);
    EXPECT_EQ(got->refund().order_id(), r.order);
    absl::StatusOr<std::vector<v1::Refund>> refunds =
        server.ListRefunds(r.order, /*by_order=*/true);
    ASSERT_TRUE(refunds.ok()) << refunds.status();
    ASSERT_EQ(refunds->size(), 1u) << r.order << " refunded more than once";
    EXPECT_EQ((*refunds)[0].refund_id(), r.refund_id);
    absl::StatusOr<v1::GetOrderResponse> order = server.GetOrder(r.order);
    ASSERT_TRUE(order.ok()) << order.status();
    EXPECT_EQ(order->refunded_minor(), r.amount_minor) << r.order;
    EXPECT_LE(order->refunded_minor(), order->order().total_minor()) << r.order;
    EXPECT_EQ(SandboxPaid(direct, keys, r.member, r.refund_id), 1)
        << r.refund_id;
  }
  ExpectAdminCheckClean(url, deployment_refunds);
}

// Seeds member i of `members` with order "<order_prefix><i>", from
// `threads` threads; every seed must succeed.
void SeedAll(Makegood& server, const std::vector<std::string>& members,
             const std::string& order_prefix, int threads = 4) {
  std::atomic<size_t> next{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> seeders;
  for (int t = 0; t < threads; ++t) {
    seeders.emplace_back([&] {
      for (size_t i = next++; i < members.size(); i = next++) {
        grpc::Status s = server.Seed(members[i], absl::StrCat(order_prefix, i));
        if (!s.ok()) {
          ++failed;
          ADD_FAILURE() << members[i] << ": " << s.error_message();
        }
      }
    });
  }
  for (std::thread& t : seeders) t.join();
  ASSERT_EQ(failed.load(), 0);
}

// ---------------------------------------------------------------------------
// One cluster, one server for the suite: the tests use members and stores of
// their own, so they do not disturb each other.

class ClusterE2eTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto cluster = RedisCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = cluster->release();
    auto server =
        Makegood::Start(cluster_->url(), WorkerFlags("w1", "latency=20ms"));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = server->release();
    direct_ = ConnectDirect(cluster_->url()).release();
  }

  static void TearDownTestSuite() {
    delete direct_;
    delete server_;
    delete cluster_;  // Audits every node's scripts.
    direct_ = nullptr;
    server_ = nullptr;
    cluster_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(cluster_, nullptr);
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(direct_, nullptr);
  }

  // One member per primary, "<prefix><i>", each in a partition served by
  // a different primary (checked with the slot of its member key's tag).
  std::vector<std::string> OnePerPrimary(const std::string& prefix) {
    absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
    EXPECT_TRUE(primaries.ok()) << primaries.status();
    EXPECT_EQ(primaries->size(), 3u);
    std::vector<std::string> members;
    std::set<int> served;
    for (int i = 0; members.size() < primaries->size() && i < 1000; ++i) {
      const std::string member = absl::StrCat(prefix, i);
      absl::StatusOr<int> node = cluster_->NodeServingSlot(
          keys_.PartitionSlot(keys_.PartitionOf(member)));
      EXPECT_TRUE(node.ok()) << node.status();
      if (node.ok() && served.insert(*node).second) members.push_back(member);
    }
    // The same answer from the key itself (its {tag}).
    std::set<int> by_key;
    for (const std::string& member : members) {
      by_key.insert(*cluster_->NodeServingKey(keys_.MemberKey(member)));
    }
    EXPECT_EQ(by_key, served);
    EXPECT_EQ(members.size(), 3u);
    return members;
  }

  static RedisCluster* cluster_;
  static Makegood* server_;
  static redis::RedisClient* direct_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
};

RedisCluster* ClusterE2eTest::cluster_ = nullptr;
Makegood* ClusterE2eTest::server_ = nullptr;
redis::RedisClient* ClusterE2eTest::direct_ = nullptr;

TEST_F(ClusterE2eTest, RatingPaysAnInstantRefundThatWatchSeesSucceed) {
  std::vector<Rated> rated;
  for (const std::string& member : OnePerPrimary("flow-")) {
    const std::string order = "o-" + member;
    {
      v1::UpsertMemberRequest request;
      *request.mutable_member() = testing::SampleMember(member);
      grpc::ClientContext context;
      v1::UpsertMemberResponse response;
      ASSERT_TRUE(server_->stubs()
                      .members->UpsertMember(&context, request, &response)
                      .ok());
      EXPECT_EQ(response.result(), v1::WRITE_RESULT_CREATED);
    }
    // Recorded, then recorded again: the second changes nothing.
    v1::RecordDeliveryRequest delivery;
    *delivery.mutable_order() =
        testing::SampleOrder(member, order, absl::Now() - absl::Hours(1));
    for (v1::WriteResult expected :
         {v1::WRITE_RESULT_CREATED, v1::WRITE_RESULT_UNCHANGED}) {
      grpc::ClientContext context;
      v1::RecordDeliveryResponse response;
      ASSERT_TRUE(server_->stubs()
                      .orders->RecordDelivery(&context, delivery, &response)
                      .ok());
      EXPECT_EQ(response.result(), expected);
    }
    v1::SubmitRatingResponse response;
    grpc::Status s = server_->Rate("k-" + member, member, order, &response);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_FALSE(response.replayed());
    rated.push_back(FromAnswer(member, order, "k-" + member, response));

    // Followed from the decision to the payout.
    std::vector<v1::RefundState> states =
        server_->Watch(rated.back().refund_id, absl::Seconds(20));
    ASSERT_FALSE(states.empty());
    EXPECT_EQ(states.back(), v1::REFUND_STATE_SUCCEEDED) << member;

    absl::StatusOr<v1::GetRefundResponse> got =
        server_->GetRefund(rated.back().refund_id, /*events=*/true);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->refund().member_id(), member);
    EXPECT_EQ(got->refund().rating_id(), response.rating_id());
    ASSERT_FALSE(got->events().empty());
    EXPECT_EQ(got->events().rbegin()->to_state(), v1::REFUND_STATE_SUCCEEDED);
    EXPECT_EQ(got->events().rbegin()->actor(), "settlement:w1");

    absl::StatusOr<std::vector<v1::Refund>> by_member =
        server_->ListRefunds(member, /*by_order=*/false);
    ASSERT_TRUE(by_member.ok()) << by_member.status();
    ASSERT_EQ(by_member->size(), 1u);
    EXPECT_EQ((*by_member)[0].refund_id(), rated.back().refund_id);
  }
  ExpectMoneyRight(*server_, *direct_, keys_, rated, cluster_->url(), -1);
}

TEST_F(ClusterE2eTest, InsightsCountDecisionsFromEveryPrimary) {
  const std::string store = "store-insights";
  std::vector<Rated> rated;
  int64_t refunded = 0;
  for (const std::string& member : OnePerPrimary("ins-")) {
    for (int n = 0; n < 2; ++n) {
      const std::string order = absl::StrCat("o-", member, "-", n);
      ASSERT_TRUE(server_->Seed(member, order, store).ok());
      v1::SubmitRatingResponse response;
      const std::string key = absl::StrCat("k-", member, "-", n);
      grpc::Status s = server_->Rate(key, member, order, &response);
      ASSERT_TRUE(s.ok()) << s.error_message();
      rated.push_back(FromAnswer(member, order, key, response));
      refunded += rated.back().amount_minor;
    }
  }
  v1::SatisfactionStats stats;
  EXPECT_TRUE(Eventually([&] {
    auto got = server_->StoreStats(store);
    if (got.ok()) stats = *got;
    return got.ok() && stats.ratings() == static_cast<int64_t>(rated.size());
  })) << stats.DebugString();
  EXPECT_EQ(stats.refunded_minor().at("EUR"), refunded);
  EXPECT_DOUBLE_EQ(stats.refund_rate(), 1.0);
  EXPECT_DOUBLE_EQ(stats.average_satisfaction_percent(), 50.0);
  ExpectMoneyRight(*server_, *direct_, keys_, rated, cluster_->url(), -1);
}

TEST_F(ClusterE2eTest, RetriedRatingsReplayTheStoredAnswerOnEveryPrimary) {
  std::vector<Rated> rated;
  for (const std::string& member : OnePerPrimary("idem-")) {
    const std::string order = "o-" + member;
    const std::string key = "k-" + member;
    ASSERT_TRUE(server_->Seed(member, order).ok());
    v1::SubmitRatingResponse first;
    ASSERT_TRUE(server_->Rate(key, member, order, &first).ok());
    rated.push_back(FromAnswer(member, order, key, first));

    v1::SubmitRatingResponse again;
    grpc::Status s = server_->Rate(key, member, order, &again);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_TRUE(again.replayed());
    EXPECT_EQ(again.rating_id(), first.rating_id());
    EXPECT_EQ(again.decision().refund().refund_id(),
              first.decision().refund().refund_id());
    EXPECT_EQ(again.decision().refund().amount_minor(),
              first.decision().refund().amount_minor());

    // The same key with another payload is refused, and pays nothing.
    grpc::ClientContext context;
    context.AddMetadata("x-client-id", kClient);
    v1::SubmitRatingResponse reused;
    grpc::Status refused = server_->stubs().ratings->SubmitRating(
        &context, testing::MeltedRating(key, member, order, 10), &reused);
    EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
    EXPECT_THAT(refused.error_message(), HasSubstr("idempotency"));
  }
  ExpectMoneyRight(*server_, *direct_, keys_, rated, cluster_->url(), -1);
}

TEST_F(ClusterE2eTest, RateLimitsHoldAcrossPrimaries) {
  // A second server on the same cluster, with tight limits: 2 ratings per
  // member, 3 per client, an hour to refill.
  auto limited = Makegood::Start(
      cluster_->url(), {"--rate_limits=SubmitRating.member=1/h:burst=2,"
                        "SubmitRating.client=1/h:burst=3"});
  ASSERT_TRUE(limited.ok()) << limited.status();
  Makegood& server = **limited;
  const std::vector<std::string> members = OnePerPrimary("lim-");
  for (const std::string& member : members) {
    for (int n = 0; n < 3; ++n) {
      ASSERT_TRUE(server.Seed(member, absl::StrCat("o-", member, "-", n)).ok());
    }
  }
  auto rate = [&](const std::string& member, int n, const std::string& client) {
    v1::SubmitRatingResponse response;
    return server.Rate(absl::StrCat("k-", member, "-", n, "-", client), member,
                       absl::StrCat("o-", member, "-", n), &response, client);
  };
  // The member limit, in the member's partition, on each primary: two
  // ratings, from two clients, then no more.
  for (const std::string& member : members) {
    EXPECT_TRUE(rate(member, 0, "lim-a-" + member).ok());
    EXPECT_TRUE(rate(member, 1, "lim-b-" + member).ok());
    grpc::Status third = rate(member, 2, "lim-c-" + member);
    EXPECT_EQ(third.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
        << member;
    EXPECT_THAT(third.error_message(), HasSubstr("for member"));
  }
  // The client limit, in a slot of its own: one client's ratings of
  // members on three primaries count together.
  const std::vector<std::string> others = OnePerPrimary("lim2-");
  for (const std::string& member : others) {
    ASSERT_TRUE(server.Seed(member, absl::StrCat("o-", member, "-0")).ok());
    ASSERT_TRUE(server.Seed(member, absl::StrCat("o-", member, "-1")).ok());
  }
  for (const std::string& member : others) {
    grpc::Status s = rate(member, 0, "lim-one-client");
    EXPECT_TRUE(s.ok()) << member << ": " << s.error_message();
  }
  grpc::Status fourth = rate(others[0], 1, "lim-one-client");
  EXPECT_EQ(fourth.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_THAT(fourth.error_message(), HasSubstr("from this client"));
  // Another client is not held back (by a member the refused call did not
  // concern).
  EXPECT_TRUE(rate(others[1], 1, "lim-other-client").ok());
  ExpectAdminCheckClean(cluster_->url(), -1);
}

// ---------------------------------------------------------------------------
// Traffic: several client threads rating one seeded order each, recording
// what each first attempt answered.

struct Attempt {
  int index = 0;
  grpc::StatusCode code = grpc::StatusCode::OK;
  std::string message;
  absl::Time start;
  absl::Time end;
  v1::SubmitRatingResponse response;
};

class RatingTraffic {
 public:
  // Rates members[i]'s order "<order_prefix><i>" under key
  // "<key_prefix><i>", from `threads` threads, each pausing `pace` between
  // calls, until Stop() or the members run out.
  RatingTraffic(Makegood& server, const std::vector<std::string>& members,
                std::string order_prefix, std::string key_prefix, int threads,
                absl::Duration pace, size_t first = 0)
      : server_(server),
        members_(members),
        order_prefix_(std::move(order_prefix)),
        key_prefix_(std::move(key_prefix)),
        next_(first) {
    for (int t = 0; t < threads; ++t) {
      threads_.emplace_back([this, pace] {
        for (size_t i = next_++; i < members_.size() && !stop_.load();
             i = next_++) {
          Attempt a;
          a.index = static_cast<int>(i);
          a.start = absl::Now();
          grpc::Status s =
              server_.Rate(Key(i), members_[i], Order(i), &a.response);
          a.end = absl::Now();
          a.code = s.error_code();
          a.message = s.error_message();
          {
            absl::MutexLock lock(&mu_);
            attempts_.push_back(std::move(a));
          }
          absl::SleepFor(pace);
        }
      });
    }
  }

  ~RatingTraffic() { Stop(); }

  // Stops the threads; returns every attempt.
  std::vector<Attempt> Stop() {
    stop_.store(true);
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
    absl::MutexLock lock(&mu_);
    return attempts_;
  }

  // Whether members are left (the traffic had not run dry).
  bool running() const { return next_.load() < members_.size(); }

  size_t answered() {
    absl::MutexLock lock(&mu_);
    return attempts_.size();
  }

  std::string Key(size_t i) const { return absl::StrCat(key_prefix_, i); }
  std::string Order(size_t i) const { return absl::StrCat(order_prefix_, i); }

 private:
  Makegood& server_;
  const std::vector<std::string>& members_;
  const std::string order_prefix_;
  const std::string key_prefix_;
  std::atomic<size_t> next_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
  absl::Mutex mu_;
  std::vector<Attempt> attempts_;
};

// Every attempt answered OK or UNAVAILABLE; the UNAVAILABLE ones are rated
// again with the same key until answered. Returns what every rated order
// got; `unavailable` counts the first attempts that failed.
std::vector<Rated> SettleAttempts(Makegood& server, RatingTraffic& traffic,
                                  const std::vector<std::string>& members,
                                  const std::vector<Attempt>& attempts,
                                  int* unavailable) {
  std::vector<Rated> rated;
  *unavailable = 0;
  for (const Attempt& a : attempts) {
    const std::string& member = members[a.index];
    const std::string order = traffic.Order(a.index);
    const std::string key = traffic.Key(a.index);
    if (a.code == grpc::StatusCode::OK) {
      rated.push_back(FromAnswer(member, order, key, a.response));
      continue;
    }
    EXPECT_EQ(a.code, grpc::StatusCode::UNAVAILABLE)
        << key << ": " << a.message;
    ++*unavailable;
    v1::SubmitRatingResponse response;
    grpc::Status s = server.RateUntilAnswered(key, member, order, &response);
    EXPECT_TRUE(s.ok()) << key << " never settled: " << s.error_message();
    if (s.ok()) rated.push_back(FromAnswer(member, order, key, response));
  }
  return rated;
}

// ---------------------------------------------------------------------------

// A cluster and a server of its own for each test.
class OwnClusterTest : public ::testing::Test {
 protected:
  explicit OwnClusterTest(std::string sandbox) : sandbox_(std::move(sandbox)) {}

  void SetUp() override {
    auto cluster = RedisCluster::Start();
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *std::move(cluster);
    auto server = Makegood::Start(cluster_->url(), WorkerFlags("w1", sandbox_));
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    direct_ = ConnectDirect(cluster_->url());
    ASSERT_NE(direct_, nullptr);
  }

  void TearDown() override {
    direct_.reset();
    server_.reset();
    cluster_.reset();
  }

  int64_t Count(int node, const std::string& what, bool error) {
    absl::StatusOr<int64_t> n = error ? cluster_->ErrorCount(node, what)
                                      : cluster_->CommandCalls(node, what);
    EXPECT_TRUE(n.ok()) << n.status();
    return n.value_or(-1);
  }

  const std::string sandbox_;
  std::unique_ptr<RedisCluster> cluster_;
  std::unique_ptr<Makegood> server_;
  std::unique_ptr<redis::RedisClient> direct_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
};

// Payouts take 20 ms.
class ClusterMigrationE2eTest : public OwnClusterTest {
 protected:
  ClusterMigrationE2eTest() : OwnClusterTest("latency=20ms") {}
};

// The issue's migration: SETSLOT IMPORTING, MIGRATING, MIGRATE, SETSLOT
// NODE, with pauses long enough that ratings of the moving partition meet
// ASK (keys gone from the source) and TRYAGAIN (a script over present and
// missing keys), while four clients rate members of it.
TEST_F(ClusterMigrationE2eTest, APartitionMovesUnderRatingTraffic) {
  const int partition = keys_.PartitionOf("mv-0");
  const int slot = keys_.PartitionSlot(partition);
  absl::StatusOr<int> source = cluster_->NodeServingSlot(slot);
  ASSERT_TRUE(source.ok()) << source.status();
  absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
  ASSERT_TRUE(primaries.ok()) << primaries.status();
  const int target =
      (*primaries)[0] != *source ? (*primaries)[0] : (*primaries)[1];
  ASSERT_EQ(*cluster_->NodeServingKey(keys_.MemberKey("mv-0")), *source);

  // Members of the moving partition, their orders recorded beforehand.
  const std::vector<std::string> members = MembersWhere(
      keys_, "mv-", [&](int p) { return p == partition; }, 400);
  SeedAll(*server_, members, "o-mv-");
  // A few rated and settled before the move.
  std::vector<Rated> before;
  for (size_t i = 0; i < 5; ++i) {
    v1::SubmitRatingResponse response;
    const std::string key = absl::StrCat("k-mv-", i);
    ASSERT_TRUE(
        server_->Rate(key, members[i], absl::StrCat("o-mv-", i), &response)
            .ok());
    before.push_back(
        FromAnswer(members[i], absl::StrCat("o-mv-", i), key, response));
  }
  ASSERT_TRUE(AllSucceeded(*server_, before));
  const int64_t ask_before = Count(*source, "ASK", true);
  const int64_t asking_before = Count(target, "asking", false);
  const int64_t tryagain_before =
      Count(*source, "TRYAGAIN", true) + Count(target, "TRYAGAIN", true);

  RatingTraffic traffic(*server_, members, "o-mv-", "k-mv-", 4,
                        absl::Milliseconds(80), before.size());
  const absl::Duration pause = absl::Milliseconds(1500);
  absl::SleepFor(pause);
  ASSERT_TRUE(cluster_->SetSlotImporting(slot, *source, target).ok());
  absl::SleepFor(pause);
  ASSERT_TRUE(cluster_->SetSlotMigrating(slot, *source, target).ok());
  absl::SleepFor(pause);
  absl::StatusOr<int> moved = cluster_->MigrateKeys(slot, *source, target);
  ASSERT_TRUE(moved.ok()) << moved.status();
  absl::SleepFor(pause);
  ASSERT_TRUE(cluster_->SetSlotNode(slot, target).ok());
  absl::SleepFor(pause);
  EXPECT_TRUE(traffic.running()) << "the traffic ran dry before the move ended";
  const std::vector<Attempt> attempts = traffic.Stop();

  // ASK and TRYAGAIN really happened, and the slot lives on the target.
  const int64_t ask = Count(*source, "ASK", true) - ask_before;
  const int64_t asking = Count(target, "asking", false) - asking_before;
  const int64_t tryagain = Count(*source, "TRYAGAIN", true) +
                           Count(target, "TRYAGAIN", true) - tryagain_before;
  EXPECT_GT(ask, 0);
  EXPECT_GT(asking, 0);
  EXPECT_GT(tryagain, 0);
  for (int node : *primaries) {
    EXPECT_EQ(*cluster_->NodeServingSlot(slot, node), target) << node;
  }
  EXPECT_EQ(*cluster_->Cli(*source,
                           {"CLUSTER", "COUNTKEYSINSLOT", absl::StrCat(slot)}),
            "0");

  // Every rating answered; the failed ones settle on a retry.
  int unavailable = 0;
  std::vector<Rated> rated =
      SettleAttempts(*server_, traffic, members, attempts, &unavailable);
  std::cout << "migration of slot " << slot << " (" << *moved
            << " keys moved): " << attempts.size() << " ratings, "
            << unavailable << " UNAVAILABLE then settled; ASK " << ask
            << ", ASKING " << asking << ", TRYAGAIN " << tryagain << ", MOVED "
            << Count(*source, "MOVED", true) << "\n";
  EXPECT_GT(attempts.size(), 20u);
  rated.insert(rated.end(), before.begin(), before.end());
  ExpectMoneyRight(*server_, *direct_, keys_, rated, cluster_->url(),
                   static_cast<int64_t>(rated.size()));
  // The keys live on the target now.
  EXPECT_TRUE(*cluster_->Holds(target, keys_.OrderKey(members[0], "o-mv-0")));
}

// ---------------------------------------------------------------------------

// Payouts take a second, so that some are under way when a primary dies.
class ClusterFailoverE2eTest : public OwnClusterTest {
 protected:
  ClusterFailoverE2eTest() : OwnClusterTest("latency=1s") {}
};

// A primary is SIGKILLed while three clients rate members of every
// partition: ratings of its partitions fail UNAVAILABLE until its replica
// takes over, then succeed again from the same server; the refunds queued
// before the kill settle; nothing is lost or paid twice.
TEST_F(ClusterFailoverE2eTest, AKilledPrimaryIsReplacedWithoutARestart) {
  const std::vector<int> owners = PartitionOwners(*cluster_, keys_);
  absl::StatusOr<std::vector<int>> primaries = cluster_->Primaries();
  ASSERT_TRUE(primaries.ok()) << primaries.status();
  const int victim = (*primaries)[0];
  auto on_victim = [&](const std::string& member) {
    return owners[keys_.PartitionOf(member)] == victim;
  };
  const std::vector<std::string> members = MembersWhere(
      keys_, "fo-", [](int) { return true; }, 400);
  SeedAll(*server_, members, "o-fo-");

  // Rated just before the kill: their payouts (one second each) are still
  // under way when the primary dies.
  std::vector<Rated> queued;
  size_t first = 0;
  int queued_on_victim = 0;
  while (queued_on_victim < 6) {
    v1::SubmitRatingResponse response;
    const std::string key = absl::StrCat("k-fo-", first);
    const std::string order = absl::StrCat("o-fo-", first);
    ASSERT_TRUE(server_->Rate(key, members[first], order, &response).ok());
    queued.push_back(FromAnswer(members[first], order, key, response));
    queued_on_victim += on_victim(members[first]);
    ++first;
  }

  RatingTraffic traffic(*server_, members, "o-fo-", "k-fo-", 3,
                        absl::Milliseconds(120), first);
  absl::SleepFor(absl::Milliseconds(500));
  // Some of the victim's refunds are not paid yet when it dies.
  int unpaid_at_kill = 0;
  for (const Rated& r : queued) {
    auto got = server_->GetRefund(r.refund_id);
    ASSERT_TRUE(got.ok()) << got.status();
    unpaid_at_kill += on_victim(r.member) &&
                      got->refund().state() != v1::REFUND_STATE_SUCCEEDED;
  }
  EXPECT_GT(unpaid_at_kill, 0);
  const absl::Time killed_at = absl::Now();
  ASSERT_TRUE(cluster_->Kill(victim).ok());
  absl::StatusOr<int> promoted =
      cluster_->WaitForPromotion(victim, absl::Seconds(30));
  ASSERT_TRUE(promoted.ok()) << promoted.status();
  const absl::Time promoted_at = absl::Now();
  // Traffic goes on until ratings of the victim's partitions succeed again.
  absl::SleepFor(absl::Seconds(5));
  EXPECT_TRUE(traffic.running()) << "the traffic ran dry";
  const std::vector<Attempt> attempts = traffic.Stop();

  int failed_on_victim = 0, failed_elsewhere = 0, ok_after = 0, late = 0;
  for (const Attempt& a : attempts) {
    const bool victims = on_victim(members[a.index]);
    if (a.code != grpc::StatusCode::OK) {
      EXPECT_GE(a.end, killed_at) << "failed before the kill: " << a.message;
      (victims ? failed_on_victim : failed_elsewhere)++;
      // Recovered within a few seconds of the promotion.
      if (a.start > promoted_at + absl::Seconds(3)) ++late;
    } else if (victims && a.start > promoted_at) {
      ++ok_after;
    }
  }
  EXPECT_GT(failed_on_victim, 0) << "no UNAVAILABLE in the failover window";
  EXPECT_EQ(late, 0) << "ratings still failed 3 s after the promotion";
  EXPECT_GE(ok_after, 5) << "no recovery on the promoted replica";

  int unavailable = 0;
  std::vector<Rated> rated =
      SettleAttempts(*server_, traffic, members, attempts, &unavailable);
  std::cout << "failover: promotion after "
            << absl::FormatDuration(promoted_at - killed_at) << "; "
            << attempts.size() << " ratings, " << unavailable
            << " UNAVAILABLE (" << failed_on_victim << " of the victim's, "
            << failed_elsewhere << " elsewhere) then settled, " << ok_after
            << " ok on the promoted replica; " << unpaid_at_kill
            << " of its refunds unpaid at the kill\n";
  rated.insert(rated.end(), queued.begin(), queued.end());
  ExpectMoneyRight(*server_, *direct_, keys_, rated, cluster_->url(),
                   static_cast<int64_t>(rated.size()));

  // The same server process all along, and the dead node back as a
  // replica of the one that replaced it.
  EXPECT_EQ(kill(server_->pid(), 0), 0) << "the server is gone";
  absl::StatusOr<std::vector<int>> now = cluster_->Primaries();
  ASSERT_TRUE(now.ok());
  EXPECT_THAT(*now, ::testing::Contains(*promoted));
  ASSERT_TRUE(cluster_->RestartAsReplica(victim, absl::Seconds(30)).ok());
  v1::SubmitRatingResponse response;
  const size_t last = members.size() - 1;
  EXPECT_TRUE(server_
                  ->RateUntilAnswered(absl::StrCat("k-fo-", last),
                                      members[last],
                                      absl::StrCat("o-fo-", last), &response)
                  .ok());
}

}  // namespace
}  // namespace makegood
