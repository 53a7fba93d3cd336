// GrantGoodwill through gRPC against real Redis: budgets per agent and per
// member, the order's ceiling, idempotent retries, the audit trail, and the
// grant settling like any refund.
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/store/key_schema.h"
#include "tests/testing/app_harness.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::testing::HasSubstr;

std::string Reason(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "";
}

std::map<std::string, std::string> Fields(const store::RedisReply& reply) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < reply.elements.size(); i += 2) {
    out[reply.elements[i].str] = reply.elements[i + 1].str;
  }
  return out;
}

v1::GrantGoodwillRequest Grant(const std::string& key, int64_t amount,
                               const std::string& agent = "agent-7",
                               const std::string& member = "m-1") {
  v1::GrantGoodwillRequest r;
  r.set_idempotency_key(key);
  r.set_agent_id(agent);
  r.set_member_id(member);
  r.set_amount_minor(amount);
  r.set_currency("EUR");
  r.set_instrument(v1::INSTRUMENT_WALLET);
  r.set_reason("late_again");
  r.set_note("Third late delivery this month; apologised on the phone.");
  return r;
}

class GoodwillTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = AppHarness::Create();
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = *std::move(harness);
    h_->config().goodwill.agent_daily_budget_minor = 1000;
    h_->config().goodwill.member_budget_minor = 600;
    ASSERT_TRUE(h_->StartApp().ok());
    ASSERT_TRUE(h_->UpsertMember("m-1").ok());
    ASSERT_TRUE(h_->UpsertMember("m-2").ok());
    ASSERT_TRUE(h_->UpsertMember("m-3").ok());
  }

  grpc::Status Call(const v1::GrantGoodwillRequest& request,
                    v1::GrantGoodwillResponse* response) {
    grpc::ClientContext context;
    return h_->stubs().goodwill->GrantGoodwill(&context, request, response);
  }

  std::string Prefix(const std::string& member) {
    return keys_.PartitionPrefix(keys_.PartitionOf(member));
  }

  std::unique_ptr<AppHarness> h_;
  store::KeySchema keys_ = *store::KeySchema::Create(64);
};

TEST_F(GoodwillTest, GrantIsARefundWithAnAuditTrailAndLedgerPostings) {
  v1::GrantGoodwillResponse response;
  ASSERT_TRUE(Call(Grant("g-1", 250), &response).ok());
  EXPECT_FALSE(response.replayed());
  const v1::Refund& refund = response.refund();
  EXPECT_EQ(refund.amount_minor(), 250);
  EXPECT_EQ(refund.instrument(), v1::INSTRUMENT_WALLET);
  EXPECT_EQ(refund.state(), v1::REFUND_STATE_ACCEPTED);
  EXPECT_THAT(refund.refund_id(), HasSubstr("rf_"));
  EXPECT_EQ(response.agent_budget_remaining_minor(), 750);
  EXPECT_EQ(response.member_budget_remaining_minor(), 350);

  auto audit = h_->Redis({"XRANGE", Prefix("m-1") + "goodwill", "-", "+"});
  ASSERT_EQ(audit->elements.size(), 1u);
  auto entry = Fields(audit->elements[0].elements[1]);
  EXPECT_EQ(entry["agent_id"], "agent-7");
  EXPECT_EQ(entry["reason"], "late_again");
  EXPECT_EQ(entry["grant_id"], refund.refund_id());
  EXPECT_THAT(entry["note"], HasSubstr("Third late delivery"));
  auto balances =
      Fields(*h_->Redis({"HGETALL", Prefix("m-1") + "ledger:balances"}));
  EXPECT_EQ(balances["expense:goodwill:wallet:EUR"], "250");
  EXPECT_EQ(balances["payable:member:m-1:wallet:EUR"], "-250");
  auto outbox = h_->Redis({"XLEN", Prefix("m-1") + "outbox"});
  EXPECT_EQ(outbox->integer, 1) << "settled by the worker like any refund";

  v1::GetRefundRequest get;
  get.set_refund_id(refund.refund_id());
  get.set_include_events(true);
  v1::GetRefundResponse got;
  grpc::ClientContext context;
  ASSERT_TRUE(h_->stubs().refunds->GetRefund(&context, get, &got).ok());
  ASSERT_EQ(got.events_size(), 1);
  EXPECT_EQ(got.events(0).actor(), "goodwill:agent-7");
}

TEST_F(GoodwillTest, RetryReplaysAndAnotherPayloadIsRefused) {
  v1::GrantGoodwillResponse first, again, other;
  ASSERT_TRUE(Call(Grant("g-1", 250), &first).ok());
  ASSERT_TRUE(Call(Grant("g-1", 250), &again).ok());
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.refund().refund_id(), first.refund().refund_id());
  EXPECT_EQ(again.agent_budget_remaining_minor(), 750);
  grpc::Status reused = Call(Grant("g-1", 300), &other);
  EXPECT_EQ(reused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(reused), "IDEMPOTENCY_KEY_REUSED");
  // Budgets were charged once.
  v1::GrantGoodwillResponse next;
  ASSERT_TRUE(Call(Grant("g-2", 100), &next).ok());
  EXPECT_EQ(next.agent_budget_remaining_minor(), 650);
  EXPECT_EQ(next.member_budget_remaining_minor(), 250);
  auto audit = h_->Redis({"XLEN", Prefix("m-1") + "goodwill"});
  EXPECT_EQ(audit->integer, 2);
}

TEST_F(GoodwillTest, MemberBudgetRefusesAndGivesTheAgentBudgetBack) {
  v1::GrantGoodwillResponse response;
  ASSERT_TRUE(Call(Grant("g-1", 500), &response).ok());
  auto before = h_->Snapshot();
  grpc::Status refused = Call(Grant("g-2", 200), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(refused), "MEMBER_BUDGET_EXCEEDED");
  EXPECT_THAT(refused.error_message(), HasSubstr("100 left"));
  EXPECT_EQ(h_->Snapshot(), before) << "the reservation was released";
  // The agent can still grant the rest of the day's budget elsewhere.
  ASSERT_TRUE(Call(Grant("g-3", 500, "agent-7", "m-2"), &response).ok());
  EXPECT_EQ(response.agent_budget_remaining_minor(), 0);
}

TEST_F(GoodwillTest, AgentBudgetRefusesBeyondTheDay) {
  v1::GrantGoodwillResponse response;
  ASSERT_TRUE(Call(Grant("g-1", 600, "agent-7", "m-1"), &response).ok());
  auto before = h_->Snapshot();
  grpc::Status refused = Call(Grant("g-2", 500, "agent-7", "m-2"), &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(refused), "AGENT_BUDGET_EXCEEDED");
  EXPECT_EQ(h_->Snapshot(), before);
  // Another agent has a budget of their own.
  EXPECT_TRUE(Call(Grant("g-2", 500, "agent-8", "m-2"), &response).ok());
}

TEST_F(GoodwillTest, MoneyBackOnAnOrderNeverExceedsWhatWasPaid) {
  ASSERT_TRUE(h_->RecordOrder("m-3", "o-3").ok());  // Paid 3000.
  h_->StopApp();
  h_->config().goodwill.agent_daily_budget_minor = 100000;
  h_->config().goodwill.member_budget_minor = 100000;
  ASSERT_TRUE(h_->StartApp().ok());
  v1::GrantGoodwillRequest request = Grant("g-1", 2500, "agent-7", "m-3");
  request.set_order_id("o-3");
  request.set_instrument(v1::INSTRUMENT_ORIGINAL_PAYMENT);
  v1::GrantGoodwillResponse response;
  ASSERT_TRUE(Call(request, &response).ok());
  request.set_idempotency_key("g-2");
  request.set_amount_minor(501);
  grpc::Status refused = Call(request, &response);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(Reason(refused), "ORDER_FULLY_REFUNDED");
  request.set_amount_minor(500);
  EXPECT_TRUE(Call(request, &response).ok());
}

TEST_F(GoodwillTest, BadRequestsAreRefusedFieldByFieldAndChangeNothing) {
  auto before = h_->Snapshot();
  v1::GrantGoodwillRequest bad = Grant("", 0, "bad id!", "m-1");
  bad.set_currency("eur");
  bad.set_instrument(v1::INSTRUMENT_ORIGINAL_PAYMENT);  // No order.
  bad.set_reason("Not A Token");
  v1::GrantGoodwillResponse response;
  grpc::Status status = Call(bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  for (const char* field : {"idempotency_key", "agent_id", "amount_minor",
                            "currency", "instrument", "reason"}) {
    EXPECT_THAT(status.error_message(), HasSubstr(field));
  }
  v1::GrantGoodwillRequest usd = Grant("g-1", 100);
  usd.set_currency("USD");
  status = Call(usd, &response);
  EXPECT_EQ(Reason(status), "CURRENCY_NOT_SUPPORTED");
  v1::GrantGoodwillRequest unknown = Grant("g-1", 100, "agent-7", "nobody");
  EXPECT_EQ(Call(unknown, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(h_->Snapshot(), before);
}

TEST_F(GoodwillTest, GrantSettlesThroughTheWorker) {
  h_->StopApp();
  h_->config().settlement.run_worker = true;
  h_->config().settlement.consumer = "gw-test";
  ASSERT_TRUE(h_->StartApp().ok());
  v1::GrantGoodwillResponse response;
  ASSERT_TRUE(Call(Grant("g-1", 250), &response).ok());
  v1::Refund refund;
  for (int i = 0; i < 500; ++i) {
    v1::GetRefundRequest get;
    get.set_refund_id(response.refund().refund_id());
    v1::GetRefundResponse got;
    grpc::ClientContext context;
    ASSERT_TRUE(h_->stubs().refunds->GetRefund(&context, get, &got).ok());
    refund = got.refund();
    if (refund.state() == v1::REFUND_STATE_SUCCEEDED) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(refund.state(), v1::REFUND_STATE_SUCCEEDED);
  auto wallet = h_->Redis({"HGET", Prefix("m-1") + "wallet:m-1", "bal:EUR"});
  EXPECT_EQ(wallet->str, "250");
}

}  // namespace
}  // namespace makegood
