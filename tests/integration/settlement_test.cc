// Settlement against real Redis and real gRPC: the outbox worker pays each
// refund exactly once through the wallet and sandbox providers, reconciles
// unknown answers, dead-letters poison entries, and WatchRefund streams every
// transition in order. Also corrections (MarkRefundAbusive) and follow-up
// events.
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/settlement/sandbox_provider.h"
#include "services/settlement/wallet_provider.h"
#include "services/settlement/worker.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Hash fields of a Redis reply to HGETALL.
std::map<std::string, std::string> Fields(const store::RedisReply& reply) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    out[reply.elements[i].str] = reply.elements[i + 1].str;
  }
  return out;
}

// Entries of a stream as field maps.
std::vector<std::map<std::string, std::string>> StreamEntries(
    const store::RedisReply& reply) {
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
  void StartWorker(const std::string& sandbox_spec,
                   const std::string& fallback = "wallet",
                   absl::Duration retry_after = absl::Milliseconds(200),
                   int max_deliveries = 3) {
    auto redis = store::RedisClient::Start(h_->config().redis);
    ASSERT_TRUE(redis.ok());
    redis_ = *std::move(redis);
    auto sandbox = settlement::ParseSandboxSpec(sandbox_spec);
    ASSERT_TRUE(sandbox.ok()) << sandbox.status();
    wallet_ = std::make_unique<settlement::WalletProvider>(
        *redis_, keys_, settlement::WalletProvider::Kind::kWallet);
    coupon_ = std::make_unique<settlement::WalletProvider>(
        *redis_, keys_, settlement::WalletProvider::Kind::kCoupon);
    card_ =
        std::make_unique<settlement::SandboxProvider>(*redis_, keys_, *sandbox);
    settlement::WorkerOptions options;
    options.consumer = "test-worker";
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
  v1::Refund WaitFinal(const std::string& refund_id) {
    v1::Refund refund;
    for (int i = 0; i < 1000; ++i) {
      refund = GetRefund(refund_id);
      if (refund.state() >= v1::REFUND_STATE_SUCCEEDED) return refund;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return refund;
  }

  std::string Prefix(const std::string& member = "m-1") {
    return keys_.PartitionPrefix(keys_.PartitionOf(member));
  }

  int64_t SandboxPaid(const std::string& refund_id,
                      const std::string& member = "m-1") {
    auto paid = h_->Redis(
        {"HGET", Prefix(member) + "psp:sandbox", "paid:" + refund_id});
    int64_t n = 0;
    if (paid.ok() && paid->is_text()) (void)absl::SimpleAtoi(paid->str, &n);
    return n;
  }

  // Σ of every ledger balance (per currency all are EUR here): must be 0.
  int64_t LedgerSum() {
    auto balances = h_->Redis({"HGETALL", Prefix() + "ledger:balances"});
    int64_t sum = 0;
    for (const auto& [account, value] : Fields(*balances)) {
      int64_t v = 0;
      EXPECT_TRUE(absl::SimpleAtoi(value, &v)) << account;
      sum += v;
    }
    return sum;
  }

  int64_t Balance(const std::string& account) {
    auto v = h_->Redis({"HGET", Prefix() + "ledger:balances", account});
    int64_t n = 0;
    if (v.ok() && v->is_text()) (void)absl::SimpleAtoi(v->str, &n);
    return n;
  }

  int64_t PendingEntries() {
    auto pending = h_->Redis({"XPENDING", Prefix() + "outbox", "settlement"});
    return pending.ok() && !pending->elements.empty()
               ? pending->elements[0].integer
               : -1;
  }

  std::unique_ptr<AppHarness> h_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
  std::unique_ptr<store::RedisClient> redis_;
  std::unique_ptr<settlement::PaymentProvider> wallet_, coupon_, card_;
  std::unique_ptr<settlement::SettlementWorker> worker_;
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

  auto wallet = h_->Redis({"HGETALL", Prefix() + "wallet:m-1"});
  auto fields = Fields(*wallet);
  EXPECT_EQ(fields["bal:EUR"], absl::StrCat(accepted.amount_minor()));
  EXPECT_EQ(fields["tx:" + accepted.refund_id()],
            absl::StrCat(accepted.amount_minor()));
  EXPECT_EQ(LedgerSum(), 0);
  EXPECT_EQ(Balance("payable:member:m-1:wallet:EUR"), 0);
  EXPECT_EQ(Balance("wallet:member:m-1:EUR"), -accepted.amount_minor());
  EXPECT_EQ(PendingEntries(), 0);
  auto outbox = h_->Redis({"XLEN", Prefix() + "outbox"});
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
  auto notes = h_->Redis({"XRANGE", Prefix() + "fu:notifications", "-", "+"});
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

  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(20));
  v1::WatchRefundRequest request;
  request.set_refund_id(refund_id);
  auto reader = h_->stubs().refunds->WatchRefund(&context, request);
  v1::WatchRefundResponse message;
  ASSERT_TRUE(reader->Read(&message));
  EXPECT_EQ(message.refund().state(), v1::REFUND_STATE_ACCEPTED);

  // A processor answering in 150 ms: SETTLING is visible before SUCCEEDED.
  StartWorker("latency=150ms");
  std::vector<v1::RefundState> states;
  while (reader->Read(&message)) states.push_back(message.refund().state());
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_THAT(states, ElementsAre(v1::REFUND_STATE_SETTLING,
                                  v1::REFUND_STATE_SUCCEEDED));
  EXPECT_EQ(SandboxPaid(refund_id), 1);
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
  auto wallet = h_->Redis({"HGET", Prefix() + "wallet:m-1", "bal:EUR"});
  EXPECT_EQ(wallet->str, absl::StrCat(accepted.amount_minor()));
  EXPECT_EQ(SandboxPaid(accepted.refund_id()), 0);
  EXPECT_EQ(LedgerSum(), 0);
}

TEST_F(SettlementTest, DeclinedWithoutFallbackFailsAndRestoresTheOrder) {
  StartApp();
  RecordOrder("o-1");
  const v1::Refund accepted = Rate("k-1", "o-1").decision().refund();
  auto order_key = h_->Redis({"KEYS", "mg:*:order:o-1"});
  const std::string key = order_key->elements[0].str;
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
  auto notes = h_->Redis({"XRANGE", Prefix() + "fu:notifications", "-", "+"});
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
      StreamEntries(*h_->Redis({"XRANGE", Prefix() + "outbox:dead", "-", "+"}));
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0]["refund_id"], refund_id);
  EXPECT_EQ(dead[0]["reason"], "max_deliveries_exceeded");
  auto tasks =
      StreamEntries(*h_->Redis({"XRANGE", Prefix() + "fu:tasks", "-", "+"}));
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
      h_->Redis({"XADD", Prefix() + "outbox", "*", "type", "refund_accepted",
                 "refund_id", "rf_0_ffffffffffffffffffffffff", "member_id",
                 "m-1", "order_id", "o-x"})
          .ok());
  ASSERT_TRUE(
      h_->Redis({"XADD", Prefix() + "outbox", "*", "garbage", "1"}).ok());
  StartWorker("", "wallet", absl::Milliseconds(100), /*max_deliveries=*/2);
  std::vector<std::map<std::string, std::string>> dead;
  for (int i = 0; i < 500 && dead.size() < 2; ++i) {
    absl::SleepFor(absl::Milliseconds(10));
    dead = StreamEntries(
        *h_->Redis({"XRANGE", Prefix() + "outbox:dead", "-", "+"}));
  }
  ASSERT_EQ(dead.size(), 2u);
  EXPECT_THAT(dead[1]["entry"], HasSubstr("garbage=1"));
  EXPECT_EQ(PendingEntries(), 0);
  auto keys = h_->Redis({"KEYS", "mg:*:refund:*"});
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
  ASSERT_NE(Prefix("mm-a"), Prefix("mm-b"));
  // Outbox entry ids are per stream: give both entries the same id, as two
  // commits in the same millisecond in different partitions get.
  for (const auto& [member, id] : refunds) {
    const std::string outbox = Prefix(member) + "outbox";
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
      StreamEntries(*h_->Redis({"XRANGE", Prefix() + "fu:feedback", "-", "+"}));
  ASSERT_FALSE(feedback.empty());
  for (auto& event : feedback) {
    EXPECT_THAT(event["appeal_id"], HasSubstr("ap_"));
    EXPECT_EQ(event["rating_id"], response.rating_id());
    EXPECT_THAT(event["kind"],
                ::testing::AnyOf("courier_feedback", "store_feedback"));
  }
  auto decisions =
      StreamEntries(*h_->Redis({"XRANGE", Prefix() + "decisions", "-", "+"}));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0]["store_id"], "store-1");
  EXPECT_EQ(decisions[0]["sku.0"], "ICE-CREAM");
  EXPECT_EQ(decisions[0]["sat.0"], "10");
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
      StreamEntries(*h_->Redis({"XRANGE", Prefix() + "fu:feedback", "-", "+"}));
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
      StreamEntries(*h_->Redis({"XRANGE", Prefix() + "fu:feedback", "-", "+"}));
  ASSERT_EQ(feedback_after.size(), 2 * feedback_before.size());
  for (size_t i = 0; i < feedback_before.size(); ++i) {
    auto& reversal = feedback_after[feedback_before.size() + i];
    EXPECT_EQ(reversal["kind"], "feedback_reversed");
    EXPECT_EQ(reversal["appeal_id"], feedback_before[i]["appeal_id"]);
  }
  EXPECT_EQ(h_->Redis({"HGET", Prefix() + "wallet:m-1", "bal:EUR"})->str, "0");
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
      StreamEntries(*h_->Redis({"XRANGE", Prefix() + "fu:feedback", "-", "+"}))
          .size(),
      feedback_after.size());
}

}  // namespace
}  // namespace makegood
