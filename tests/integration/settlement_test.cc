// Settlement against real Redis and real gRPC: the outbox worker pays each
// refund exactly once through the wallet and sandbox providers, reconciles
// unknown answers, dead-letters poison entries, and WatchRefund streams every
// transition in order. Also corrections (MarkRefundAbusive), follow-up
// events, and the operator's tools for refunds settlement set aside
// (ListRefundsNeedingAttention, RedriveRefund, makegood_admin).
#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/redis/hiredis_client.h"
#include "services/settlement/lua/scripts.h"
#include "services/settlement/sandbox_pay_script.h"
#include "services/settlement/sandbox_provider.h"
#include "services/settlement/settle_finish_script.h"
#include "services/settlement/wallet_provider.h"
#include "services/settlement/worker.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Hash fields of a Redis reply to HGETALL.
std::map<std::string, std::string> Fields(const redis::RedisReply& reply) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    out[reply.elements[i].str] = reply.elements[i + 1].str;
  }
  return out;
}

const std::string kAdmin = MAKEGOOD_ADMIN;

// A card processor that goes down: while `down`, Pay still pays (through the
// sandbox's books) but its answer is lost, and Lookup cannot tell — a
// provider that committed and then timed out, then stayed unreachable.
class OutageProvider final : public settlement::PaymentProvider {
 public:
  explicit OutageProvider(std::unique_ptr<settlement::PaymentProvider> books)
      : books_(std::move(books)) {}
  absl::string_view name() const override { return "sandbox"; }
  void Pay(const settlement::PayoutRequest& request,
           absl::AnyInvocable<void(settlement::PayoutResult)> done) override {
    if (!down) {
      ++pays_while_up;
      books_->Pay(request, std::move(done));
      return;
    }
    books_->Pay(request,
                [done = std::move(done)](settlement::PayoutResult) mutable {
                  done({settlement::PayoutOutcome::kUnknown, "", "timeout"});
                });
  }
  void Lookup(
      const settlement::PayoutRequest& request,
      absl::AnyInvocable<void(settlement::PayoutResult)> done) override {
    if (down) {
      done({settlement::PayoutOutcome::kUnknown, "", "http_503"});
      return;
    }
    books_->Lookup(request, std::move(done));
  }
  std::atomic<bool> down{true};
  std::atomic<int> pays_while_up{0};

 private:
  std::unique_ptr<settlement::PaymentProvider> books_;
};

// Entries of a stream as field maps.
std::vector<std::map<std::string, std::string>> StreamEntries(
    const redis::RedisReply& reply) {
  std::vector<std::map<std::string, std::string>> out;
  for (const auto& entry : reply.elements) {
    if (entry.elements.size() >= 2) out.push_back(Fields(entry.elements[1]));
  }
  return out;
}

class SettlementTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = AppHarness::Create();
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = *std::move(harness);
  }

  void TearDown() override {
    worker_.reset();
    card_.reset();
    wallet_.reset();
    coupon_.reset();
    redis_.reset();
  }

  void StartApp() {
    ASSERT_TRUE(h_->StartApp().ok());
    ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  }

  void RecordOrder(const std::string& order_id,
                   v1::PaymentMethod method = v1::PAYMENT_METHOD_CARD,
                   const std::string& member = "m-1") {
    v1::RecordDeliveryRequest request;
    *request.mutable_order() = AppHarness::SampleOrder(
        member, order_id, h_->clock().Now() - absl::Hours(1));
    request.mutable_order()->set_payment_method(method);
    grpc::ClientContext context;
    v1::RecordDeliveryResponse response;
    ASSERT_TRUE(
        h_->stubs().orders->RecordDelivery(&context, request, &response).ok());
  }

  // A worker of our own (not the App's), so tests control when it runs.
  // With `outage`, the card provider is an OutageProvider (down) over the
  // sandbox, kept in outage_.
  void StartWorker(const std::string& sandbox_spec,
                   const std::string& fallback = "wallet",
                   absl::Duration retry_after = absl::Milliseconds(200),
                   int max_deliveries = 3, bool outage = false,
                   const std::string& consumer = "test-worker") {
    if (redis_ == nullptr) {
      auto redis = redis::HiredisClient::Start(h_->config().redis);
      ASSERT_TRUE(redis.ok());
      redis_ = *std::move(redis);
    }
    auto sandbox = settlement::ParseSandboxSpec(sandbox_spec);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    wallet_ = std::make_unique<settlement::WalletProvider>(
        *redis_, keys_, settlement::WalletProvider::Kind::kWallet);
    coupon_ = std::make_unique<settlement::WalletProvider>(
        *redis_, keys_, settlement::WalletProvider::Kind::kCoupon);
    card_ =
        std::make_unique<settlement::SandboxProvider>(*redis_, keys_, *sandbox);
    outage_ = nullptr;
    if (outage) {
      auto wrapped = std::make_unique<OutageProvider>(std::move(card_));
      outage_ = wrapped.get();
      card_ = std::move(wrapped);
    }
    settlement::WorkerOptions options;
    options.consumer = consumer;
    options.fallback = fallback;
    options.retry_after = retry_after;
    options.max_deliveries = max_deliveries;
    options.block = absl::Milliseconds(100);
    worker_ = std::make_unique<settlement::SettlementWorker>(
        *redis_, keys_, h_->clock(),
        absl::flat_hash_map<std::string, settlement::PaymentProvider*>{
            {"wallet", wallet_.get()},
            {"coupon", coupon_.get()},
            {"sandbox", card_.get()}},
        options);
    ASSERT_TRUE(worker_->Start(h_->config().redis).ok());
  }

  v1::SubmitRatingResponse Rate(const std::string& key,
                                const std::string& order_id,
                                int satisfaction = 50,
                                const std::string& member = "m-1") {
    v1::SubmitRatingResponse response;
    grpc::ClientContext context;
    grpc::Status status = h_->stubs().ratings->SubmitRating(
        &context, testing::MeltedRating(key, member, order_id, satisfaction),
        &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::Refund GetRefund(const std::string& refund_id,
                       v1::GetRefundResponse* full = nullptr) {
    v1::GetRefundRequest request;
    request.set_refund_id(refund_id);
    request.set_include_events(true);
    v1::GetRefundResponse response;
    grpc::ClientContext context;
    EXPECT_TRUE(
        h_->stubs().refunds->GetRefund(&context, request, &response).ok());
    if (full != nullptr) *full = response;
    return response.refund();
  }

  // Polls until the refund is in a final state (or 10 s pass).
  // Watches `refund_id` (its first message must say ACCEPTED), starts a
  // worker with `sandbox_spec`, and returns the states the watch sends until
  // it ends (which it must, OK).
  std::vector<v1::RefundState> WatchWhileAWorkerSettles(
      const std::string& refund_id, const std::string& sandbox_spec) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(20));
    v1::WatchRefundRequest request;
    request.set_refund_id(refund_id);
    auto reader = h_->stubs().refunds->WatchRefund(&context, request);
    v1::WatchRefundResponse message;
    EXPECT_TRUE(reader->Read(&message));
    EXPECT_EQ(message.refund().state(), v1::REFUND_STATE_ACCEPTED);
    StartWorker(sandbox_spec);
    std::vector<v1::RefundState> states;
    while (reader->Read(&message)) states.push_back(message.refund().state());
    EXPECT_TRUE(reader->Finish().ok());
    return states;
  }

  v1::Refund WaitFinal(const std::string& refund_id) {
    v1::Refund refund;
    for (int i = 0; i < 1000; ++i) {
      refund = GetRefund(refund_id);
      if (refund.state() >= v1::REFUND_STATE_SUCCEEDED) return refund;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return refund;
  }

  // The partition of `member` (m-1's by default).
  int P(const std::string& member = "m-1") { return keys_.PartitionOf(member); }

  int64_t SandboxPaid(const std::string& refund_id,
                      const std::string& member = "m-1") {
    auto paid = h_->Redis(
        {"HGET", keys_.SandboxPaymentsKey(P(member)), "paid:" + refund_id});
    int64_t n = 0;
    if (paid.ok() && paid->is_text()) (void)absl::SimpleAtoi(paid->str, &n);
    return n;
  }

  // Σ of every ledger balance (per currency all are EUR here): must be 0.
  int64_t LedgerSum() {
    auto balances = h_->Redis({"HGETALL", keys_.LedgerBalancesKey(P())});
    int64_t sum = 0;
    for (const auto& [account, value] : Fields(*balances)) {
      int64_t v = 0;
      EXPECT_TRUE(absl::SimpleAtoi(value, &v)) << account;
      sum += v;
    }
    return sum;
  }

  int64_t Balance(const std::string& account) {
    auto v = h_->Redis({"HGET", keys_.LedgerBalancesKey(P()), account});
    int64_t n = 0;
    if (v.ok() && v->is_text()) (void)absl::SimpleAtoi(v->str, &n);
    return n;
  }

  int64_t PendingEntries() {
    auto pending = h_->Redis({"XPENDING", keys_.OutboxKey(P()), "settlement"});
    return pending.ok() && !pending->elements.empty()
               ? pending->elements[0].integer
               : -1;
  }

  std::unique_ptr<AppHarness> h_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
  std::unique_ptr<redis::RedisClient> redis_;
  std::unique_ptr<settlement::PaymentProvider> wallet_, coupon_, card_;
  std::unique_ptr<settlement::SettlementWorker> worker_;
  OutageProvider* outage_ = nullptr;  // Owned by card_.

  // Stops our worker (entries it holds stay pending).
  void StopWorker() {
    if (worker_ != nullptr) worker_->Stop();
    worker_.reset();
  }

  // Runs a script on the test's own connection and waits for its answer.
  absl::StatusOr<redis::RedisReply> Eval(const redis::LuaScript& script,
                                         settlement::ScriptCall call) {
    if (redis_ == nullptr) {
      auto redis = redis::HiredisClient::Start(h_->config().redis);
      if (!redis.ok()) return redis.status();
      redis_ = *std::move(redis);
      for (int i = 0; i < 500 && redis_->ready_connections() == 0; ++i) {
        absl::SleepFor(absl::Milliseconds(5));
      }
    }
    absl::Notification done;
    absl::StatusOr<redis::RedisReply> out;
    redis_->Eval(script, std::move(call.keys), std::move(call.args),
                 [&](absl::StatusOr<redis::RedisReply> reply) {
                   out = std::move(reply);
                   done.Notify();
                 });
    done.WaitForNotification();
    return out;
  }

  // settle_finish.lua as a worker calls it, for `entry_id` of m-1's outbox.
  absl::StatusOr<settlement::SettleFinishReply> Finish(
      const std::string& refund_id, settlement::SettleFinishResult result,
      const std::string& entry_id, const std::string& order_id) {
    auto reply = Eval(settlement::scripts::kSettleFinish,
                      settlement::BuildSettleFinishCall(
                          keys_, settlement::SettleFinishRequest{
                                     .partition = P(),
                                     .refund_id = refund_id,
                                     .member_id = "m-1",
                                     .order_id = order_id,
                                     .now = h_->clock().Now(),
                                     .result = result,
                                     .provider_reference = "ref-1",
                                     .reason = "paid",
                                     .entry_id = entry_id,
                                     .group = "settlement",
                                     .fallback = "wallet",
                                     .actor = "settlement:stale",
                                     .deliveries = 1,
                                     .entry = ""}));
    if (!reply.ok()) return reply.status();
    return settlement::ParseSettleFinishReply(*reply);
  }

  // Takes m-1's outbox entries as consumer `consumer` (they become
  // pending), as a worker does; their ids.
  std::vector<std::string> TakeEntries(const std::string& consumer) {
    (void)h_->Redis({"XGROUP", "CREATE", keys_.OutboxKey(P()), "settlement",
                     "0", "MKSTREAM"});
    auto read =
        h_->Redis({"XREADGROUP", "GROUP", "settlement", consumer, "COUNT",
                   "100", "STREAMS", keys_.OutboxKey(P()), ">"});
    std::vector<std::string> ids;
    if (read.ok() && !read->elements.empty()) {
      for (const auto& entry : read->elements[0].elements[1].elements) {
        ids.push_back(entry.elements[0].str);
      }
    }
    return ids;
  }

  // Ledger postings of one refund (txn), as field maps.
  std::vector<std::map<std::string, std::string>> Postings(
      const std::string& refund_id) {
    std::vector<std::map<std::string, std::string>> out;
    for (auto& e : StreamEntries(
             *h_->Redis({"XRANGE", keys_.LedgerKey(P()), "-", "+"}))) {
      if (e["txn"] == refund_id) out.push_back(e);
    }
    return out;
  }

  std::string RedisUrl() {
    return absl::StrCat("redis://", h_->config().redis.host, ":",
                        h_->config().redis.port, "/", h_->config().redis.db);
  }

  testing::CommandResult Admin(std::vector<std::string> args) {
    std::vector<std::string> argv = {kAdmin};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.push_back("--redis=" + RedisUrl());
    auto result = testing::RunCommand(argv, absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : testing::CommandResult{};
  }

  grpc::Status ListAttention(v1::ListRefundsNeedingAttentionResponse* response,
                             int page_size = 0, const std::string& token = "") {
    v1::ListRefundsNeedingAttentionRequest request;
    request.set_page_size(page_size);
    request.set_page_token(token);
    grpc::ClientContext context;
    return h_->stubs().refunds->ListRefundsNeedingAttention(&context, request,
                                                            response);
  }

  grpc::Status Redrive(const std::string& refund_id,
                       v1::RedriveRefundResponse* response,
                       const std::string& operator_id = "op-1") {
    v1::RedriveRefundRequest request;
    request.set_refund_id(refund_id);
    request.set_operator_id(operator_id);
    request.set_reason("provider_recovered");
    grpc::ClientContext context;
    return h_->stubs().refunds->RedriveRefund(&context, request, response);
  }

  grpc::Status MarkAbusive(const std::string& refund_id,
                           v1::MarkRefundAbusiveResponse* response) {
    v1::MarkRefundAbusiveRequest mark;
    mark.set_refund_id(refund_id);
    mark.set_operator_id("op-7");
    mark.set_reason("photo_reused");
    mark.set_reverse_refund(true);
    grpc::ClientContext context;
    return h_->stubs().refunds->MarkRefundAbusive(&context, mark, response);
  }

  v1::Refund Grant(const std::string& key, v1::Instrument instrument,
                   const std::string& order_id = "") {
    v1::GrantGoodwillRequest r;
    r.set_idempotency_key(key);
    r.set_agent_id("agent-7");
    r.set_member_id("m-1");
    r.set_order_id(order_id);
    r.set_amount_minor(500);
    r.set_currency("EUR");
    r.set_instrument(instrument);
    r.set_reason("late_again");
    v1::GrantGoodwillResponse response;
    grpc::ClientContext context;
    grpc::Status status =
        h_->stubs().goodwill->GrantGoodwill(&context, r, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.refund();
  }
};

TEST_F(SettlementTest, WalletRefundSettlesWithLedgerAndWalletInStep) {
  StartApp();
  RecordOrder("o-w", v1::PAYMENT_METHOD_WALLET);
  v1::SubmitRatingResponse rated = Rate("k-w", "o-w");
  ASSERT_TRUE(rated.decision().has_refund());
  const v1::Refund& accepted = rated.decision().refund();
  EXPECT_EQ(accepted.instrument(), v1::INSTRUMENT_WALLET);
  EXPECT_EQ(GetRefund(accepted.refund_id()).state(), v1::REFUND_STATE_ACCEPTED);

  StartWorker("");
  v1::Refund settled = WaitFinal(accepted.refund_id());
  EXPECT_EQ(settled.state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(settled.amount_minor(), accepted.amount_minor());

  auto wallet = h_->Redis({"HGETALL", keys_.WalletKey(P(), "m-1")});
  auto fields = Fields(*wallet);
  EXPECT_EQ(fields["bal:EUR"], absl::StrCat(accepted.amount_minor()));
  EXPECT_EQ(fields["tx:" + accepted.refund_id()],
            absl::StrCat(accepted.amount_minor()));
  EXPECT_EQ(LedgerSum(), 0);
  EXPECT_EQ(Balance("payable:member:m-1:wallet:EUR"), 0);
  EXPECT_EQ(Balance("wallet:member:m-1:EUR"), -accepted.amount_minor());
  EXPECT_EQ(PendingEntries(), 0);
  auto outbox = h_->Redis({"XLEN", keys_.OutboxKey(P())});
  EXPECT_EQ(outbox->integer, 0) << "acknowledged entries are deleted";

  // The audit trail: creation by the policy, then the worker's transitions.
  v1::GetRefundResponse full;
  GetRefund(accepted.refund_id(), &full);
  ASSERT_EQ(full.events_size(), 3);
  EXPECT_EQ(full.events(0).to_state(), v1::REFUND_STATE_ACCEPTED);
  EXPECT_THAT(full.events(0).actor(), HasSubstr("policy:"));
  EXPECT_EQ(full.events(1).to_state(), v1::REFUND_STATE_SETTLING);
  EXPECT_EQ(full.events(1).reason(), "sent_to_wallet");
  EXPECT_EQ(full.events(2).from_state(), v1::REFUND_STATE_SETTLING);
  EXPECT_EQ(full.events(2).to_state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(full.events(2).actor(), "settlement:test-worker");

  // The member hears about it: on its way at commit, then settled.
  auto notes = h_->Redis({"XRANGE", keys_.NotificationsKey(P()), "-", "+"});
  auto entries = StreamEntries(*notes);
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0]["kind"], "refund_on_its_way");
  EXPECT_EQ(entries[1]["kind"], "refund_succeeded");
  EXPECT_EQ(worker_->stats().succeeded, 1u);
}

TEST_F(SettlementTest, WatchRefundStreamsEveryTransitionInOrder) {
  StartApp();
  RecordOrder("o-1");
  v1::SubmitRatingResponse rated = Rate("k-1", "o-1");
  ASSERT_TRUE(rated.decision().has_refund());
  const std::string refund_id = rated.decision().refund().refund_id();
  // A processor answering in 150 ms: SETTLING is visible before SUCCEEDED.
  EXPECT_THAT(
      WatchWhileAWorkerSettles(refund_id, "latency=150ms"),
      ElementsAre(v1::REFUND_STATE_SETTLING, v1::REFUND_STATE_SUCCEEDED));
  EXPECT_EQ(SandboxPaid(refund_id), 1);
}

// Calls of `command` Redis has answered (INFO commandstats).
int64_t CommandCalls(AppHarness& h, const std::string& command) {
  auto info = h.Redis({"INFO", "commandstats"});
  if (!info.ok()) return -1;
  const std::string prefix = absl::StrCat("cmdstat_", command, ":calls=");
  for (absl::string_view line : absl::StrSplit(info->str, '\n')) {
    if (!absl::ConsumePrefix(&line, prefix)) continue;
    int64_t calls = 0;
    if (absl::SimpleAtoi(line.substr(0, line.find(',')), &calls)) return calls;
  }
  return 0;
}

// With keyspace notifications on (the harness's Redis has
// notify-keyspace-events Kt), idle stream readers send no reads: the feed
// behind WatchRefund and the worker wait for a notification, reading every
// stream only every 5 s in case one was lost.
TEST_F(SettlementTest, IdleReadersSendNoReadsWhileNotificationsAreOn) {
  StartApp();
  StartWorker("");
  RecordOrder("o-1");
  const std::string refund_id =
      Rate("k-1", "o-1").decision().refund().refund_id();
  EXPECT_EQ(WaitFinal(refund_id).state(), v1::REFUND_STATE_SUCCEEDED);
  absl::SleepFor(absl::Milliseconds(300));
  const int64_t before =
      CommandCalls(*h_, "xread") + CommandCalls(*h_, "xreadgroup");
  absl::SleepFor(absl::Seconds(2));
  const int64_t reads =
      CommandCalls(*h_, "xread") + CommandCalls(*h_, "xreadgroup") - before;
  // Blocking reads of 500 ms would be about 12 in 2 s (three readers: the
  // worker, insights and the feed); the full reads every 5 s are at most one
  // each.
  EXPECT_LE(reads, 4);
}

// A Redis with keyspace notifications off: the readers block on reads of
// every stream instead, and refunds still settle and are watched at once.
TEST_F(SettlementTest, WithoutNotificationsReadsBlockAndRefundsStillSettle) {
  ASSERT_TRUE(h_->Redis({"CONFIG", "SET", "notify-keyspace-events", ""}).ok());
  StartApp();
  RecordOrder("o-1");
  const std::string refund_id =
      Rate("k-1", "o-1").decision().refund().refund_id();
  const absl::Time started = absl::Now();
  EXPECT_THAT(
      WatchWhileAWorkerSettles(refund_id, "latency=150ms"),
      ElementsAre(v1::REFUND_STATE_SETTLING, v1::REFUND_STATE_SUCCEEDED));
  // Woken by the blocking reads, not by the 5 s full read.
  EXPECT_LT(absl::Now() - started, absl::Seconds(4));
  const int64_t before =
      CommandCalls(*h_, "xread") + CommandCalls(*h_, "xreadgroup");
  absl::SleepFor(absl::Seconds(2));
  EXPECT_GE(
      CommandCalls(*h_, "xread") + CommandCalls(*h_, "xreadgroup") - before, 4)
      << "the readers (worker, insights, feed) block 500 ms at a time";
}

TEST_F(SettlementTest, WatchOfASettledRefundSendsItAndEnds) {
  StartApp();
  RecordOrder("o-1");
  const std::string refund_id =
      Rate("k-1", "o-1").decision().refund().refund_id();
  StartWorker("");
  ASSERT_EQ(WaitFinal(refund_id).state(), v1::REFUND_STATE_SUCCEEDED);

  grpc::ClientContext context;
  v1::WatchRefundRequest request;
  request.set_refund_id(refund_id);
  auto reader = h_->stubs().refunds->WatchRefund(&context, request);
  v1::WatchRefundResponse message;
  std::vector<v1::RefundState> states;
  while (reader->Read(&message)) states.push_back(message.refund().state());
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_THAT(states, ElementsAre(v1::REFUND_STATE_SUCCEEDED));
}

TEST_F(SettlementTest, WatchRefusesBadAndUnknownIds) {
  StartApp();
  for (const auto& [id, code] :
       std::vector<std::pair<std::string, grpc::StatusCode>>{
           {"nope", grpc::StatusCode::INVALID_ARGUMENT},
           {"rf_3_000000000000000000000000", grpc::StatusCode::NOT_FOUND}}) {
    grpc::ClientContext context;
    v1::WatchRefundRequest request;
    request.set_refund_id(id);
    auto reader = h_->stubs().refunds->WatchRefund(&context, request);
    v1::WatchRefundResponse message;
    EXPECT_FALSE(reader->Read(&message));
    EXPECT_EQ(reader->Finish().error_code(), code) << id;
  }
}

TEST_F(SettlementTest, ProviderCommitsThenTimesOutAndIsReconciledNotPaidAgain) {
  StartApp();
  RecordOrder("o-1");
  const std::string refund_id =
      Rate("k-1", "o-1").decision().refund().refund_id();
  // Every Pay commits and then loses its answer; Lookup tells the truth.
  StartWorker("commit_timeout=1");
  v1::Refund settled = WaitFinal(refund_id);
  EXPECT_EQ(settled.state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(SandboxPaid(refund_id), 1);
  EXPECT_GE(worker_->stats().unknown, 1u);
  EXPECT_GE(worker_->stats().resumed, 1u);
  EXPECT_EQ(LedgerSum(), 0);
  EXPECT_EQ(Balance("clearing:sandbox:EUR"), -settled.amount_minor());
}

TEST_F(SettlementTest, DeclinedCardRefundBecomesWalletCreditByPolicy) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  StartWorker("decline=1");
  v1::Refund settled = WaitFinal(accepted.refund_id());
  EXPECT_EQ(settled.state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(settled.instrument(), v1::INSTRUMENT_WALLET);
  EXPECT_THAT(settled.state_reason(), HasSubstr("fallback_wallet"));
  auto wallet = h_->Redis({"HGET", keys_.WalletKey(P(), "m-1"), "bal:EUR"});
  EXPECT_EQ(wallet->str, absl::StrCat(accepted.amount_minor()));
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 0);
  EXPECT_EQ(LedgerSum(), 0);
}

TEST_F(SettlementTest, DeclinedWithoutFallbackFailsAndRestoresTheOrder) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  const std::string key = keys_.OrderKey("m-1", "o-1");
  EXPECT_EQ(h_->Redis({"HGET", key, "refunded_minor"})->str,
            absl::StrCat(accepted.amount_minor()));
  StartWorker("decline=1", /*fallback=*/"");
  v1::Refund settled = WaitFinal(accepted.refund_id());
  EXPECT_EQ(settled.state(), v1::REFUND_STATE_FAILED);
  EXPECT_EQ(settled.state_reason(), "card_declined");
  EXPECT_EQ(h_->Redis({"HGET", key, "refunded_minor"})->str, "0");
  EXPECT_EQ(LedgerSum(), 0);
  EXPECT_EQ(Balance("payable:member:m-1:original_payment:EUR"), 0);
  EXPECT_EQ(Balance("expense:refunds:original_payment:EUR"), 0);
  auto notes = h_->Redis({"XRANGE", keys_.NotificationsKey(P()), "-", "+"});
  EXPECT_EQ(StreamEntries(*notes).back()["kind"], "refund_failed");
}

TEST_F(SettlementTest,
       ProviderThatNeverAnswersEndsInNeedsAttentionAndDeadLetter) {
  StartApp();
  RecordOrder("o-1");
  const std::string refund_id =
      Rate("k-1", "o-1").decision().refund().refund_id();
  StartWorker("error=1", "wallet", absl::Milliseconds(100),
              /*max_deliveries=*/2);
  v1::Refund settled = WaitFinal(refund_id);
  EXPECT_EQ(settled.state(), v1::REFUND_STATE_NEEDS_ATTENTION);
  EXPECT_EQ(SandboxPaid(refund_id), 0);
  auto dead =
      StreamEntries(*h_->Redis({"XRANGE", keys_.DeadOutboxKey(P()), "-", "+"}));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0]["refund_id"], refund_id);
  EXPECT_EQ(dead[0]["reason"], "max_deliveries_exceeded");
  auto tasks =
      StreamEntries(*h_->Redis({"XRANGE", keys_.TasksKey(P()), "-", "+"}));
  EXPECT_EQ(tasks.back()["kind"], "settlement_attention");
  // Still owed to the member: the money stays payable for an operator.
  EXPECT_EQ(Balance("payable:member:m-1:original_payment:EUR"),
            -settled.amount_minor());
  EXPECT_EQ(PendingEntries(), 0);
}

TEST_F(SettlementTest, PoisonEntryGoesToTheDeadLetterStreamAndNothingElse) {
  StartApp();
  // An entry naming no refund that exists, and one that is not even valid.
  ASSERT_TRUE(
      h_->Redis({"XADD", keys_.OutboxKey(P()), "*", "type", "refund_accepted",
                 "refund_id", "rf_0_ffffffffffffffffffffffff", "member_id",
                 "m-1", "order_id", "o-x"})
          .ok());
  ASSERT_TRUE(
      h_->Redis({"XADD", keys_.OutboxKey(P()), "*", "garbage", "1"}).ok());
  StartWorker("", "wallet", absl::Milliseconds(100), /*max_deliveries=*/2);
  std::vector<std::map<std::string, std::string>> dead;
  for (int i = 0; i < 500 && dead.size() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    dead = StreamEntries(
        *h_->Redis({"XRANGE", keys_.DeadOutboxKey(P()), "-", "+"}));
  }
  ASSERT_EQ(dead.size(), 2u);
  // Both are dead-lettered; which goes first depends on when each one's
  // delivery count runs out, so the test does not depend on their order.
  std::vector<std::string> entries = {dead[0]["entry"], dead[1]["entry"]};
  std::sort(entries.begin(), entries.end());
  EXPECT_THAT(entries[0], HasSubstr("garbage=1"));
  EXPECT_THAT(entries[1], HasSubstr("refund_id=rf_0_ffffffffffffffffffffffff"));
  EXPECT_EQ(PendingEntries(), 0);
  auto keys = h_->Redis({"KEYS", store::KeySchema::AllRefundsPattern()});
  EXPECT_TRUE(keys->elements.empty()) << "no refund was invented";
}

TEST_F(SettlementTest, ManyRefundsSettleExactlyOnceEach) {
  StartApp();
  // Thirty members (one rating each, so no member rate limit applies),
  // spread over the partitions.
  std::vector<std::pair<std::string, std::string>> refunds;  // member, id
  for (int i = 0; i < 30; ++i) {
    std::string member = absl::StrCat("mm-", i);
    std::string order = absl::StrCat("o-", i);
    ASSERT_TRUE(h_->UpsertMember(member).ok());
    RecordOrder(order, v1::PAYMENT_METHOD_CARD, member);
    v1::SubmitRatingResponse rated = Rate("k", order, 50, member);
    ASSERT_TRUE(rated.decision().has_refund()) << member;
    refunds.emplace_back(member, rated.decision().refund().refund_id());
  }
  // Faults of every kind, but each refund must end paid exactly once.
  StartWorker("latency=2ms,commit_timeout=0.3,error=0.2,seed=11", "wallet",
              absl::Milliseconds(100), /*max_deliveries=*/50);
  for (const auto& [member, id] : refunds) {
    EXPECT_EQ(WaitFinal(id).state(), v1::REFUND_STATE_SUCCEEDED) << id;
    EXPECT_EQ(SandboxPaid(id, member), 1) << id;
  }
  EXPECT_GE(worker_->stats().unknown, 1u) << "the faults were exercised";
}

TEST_F(SettlementTest, SameEntryIdInTwoPartitionsIsSettledAtOnceInBoth) {
  StartApp();
  // Two members in different partitions, one refund each.
  std::vector<std::pair<std::string, std::string>> refunds;  // member, id
  for (const char* member : {"mm-a", "mm-b"}) {
    ASSERT_TRUE(h_->UpsertMember(member).ok());
    RecordOrder(absl::StrCat("o-", member), v1::PAYMENT_METHOD_WALLET, member);
    refunds.emplace_back(member,
                         Rate("k", absl::StrCat("o-", member), 50, member)
                             .decision()
                             .refund()
                             .refund_id());
  }
  ASSERT_NE(P("mm-a"), P("mm-b"));
  // Outbox entry ids are per stream: give both entries the same id, as two
  // commits in the same millisecond in different partitions get.
  for (const auto& [member, id] : refunds) {
    const std::string outbox = keys_.OutboxKey(P(member));
    auto entries = h_->Redis({"XRANGE", outbox, "-", "+"});
    ASSERT_EQ(entries->elements.size(), 1u);
    std::vector<std::string> argv = {"XADD", outbox, "1700000000000-0"};
    for (const auto& f : entries->elements[0].elements[1].elements) {
      argv.push_back(f.str);
    }
    ASSERT_TRUE(h_->Redis({"DEL", outbox}).ok());
    ASSERT_TRUE(h_->Redis(argv).ok());
  }
  // A long retry_after: a skipped entry would wait for it.
  StartWorker("", "wallet", absl::Seconds(60));
  for (const auto& [member, id] : refunds) {
    v1::Refund refund;
    for (int i = 0; i < 300 && refund.state() != v1::REFUND_STATE_SUCCEEDED;
         ++i) {
      refund = GetRefund(id);
      absl::SleepFor(absl::Milliseconds(10));
    }
    EXPECT_EQ(refund.state(), v1::REFUND_STATE_SUCCEEDED) << member;
  }
}

TEST_F(SettlementTest, FollowUpsAreEventsWithAppealIds) {
  StartApp();
  RecordOrder("o-1");
  v1::SubmitRatingRequest request =
      testing::MeltedRating("k-1", "m-1", "o-1", 10);
  request.add_reasons(v1::REASON_LATE);
  request.add_reasons(v1::REASON_DAMAGED);
  v1::SubmitRatingResponse response;
  grpc::ClientContext context;
  ASSERT_TRUE(
      h_->stubs().ratings->SubmitRating(&context, request, &response).ok());
  auto feedback =
      StreamEntries(*h_->Redis({"XRANGE", keys_.FeedbackKey(P()), "-", "+"}));
  ASSERT_FALSE(feedback.empty());
  for (auto& event : feedback) {
    EXPECT_THAT(event["appeal_id"], HasSubstr("ap_"));
    EXPECT_EQ(event["rating_id"], response.rating_id());
    EXPECT_THAT(event["kind"],
                ::testing::AnyOf("courier_feedback", "store_feedback"));
  }
  auto decisions =
      StreamEntries(*h_->Redis({"XRANGE", keys_.DecisionsKey(P()), "-", "+"}));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0]["store_id"], "store-1");
  // Line 0: its SKU, its satisfaction, its share of the refund.
  EXPECT_THAT(decisions[0]["items"], ::testing::StartsWith("ICE-CREAM\t10\t"));
  EXPECT_EQ(decisions[0].count("member_id"), 0u) << "no personal data";
}

TEST_F(SettlementTest, MarkingAbusiveReversesFeedbackTrustAndWalletCredit) {
  StartApp();
  RecordOrder("o-w", v1::PAYMENT_METHOD_WALLET);
  v1::SubmitRatingRequest request =
      testing::MeltedRating("k-1", "m-1", "o-w", 20);
  request.add_reasons(v1::REASON_LATE);
  v1::SubmitRatingResponse rated;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h_->stubs().ratings->SubmitRating(&context, request, &rated).ok());
  }
  const std::string refund_id = rated.decision().refund().refund_id();
  StartWorker("");
  ASSERT_EQ(WaitFinal(refund_id).state(), v1::REFUND_STATE_SUCCEEDED);
  auto feedback_before =
      StreamEntries(*h_->Redis({"XRANGE", keys_.FeedbackKey(P()), "-", "+"}));
  ASSERT_FALSE(feedback_before.empty());

  v1::MarkRefundAbusiveRequest mark;
  mark.set_refund_id(refund_id);
  mark.set_operator_id("op-7");
  mark.set_reason("photo_reused");
  mark.set_reverse_refund(true);
  v1::MarkRefundAbusiveResponse marked;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h_->stubs().refunds->MarkRefundAbusive(&context, mark, &marked).ok());
  }
  EXPECT_TRUE(marked.newly_marked());
  EXPECT_EQ(marked.feedback_reversed(),
            static_cast<int>(feedback_before.size()));
  EXPECT_EQ(marked.refund().state(), v1::REFUND_STATE_REVERSED);
  auto feedback_after =
      StreamEntries(*h_->Redis({"XRANGE", keys_.FeedbackKey(P()), "-", "+"}));
  ASSERT_EQ(feedback_after.size(), 2 * feedback_before.size());
  for (size_t i = 0; i < feedback_before.size(); ++i) {
    auto& reversal = feedback_after[feedback_before.size() + i];
    EXPECT_EQ(reversal["kind"], "feedback_reversed");
    EXPECT_EQ(reversal["appeal_id"], feedback_before[i]["appeal_id"]);
  }
  EXPECT_EQ(h_->Redis({"HGET", keys_.WalletKey(P(), "m-1"), "bal:EUR"})->str,
            "0");
  EXPECT_EQ(LedgerSum(), 0);
  auto stats = h_->Redis({"HGET", keys_.MemberStatsKey("m-1"), "abuse"});
  EXPECT_EQ(stats->str, "1");

  // The member's trust now carries it.
  v1::GetTrustRequest trust_request;
  trust_request.set_member_id("m-1");
  v1::GetTrustResponse trust;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h_->stubs().members->GetTrust(&context, trust_request, &trust).ok());
  }
  bool seen = false;
  for (const auto& factor : trust.trust().factors()) {
    if (absl::StrContains(factor.detail(), "confirmed_abuse") ||
        absl::StrContains(factor.name(), "confirmed_abuse")) {
      seen = true;
    }
  }
  EXPECT_TRUE(seen) << trust.DebugString();

  // Again: nothing more happens.
  {
    grpc::ClientContext context;
    ASSERT_TRUE(
        h_->stubs().refunds->MarkRefundAbusive(&context, mark, &marked).ok());
  }
  EXPECT_FALSE(marked.newly_marked());
  EXPECT_EQ(
      StreamEntries(*h_->Redis({"XRANGE", keys_.FeedbackKey(P()), "-", "+"}))
          .size(),
      feedback_after.size());
}

// --- Settlement acknowledges an entry only when its work is final ----------

TEST_F(SettlementTest, AnswerForARefundStillAcceptedLeavesItsEntryPending) {
  StartApp();
  RecordOrder("o-w", v1::PAYMENT_METHOD_WALLET);
  const v1::Refund accepted = Rate("k-w", "o-w").decision().refund();
  // A worker took the entry, but the refund is still ACCEPTED (its SETTLING
  // write was lost in a failover, or an operator re-drove it meanwhile).
  std::vector<std::string> entries = TakeEntries("stale");
  ASSERT_EQ(entries.size(), 1u);
  const size_t postings = Postings(accepted.refund_id()).size();
  using settlement::SettleFinishResult;
  for (SettleFinishResult result :
       {SettleFinishResult::kSucceeded, SettleFinishResult::kDeclined,
        SettleFinishResult::kAck}) {
    auto finished = Finish(accepted.refund_id(), result, entries[0], "o-w");
    ASSERT_TRUE(finished.ok()) << finished.status();
    EXPECT_EQ(finished->answer, settlement::SettleFinishAnswer::kNotFinal)
        << static_cast<int>(result);
    EXPECT_EQ(finished->state, "ACCEPTED") << static_cast<int>(result);
    EXPECT_EQ(PendingEntries(), 1)
        << static_cast<int>(result) << ": the entry was acked";
    EXPECT_EQ(h_->Redis({"XLEN", keys_.OutboxKey(P())})->integer, 1)
        << static_cast<int>(result);
  }
  EXPECT_EQ(GetRefund(accepted.refund_id()).state(), v1::REFUND_STATE_ACCEPTED);
  EXPECT_EQ(Postings(accepted.refund_id()).size(), postings)
      << "nothing was recorded";

  // The entry is retried and the refund settles, paid once.
  StartWorker("", "wallet", absl::Milliseconds(100));
  EXPECT_EQ(WaitFinal(accepted.refund_id()).state(),
            v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(h_->Redis({"HGET", keys_.WalletKey(P(), "m-1"), "bal:EUR"})->str,
            absl::StrCat(accepted.amount_minor()));
  for (int i = 0; i < 300 && PendingEntries() != 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(PendingEntries(), 0);
  EXPECT_EQ(LedgerSum(), 0);
}

TEST_F(SettlementTest, StaleEntryOfAFinalRefundIsAckedWithoutChanges) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  StartWorker("decline=1", /*fallback=*/"");
  ASSERT_EQ(WaitFinal(accepted.refund_id()).state(), v1::REFUND_STATE_FAILED);
  StopWorker();
  v1::GetRefundResponse before;
  GetRefund(accepted.refund_id(), &before);
  const size_t postings = Postings(accepted.refund_id()).size();
  auto order_key = keys_.OrderKey("m-1", "o-1");
  const std::string refunded =
      h_->Redis({"HGET", order_key, "refunded_minor"})->str;

  // A stale duplicate of its entry arrives with a (late) success.
  ASSERT_TRUE(h_->Redis({"XADD", keys_.OutboxKey(P()), "*", "type",
                         "refund_accepted", "refund_id", accepted.refund_id(),
                         "member_id", "m-1", "order_id", "o-1"})
                  .ok());
  std::vector<std::string> entries = TakeEntries("stale");
  ASSERT_EQ(entries.size(), 1u);
  auto finished =
      Finish(accepted.refund_id(), settlement::SettleFinishResult::kSucceeded,
             entries[0], "o-1");
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->answer, settlement::SettleFinishAnswer::kAlready);
  EXPECT_EQ(finished->state, "FAILED");
  EXPECT_EQ(PendingEntries(), 0);
  EXPECT_EQ(h_->Redis({"XLEN", keys_.OutboxKey(P())})->integer, 0);

  // And one more, through a worker.
  ASSERT_TRUE(h_->Redis({"XADD", keys_.OutboxKey(P()), "*", "type",
                         "refund_accepted", "refund_id", accepted.refund_id(),
                         "member_id", "m-1", "order_id", "o-1"})
                  .ok());
  StartWorker("");
  for (int i = 0;
       i < 300 && h_->Redis({"XLEN", keys_.OutboxKey(P())})->integer != 0;
       ++i) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(h_->Redis({"XLEN", keys_.OutboxKey(P())})->integer, 0);
  EXPECT_EQ(PendingEntries(), 0);

  v1::GetRefundResponse after;
  GetRefund(accepted.refund_id(), &after);
  EXPECT_EQ(after.refund().state(), v1::REFUND_STATE_FAILED);
  EXPECT_EQ(after.events_size(), before.events_size()) << "no transition";
  EXPECT_EQ(Postings(accepted.refund_id()).size(), postings) << "no posting";
  EXPECT_EQ(h_->Redis({"HGET", order_key, "refunded_minor"})->str, refunded);
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 0);
}

TEST_F(SettlementTest, TwoWorkersSettlingOneRefundAtOncePayItOnce) {
  StartApp();
  std::vector<std::pair<std::string, std::string>> refunds;  // member, id
  for (int i = 0; i < 6; ++i) {
    std::string member = absl::StrCat("mr-", i);
    ASSERT_TRUE(h_->UpsertMember(member).ok());
    RecordOrder(absl::StrCat("o-", i), v1::PAYMENT_METHOD_CARD, member);
    refunds.emplace_back(member, Rate("k", absl::StrCat("o-", i), 50, member)
                                     .decision()
                                     .refund()
                                     .refund_id());
  }
  // Answers slower than retry_after: each worker takes over the other's
  // entries (XAUTOCLAIM) while the first payout is still in flight.
  StartWorker("latency=300ms,slow=0.5,slow_latency=700ms,seed=5", "wallet",
              absl::Milliseconds(100), /*max_deliveries=*/50);
  // Declared before the worker, so destroyed after it.
  std::unique_ptr<settlement::PaymentProvider> first_card = std::move(card_),
                                               first_wallet =
                                                   std::move(wallet_),
                                               first_coupon =
                                                   std::move(coupon_);
  std::unique_ptr<settlement::SettlementWorker> first = std::move(worker_);
  StartWorker("latency=300ms,slow=0.5,slow_latency=700ms,seed=6", "wallet",
              absl::Milliseconds(100), /*max_deliveries=*/50,
              /*outage=*/false, "test-worker-2");
  for (const auto& [member, id] : refunds) {
    EXPECT_EQ(WaitFinal(id).state(), v1::REFUND_STATE_SUCCEEDED) << id;
  }
  first->Stop();
  worker_->Stop();
  EXPECT_GE(first->stats().reclaimed + worker_->stats().reclaimed, 1u)
      << "the workers raced";
  for (const auto& [member, id] : refunds) {
    EXPECT_EQ(SandboxPaid(id, member), 1) << id;
    v1::GetRefundResponse full;
    GetRefund(id, &full);
    int succeeded = 0;
    for (const auto& e : full.events()) {
      succeeded += e.to_state() == v1::REFUND_STATE_SUCCEEDED;
    }
    EXPECT_EQ(succeeded, 1) << id;
  }
}

// --- NEEDS_ATTENTION: list, re-drive, reconcile --fix ---------------------

TEST_F(SettlementTest,
       DeadLetteredRefundIsListedWithItsAgeAndRedrivenPaidOnce) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  // A provider outage longer than max_deliveries: set aside.
  StartWorker("error=1", "wallet", absl::Milliseconds(100),
              /*max_deliveries=*/2);
  ASSERT_EQ(WaitFinal(accepted.refund_id()).state(),
            v1::REFUND_STATE_NEEDS_ATTENTION);
  StopWorker();
  const absl::Time set_aside = h_->clock().Now();
  h_->clock().Advance(absl::Minutes(7));

  v1::ListRefundsNeedingAttentionResponse listed;
  ASSERT_TRUE(ListAttention(&listed).ok());
  ASSERT_EQ(listed.refunds_size(), 1);
  EXPECT_EQ(listed.total_count(), 1);
  const auto& item = listed.refunds(0);
  EXPECT_EQ(item.refund().refund_id(), accepted.refund_id());
  EXPECT_EQ(item.refund().state(), v1::REFUND_STATE_NEEDS_ATTENTION);
  EXPECT_EQ(item.provider(), "sandbox");
  EXPECT_GE(item.attempts(), 1);
  EXPECT_EQ(item.attention_since().seconds(), absl::ToUnixSeconds(set_aside));
  EXPECT_EQ(item.age().seconds(), 7 * 60);
  // The operator tool lists the same.
  testing::CommandResult cli = Admin({"attention"});
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_THAT(cli.output, HasSubstr(accepted.refund_id()));
  EXPECT_THAT(cli.output, HasSubstr("\"needs_attention\":1"));

  // The provider is back; an operator re-drives it.
  v1::RedriveRefundResponse redriven;
  ASSERT_TRUE(Redrive(accepted.refund_id(), &redriven).ok());
  EXPECT_TRUE(redriven.redriven());
  EXPECT_EQ(redriven.refund().state(), v1::REFUND_STATE_ACCEPTED);
  // Again: nothing more happens.
  ASSERT_TRUE(Redrive(accepted.refund_id(), &redriven).ok());
  EXPECT_FALSE(redriven.redriven());
  EXPECT_EQ(h_->Redis({"XLEN", keys_.OutboxKey(P())})->integer, 1);
  listed.Clear();
  ASSERT_TRUE(ListAttention(&listed).ok());
  EXPECT_EQ(listed.refunds_size(), 0);

  StartWorker("");
  v1::Refund settled = WaitFinal(accepted.refund_id());
  EXPECT_EQ(settled.state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 1);
  EXPECT_EQ(Balance("payable:member:m-1:original_payment:EUR"), 0);
  EXPECT_EQ(LedgerSum(), 0);
  v1::GetRefundResponse full;
  GetRefund(accepted.refund_id(), &full);
  bool audited = false;
  for (const auto& e : full.events()) {
    if (e.from_state() == v1::REFUND_STATE_NEEDS_ATTENTION &&
        e.to_state() == v1::REFUND_STATE_ACCEPTED) {
      audited = e.actor() == "operator:op-1" &&
                e.reason() == "redrive:provider_recovered";
    }
  }
  EXPECT_TRUE(audited) << full.DebugString();
  EXPECT_EQ(full.events(full.events_size() - 2).reason(), "resent_to_sandbox")
      << "looked up at the provider it was sent to";

  // A paid refund cannot be re-driven.
  grpc::Status status = Redrive(accepted.refund_id(), &redriven);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 1);
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(SettlementTest, RefundPaidBeforeTheOutageIsRedrivenWithoutPayingTwice) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  // The processor pays, loses the answer, then stays unreachable.
  StartWorker("", "wallet", absl::Milliseconds(100), /*max_deliveries=*/2,
              /*outage=*/true);
  ASSERT_EQ(WaitFinal(accepted.refund_id()).state(),
            v1::REFUND_STATE_NEEDS_ATTENTION);
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 1) << "paid before the outage";
  outage_->down = false;

  v1::RedriveRefundResponse redriven;
  ASSERT_TRUE(Redrive(accepted.refund_id(), &redriven).ok());
  EXPECT_TRUE(redriven.redriven());
  v1::Refund settled = WaitFinal(accepted.refund_id());
  EXPECT_EQ(settled.state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 1) << "not paid twice";
  EXPECT_EQ(outage_->pays_while_up, 0)
      << "looked up first: the provider was not asked to pay again";
  EXPECT_EQ(Balance("clearing:sandbox:EUR"), -settled.amount_minor());
  EXPECT_EQ(LedgerSum(), 0);
}

TEST_F(SettlementTest, RefundWhoseEntryWasAckedWhileAcceptedIsRequeued) {
  StartApp();
  RecordOrder("o-w", v1::PAYMENT_METHOD_WALLET);
  const v1::Refund accepted = Rate("k-w", "o-w").decision().refund();
  // An entry in the outbox carries it: a re-drive changes nothing.
  v1::RedriveRefundResponse redriven;
  ASSERT_TRUE(Redrive(accepted.refund_id(), &redriven).ok());
  EXPECT_FALSE(redriven.redriven());
  EXPECT_EQ(h_->Redis({"XLEN", keys_.OutboxKey(P())})->integer, 1);
  // As settle_finish.lua used to: acknowledged and deleted while ACCEPTED.
  std::vector<std::string> entries = TakeEntries("old");
  ASSERT_EQ(entries.size(), 1u);
  ASSERT_TRUE(
      h_->Redis({"XACK", keys_.OutboxKey(P()), "settlement", entries[0]}).ok());
  ASSERT_TRUE(h_->Redis({"XDEL", keys_.OutboxKey(P()), entries[0]}).ok());

  ASSERT_TRUE(Redrive(accepted.refund_id(), &redriven).ok());
  EXPECT_TRUE(redriven.redriven()) << "orphaned: re-enqueued";
  EXPECT_EQ(redriven.refund().state(), v1::REFUND_STATE_ACCEPTED);
  StartWorker("");
  EXPECT_EQ(WaitFinal(accepted.refund_id()).state(),
            v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(h_->Redis({"HGET", keys_.WalletKey(P(), "m-1"), "bal:EUR"})->str,
            absl::StrCat(accepted.amount_minor()));
  v1::GetRefundResponse full;
  GetRefund(accepted.refund_id(), &full);
  EXPECT_EQ(full.events(1).reason(), "requeued:provider_recovered");
  EXPECT_EQ(full.events(1).actor(), "operator:op-1");
}

TEST_F(SettlementTest, RedriveRefusesBadInputAndChangesNothing) {
  StartApp();
  v1::RedriveRefundResponse response;
  EXPECT_EQ(Redrive("nope", &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Redrive("rf_3_000000000000000000000000", &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(
      Redrive("rf_3_000000000000000000000000", &response, "").error_code(),
      grpc::StatusCode::INVALID_ARGUMENT);
  v1::ListRefundsNeedingAttentionResponse listed;
  EXPECT_EQ(ListAttention(&listed, 0, "garbage").error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ListAttention(&listed, 1000).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  testing::CommandResult cli =
      Admin({"redrive", "--refund_id=rf_3_000000000000000000000000",
             "--operator=op-1"});
  EXPECT_EQ(cli.exit_code, 1) << cli.output;
  EXPECT_EQ(Admin({"redrive", "--operator=op-1"}).exit_code, 2);
  std::vector<std::string> outboxes = {"EXISTS"};
  for (int p = 0; p < keys_.partitions(); ++p) {
    outboxes.push_back(keys_.OutboxKey(p));
  }
  EXPECT_EQ(h_->Redis(outboxes)->integer, 0) << "nothing was enqueued";
}

TEST_F(SettlementTest, AttentionListPagesOldestFirstAcrossPartitions) {
  StartApp();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    std::string member = absl::StrCat("ma-", i);
    ASSERT_TRUE(h_->UpsertMember(member).ok());
    RecordOrder(absl::StrCat("o-", i), v1::PAYMENT_METHOD_CARD, member);
    ids.push_back(Rate("k", absl::StrCat("o-", i), 50, member)
                      .decision()
                      .refund()
                      .refund_id());
  }
  StartWorker("error=1", "wallet", absl::Milliseconds(100),
              /*max_deliveries=*/1);
  for (const std::string& id : ids) {
    ASSERT_EQ(WaitFinal(id).state(), v1::REFUND_STATE_NEEDS_ATTENTION);
  }
  StopWorker();
  std::vector<std::string> seen;
  std::string token;
  int64_t last_since = 0;
  for (int page = 0; page < 10; ++page) {
    v1::ListRefundsNeedingAttentionResponse listed;
    ASSERT_TRUE(ListAttention(&listed, 2, token).ok());
    EXPECT_EQ(listed.total_count(), 5);
    EXPECT_LE(listed.refunds_size(), 2);
    for (const auto& item : listed.refunds()) {
      const int64_t since = item.attention_since().seconds() * 1000 +
                            item.attention_since().nanos() / 1000000;
      EXPECT_GE(since, last_since) << "oldest first";
      last_since = since;
      seen.push_back(item.refund().refund_id());
    }
    token = listed.next_page_token();
    if (token.empty()) break;
  }
  std::sort(seen.begin(), seen.end());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(seen, ids) << "each once";
}

TEST_F(SettlementTest, ReconcileFixResendsWhatTheProviderNeverSaw) {
  StartApp();
  // One refund the processor never saw (5xx before anything happened), one
  // it paid before losing the answer.
  ASSERT_TRUE(h_->UpsertMember("m-2").ok());
  RecordOrder("o-1");
  RecordOrder("o-2", v1::PAYMENT_METHOD_CARD, "m-2");
  const std::string never_seen =
      Rate("k-1", "o-1").decision().refund().refund_id();
  const v1::Refund paid_refund =
      Rate("k-2", "o-2", 50, "m-2").decision().refund();
  const std::string paid = paid_refund.refund_id();
  StartWorker("error=1", "wallet", absl::Milliseconds(100),
              /*max_deliveries=*/1);
  ASSERT_EQ(WaitFinal(never_seen).state(), v1::REFUND_STATE_NEEDS_ATTENTION);
  ASSERT_EQ(WaitFinal(paid).state(), v1::REFUND_STATE_NEEDS_ATTENTION);
  StopWorker();
  // The processor's books say the second was paid (it committed, then the
  // answer was lost).
  auto books =
      Eval(settlement::scripts::kSandboxPay,
           settlement::BuildSandboxPayCall(
               keys_, settlement::SandboxPayRequest{
                          .mode = settlement::SandboxPayRequest::Mode::kPay,
                          .member_id = "m-2",
                          .refund_id = paid,
                          .amount_minor = paid_refund.amount_minor(),
                          .reference = "sb_before_outage",
                          .decline_reason = ""}));
  ASSERT_TRUE(books.ok()) << books.status();
  auto paid_books = settlement::ParseSandboxPayReply(*books);
  ASSERT_TRUE(paid_books.ok()) << paid_books.status();
  ASSERT_EQ(paid_books->reference, "sb_before_outage");

  testing::CommandResult dry = Admin({"reconcile"});
  EXPECT_EQ(dry.exit_code, 1) << dry.output;
  EXPECT_THAT(dry.output, HasSubstr("would_redrive"));
  EXPECT_EQ(GetRefund(never_seen).state(), v1::REFUND_STATE_NEEDS_ATTENTION);

  testing::CommandResult fixed = Admin({"reconcile", "--fix"});
  EXPECT_EQ(fixed.exit_code, 0) << fixed.output;
  EXPECT_THAT(fixed.output, HasSubstr("\"redriven\":1"));
  EXPECT_EQ(GetRefund(never_seen).state(), v1::REFUND_STATE_ACCEPTED);
  EXPECT_EQ(GetRefund(paid).state(), v1::REFUND_STATE_SUCCEEDED)
      << "recorded, not re-sent";

  StartWorker("");
  EXPECT_EQ(WaitFinal(never_seen).state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(SandboxPaid(never_seen), 1);
  EXPECT_EQ(SandboxPaid(paid, "m-2"), 1);
  StopWorker();
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

// --- Reversals post against the accepted posting's accounts --------------

TEST_F(SettlementTest, FailedGoodwillRefundReversesTheGoodwillExpense) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund granted =
      Grant("g-1", v1::INSTRUMENT_ORIGINAL_PAYMENT, "o-1");
  ASSERT_FALSE(granted.refund_id().empty());
  StartWorker("decline=1", /*fallback=*/"");
  ASSERT_EQ(WaitFinal(granted.refund_id()).state(), v1::REFUND_STATE_FAILED);
  EXPECT_EQ(Balance("expense:goodwill:original_payment:EUR"), 0);
  EXPECT_EQ(Balance("expense:refunds:original_payment:EUR"), 0);
  EXPECT_EQ(Balance("payable:member:m-1:original_payment:EUR"), 0);
  for (const auto& posting : Postings(granted.refund_id())) {
    if (absl::StartsWith(posting.at("credit"), "expense:") ||
        absl::StartsWith(posting.at("debit"), "expense:")) {
      EXPECT_EQ(posting.at("kind") == "goodwill_granted" ? posting.at("debit")
                                                         : posting.at("credit"),
                "expense:goodwill:original_payment:EUR");
    }
  }
  StopWorker();
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(SettlementTest,
       GoodwillCreditReversedAsAbusiveReversesTheGoodwillExpense) {
  StartApp();
  const v1::Refund granted = Grant("g-1", v1::INSTRUMENT_WALLET);
  StartWorker("");
  ASSERT_EQ(WaitFinal(granted.refund_id()).state(), v1::REFUND_STATE_SUCCEEDED);
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(granted.refund_id(), &marked).ok());
  EXPECT_EQ(marked.refund().state(), v1::REFUND_STATE_REVERSED);
  EXPECT_EQ(Balance("expense:goodwill:wallet:EUR"), 0);
  EXPECT_EQ(Balance("expense:refunds:wallet:EUR"), 0);
  EXPECT_EQ(Balance("wallet:member:m-1:EUR"), 0);
  StopWorker();
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(SettlementTest,
       AbusiveReversalAfterWalletFallbackUsesTheOriginalAccounts) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  StartWorker("decline=1");  // Falls back to wallet credit.
  v1::Refund settled = WaitFinal(accepted.refund_id());
  ASSERT_EQ(settled.state(), v1::REFUND_STATE_SUCCEEDED);
  ASSERT_EQ(settled.instrument(), v1::INSTRUMENT_WALLET);
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(accepted.refund_id(), &marked).ok());
  EXPECT_EQ(marked.refund().state(), v1::REFUND_STATE_REVERSED);
  EXPECT_EQ(Balance("expense:refunds:original_payment:EUR"), 0);
  EXPECT_EQ(Balance("expense:refunds:wallet:EUR"), 0)
      << "reversed against the instrument it fell back to";
  EXPECT_EQ(Balance("payable:member:m-1:original_payment:EUR"), 0);
  EXPECT_EQ(LedgerSum(), 0);
  StopWorker();
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(SettlementTest, CheckSeesAReversalPostedToAnotherAccount) {
  StartApp();
  const v1::Refund granted = Grant("g-1", v1::INSTRUMENT_WALLET);
  StartWorker("");
  ASSERT_EQ(WaitFinal(granted.refund_id()).state(), v1::REFUND_STATE_SUCCEEDED);
  StopWorker();
  ASSERT_EQ(Admin({"check"}).exit_code, 0);
  // A reversal as the old mark_abusive.lua posted it: to expense:refunds.
  // Every balance still sums to zero and replays.
  const std::string account = "wallet:member:m-1:EUR";
  const std::string wrong = "expense:refunds:wallet:EUR";
  ASSERT_TRUE(
      h_->Redis({"XADD", keys_.LedgerKey(P()), "*", "txn", granted.refund_id(),
                 "kind", "refund_reversed", "debit", account, "credit", wrong,
                 "amount_minor", "500", "currency", "EUR", "at_ms", "1"})
          .ok());
  ASSERT_TRUE(
      h_->Redis({"HINCRBY", keys_.LedgerBalancesKey(P()), account, "500"})
          .ok());
  ASSERT_TRUE(
      h_->Redis({"HINCRBY", keys_.LedgerBalancesKey(P()), wrong, "-500"}).ok());
  ASSERT_EQ(LedgerSum(), 0);
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 1) << check.output;
  EXPECT_THAT(check.output, HasSubstr("ledger_txn_accounts"));
  EXPECT_THAT(check.output, HasSubstr(granted.refund_id()));
}

// --- An abuse mark taken while the refund is in flight --------------------

TEST_F(SettlementTest, AbuseMarkWhileAcceptedReversesOnceItSettles) {
  StartApp();
  RecordOrder("o-w", v1::PAYMENT_METHOD_WALLET);
  const v1::Refund accepted = Rate("k-w", "o-w").decision().refund();
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(accepted.refund_id(), &marked).ok());
  EXPECT_TRUE(marked.newly_marked());
  EXPECT_TRUE(marked.reversal_pending());
  EXPECT_EQ(marked.refund().state(), v1::REFUND_STATE_ACCEPTED);

  StartWorker("");  // The worker was paused until now.
  v1::Refund refund;
  for (int i = 0; i < 500 && refund.state() != v1::REFUND_STATE_REVERSED; ++i) {
    refund = GetRefund(accepted.refund_id());
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(refund.state(), v1::REFUND_STATE_REVERSED);
  auto wallet = Fields(*h_->Redis({"HGETALL", keys_.WalletKey(P(), "m-1")}));
  EXPECT_EQ(wallet["bal:EUR"], "0");
  EXPECT_EQ(wallet["reversed:" + accepted.refund_id()],
            absl::StrCat(accepted.amount_minor()));
  EXPECT_EQ(Balance("expense:refunds:wallet:EUR"), 0);
  EXPECT_EQ(Balance("wallet:member:m-1:EUR"), 0);
  EXPECT_EQ(LedgerSum(), 0);
  v1::GetRefundResponse full;
  GetRefund(accepted.refund_id(), &full);
  const int n = full.events_size();
  ASSERT_GE(n, 2);
  EXPECT_EQ(full.events(n - 2).to_state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(full.events(n - 2).actor(), "settlement:test-worker");
  EXPECT_EQ(full.events(n - 1).from_state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(full.events(n - 1).to_state(), v1::REFUND_STATE_REVERSED);
  EXPECT_EQ(full.events(n - 1).actor(), "operator:op-7");
  EXPECT_EQ(full.events(n - 1).reason(), "abusive:photo_reused");
  EXPECT_EQ(worker_->stats().reversed, 1u);
  StopWorker();
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(SettlementTest, AbuseMarkWhileSettlingReversesTheWalletFallback) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  // A slow processor that declines: the mark lands while SETTLING, and the
  // refund then succeeds as wallet credit.
  StartWorker("latency=400ms,decline=1");
  v1::Refund refund;
  for (int i = 0; i < 300 && refund.state() != v1::REFUND_STATE_SETTLING; ++i) {
    refund = GetRefund(accepted.refund_id());
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(refund.state(), v1::REFUND_STATE_SETTLING);
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(accepted.refund_id(), &marked).ok());
  EXPECT_TRUE(marked.reversal_pending());
  for (int i = 0; i < 500 && refund.state() != v1::REFUND_STATE_REVERSED; ++i) {
    refund = GetRefund(accepted.refund_id());
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(refund.state(), v1::REFUND_STATE_REVERSED);
  EXPECT_EQ(h_->Redis({"HGET", keys_.WalletKey(P(), "m-1"), "bal:EUR"})->str,
            "0");
  EXPECT_EQ(Balance("expense:refunds:original_payment:EUR"), 0);
  EXPECT_EQ(LedgerSum(), 0);
  StopWorker();
  testing::CommandResult check = Admin({"check"});
  EXPECT_EQ(check.exit_code, 0) << check.output;
}

TEST_F(SettlementTest, AbuseMarkWhileSettlingACardRefundLeavesItPaid) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  v1::MarkRefundAbusiveResponse marked;
  ASSERT_TRUE(MarkAbusive(accepted.refund_id(), &marked).ok());
  EXPECT_TRUE(marked.reversal_pending());
  StartWorker("");
  EXPECT_EQ(WaitFinal(accepted.refund_id()).state(), v1::REFUND_STATE_SUCCEEDED)
      << "a card refund cannot be pulled back";
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 1);
  EXPECT_FALSE(h_->Redis({"HEXISTS", keys_.RefundKey(P(), accepted.refund_id()),
                          "reverse_pending"})
                   ->integer);
}

// --- Dead letters stay in their entry's slot ------------------------------

TEST(SettlementClusterTest, DeadLetterOfAnEntryWithoutMemberIdStaysInItsSlot) {
  // Redis Cluster refuses a script whose keys span slots (CROSSSLOT); one
  // node owning every slot shows it without a cluster.
  // A free port can be taken by another process between picking and
  // binding it: a server that is not our cluster node is started again.
  std::unique_ptr<testing::RedisServer> server;
  redis::RedisOptions options;
  absl::StatusOr<std::unique_ptr<redis::RedisClient>> redis;
  absl::Status slots = absl::UnknownError("not started");
  for (int attempt = 0; attempt < 3 && !slots.ok(); ++attempt) {
    auto started = testing::RedisServer::Start({"--cluster-enabled", "yes"});
    ASSERT_TRUE(started.ok()) << started.status();
    server = *std::move(started);
    options.port = server->port();
    redis = redis::HiredisClient::Start(options);
    ASSERT_TRUE(redis.ok());
    for (int i = 0; i < 500 && (*redis)->ready_connections() == 0; ++i) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    slots = (*redis)
                ->CommandSync({"CLUSTER", "ADDSLOTSRANGE", "0", "16383"})
                .status();
  }
  ASSERT_TRUE(slots.ok()) << slots;
  for (int i = 0; i < 500; ++i) {
    auto info = (*redis)->CommandSync({"CLUSTER", "INFO"});
    if (info.ok() && absl::StrContains(info->str, "cluster_state:ok")) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  store::KeySchema keys = *store::KeySchema::Create(64);
  const int partition = keys.PartitionOf("m-1");
  ASSERT_NE(keys.PartitionOf(""), partition);
  const std::string outbox = keys.OutboxKey(partition);
  ASSERT_TRUE((*redis)
                  ->CommandSync({"XGROUP", "CREATE", outbox, "settlement", "0",
                                 "MKSTREAM"})
                  .ok());
  // A poison entry without member_id, already delivered once (to a worker
  // that died): the next delivery dead-letters it.
  ASSERT_TRUE((*redis)
                  ->CommandSync({"XADD", outbox, "*", "type", "refund_accepted",
                                 "refund_id", "rf_1_ffffffffffffffffffffffff",
                                 "order_id", "o-x"})
                  .ok());
  ASSERT_TRUE((*redis)
                  ->CommandSync({"XREADGROUP", "GROUP", "settlement", "gone",
                                 "STREAMS", outbox, ">"})
                  .ok());

  testing::FakeClock clock(absl::FromUnixSeconds(1700000000));
  settlement::WalletProvider wallet(**redis, keys,
                                    settlement::WalletProvider::Kind::kWallet);
  settlement::WalletProvider coupon(**redis, keys,
                                    settlement::WalletProvider::Kind::kCoupon);
  settlement::SandboxProvider card(**redis, keys, {});
  settlement::WorkerOptions worker_options;
  worker_options.consumer = "w";
  worker_options.retry_after = absl::Milliseconds(50);
  worker_options.max_deliveries = 1;
  worker_options.block = absl::Milliseconds(50);
  settlement::SettlementWorker worker(
      **redis, keys, clock,
      {{"wallet", &wallet}, {"coupon", &coupon}, {"sandbox", &card}},
      worker_options);
  ASSERT_TRUE(worker.Start(options).ok());
  int64_t dead = 0;
  for (int i = 0; i < 300 && dead == 0; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    auto length = (*redis)->CommandSync({"XLEN", outbox + ":dead"});
    if (length.ok()) dead = length->integer;
  }
  worker.Stop();
  EXPECT_EQ(dead, 1) << "the finish script was refused (CROSSSLOT)";
  auto pending = (*redis)->CommandSync({"XPENDING", outbox, "settlement"});
  ASSERT_TRUE(pending.ok());
  EXPECT_EQ(pending->elements[0].integer, 0);
}

}  // namespace
}  // namespace makegood
