// Several markets end to end through the real server and Redis, on the
// shipped sample policy: a KRW order rated 50 % for a melted item is refunded
// in KRW with a KRW explanation and settles; an order in a currency the policy
// does not serve is refused naming it; a claim on an excluded category gets
// an answer (not NO_ACTION) with a person asked to act.
#include <string>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/app_harness.h"

namespace makegood {
namespace {

using ::makegood::testing::AppHarness;
using ::testing::HasSubstr;
using ::testing::Not;

// The harness's sample order in won: ice cream ₩12,000 (frozen, l1), bread
// ₩15,000 (l2), delivery ₩3,000; total ₩30,000.
v1::Order WonOrder(const std::string& order_id, absl::Time delivered_at) {
  v1::Order order = AppHarness::SampleOrder("m-1", order_id, delivered_at);
  order.set_currency("KRW");
  order.set_total_minor(30'000);
  order.set_delivery_fee_minor(3'000);
  order.mutable_lines(0)->set_amount_minor(12'000);
  order.mutable_lines(1)->set_amount_minor(15'000);
  return order;
}

class MarketsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = AppHarness::Create();
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
    h_->config().settlement.run_worker = true;
    h_->config().settlement.consumer = "markets-test";
    ASSERT_TRUE(h_->StartApp().ok());
    ASSERT_TRUE(h_->UpsertMember("m-1").ok());  // premium since 2021
  }

  grpc::Status Record(const v1::Order& order) {
    v1::RecordDeliveryRequest request;
    *request.mutable_order() = order;
    v1::RecordDeliveryResponse response;
    grpc::ClientContext context;
    return h_->stubs().orders->RecordDelivery(&context, request, &response);
  }

  grpc::Status Rate(const v1::SubmitRatingRequest& request,
                    v1::SubmitRatingResponse* response) {
    grpc::Status status;
    for (int attempt = 0; attempt < 200; ++attempt) {
      grpc::ClientContext context;
      status = h_->stubs().ratings->SubmitRating(&context, request, response);
      if (status.error_code() != grpc::StatusCode::ABORTED &&
          status.error_code() != grpc::StatusCode::UNAVAILABLE) {
        break;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    return status;
  }

  absl::Time DeliveredAt() { return h_->clock().Now() - absl::Hours(1); }

  std::unique_ptr<AppHarness> h_;
};

TEST_F(MarketsTest, AWonOrderRatedHalfForAMeltedItemIsRefundedInWon) {
  ASSERT_TRUE(Record(WonOrder("o-krw", DeliveredAt())).ok());
  v1::SubmitRatingResponse response;
  const grpc::Status status =
      Rate(testing::MeltedRating("k-krw", "m-1", "o-krw", 50), &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Decision& decision = response.decision();
  EXPECT_EQ(decision.outcome(), v1::OUTCOME_REFUND);
  EXPECT_EQ(decision.refund().currency(), "KRW");
  // The rated line, the melted ice cream, in full.
  EXPECT_EQ(decision.refund().amount_minor(), 12'000);
  EXPECT_EQ(decision.explanation(),
            "We have refunded \u20A912,000 to your original payment. Items "
            "reported as melted or warm are refunded in full.");
  EXPECT_THAT(decision.explanation(), Not(HasSubstr("EUR")));

  // The refund settles in won.
  v1::Refund refund;
  for (int i = 0; i < 500; ++i) {
    v1::GetRefundRequest get;
    get.set_refund_id(decision.refund().refund_id());
    v1::GetRefundResponse got;
    grpc::ClientContext context;
    ASSERT_TRUE(h_->stubs().refunds->GetRefund(&context, get, &got).ok());
    refund = got.refund();
    if (refund.state() == v1::REFUND_STATE_SUCCEEDED) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(refund.state(), v1::REFUND_STATE_SUCCEEDED);
  EXPECT_EQ(refund.currency(), "KRW");
  EXPECT_EQ(refund.amount_minor(), 12'000);
}

TEST_F(MarketsTest, AnOrderInAnUnservedCurrencyIsRefusedNamingIt) {
  v1::Order pounds = AppHarness::SampleOrder("m-1", "o-gbp", DeliveredAt());
  pounds.set_currency("GBP");
  const grpc::Status status = Record(pounds);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("GBP"));
  EXPECT_THAT(status.error_message(), HasSubstr("CNY, EUR, KRW, USD"));
  // Nothing stored.
  v1::GetOrderRequest get;
  get.set_order_id("o-gbp");
  v1::GetOrderResponse got;
  grpc::ClientContext context;
  EXPECT_EQ(h_->stubs().orders->GetOrder(&context, get, &got).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(MarketsTest, TheMembersLocaleFormatsTheExplanationsAmounts) {
  // A yuan order: the market's locale (zh-CN) writes "¥", a member's en-US
  // app "CN¥"; a won order in en-US keeps "₩".
  v1::Order yuan = WonOrder("o-cny", DeliveredAt());
  yuan.set_currency("CNY");
  ASSERT_TRUE(Record(yuan).ok());
  ASSERT_TRUE(Record(WonOrder("o-krw", DeliveredAt())).ok());
  v1::SubmitRatingResponse market, member, won;
  ASSERT_TRUE(
      Rate(testing::MeltedRating("k-cny", "m-1", "o-cny", 50), &market).ok());
  EXPECT_THAT(market.decision().explanation(),
              HasSubstr("We have refunded \u00A5120.00"));
  // The same claim again under another key, in en-US: the earlier refund
  // covers it, so compare a fresh order instead.
  v1::Order yuan2 = yuan;
  yuan2.set_order_id("o-cny2");
  ASSERT_TRUE(Record(yuan2).ok());
  v1::SubmitRatingRequest in_english =
      testing::MeltedRating("k-cny2", "m-1", "o-cny2", 50);
  in_english.set_locale("en-US");
  ASSERT_TRUE(Rate(in_english, &member).ok());
  EXPECT_EQ(member.decision().refund().amount_minor(),
            market.decision().refund().amount_minor());
  EXPECT_THAT(member.decision().explanation(),
              HasSubstr("We have refunded CN\u00A5120.00"));
  v1::SubmitRatingRequest won_in_english =
      testing::MeltedRating("k-krw", "m-1", "o-krw", 50);
  won_in_english.set_locale("en-US");
  ASSERT_TRUE(Rate(won_in_english, &won).ok());
  EXPECT_THAT(won.decision().explanation(),
              HasSubstr("We have refunded \u20A912,000"));

  // The locale is part of the request: the same key with another locale is
  // another payload.
  in_english.set_locale("ko-KR");
  v1::SubmitRatingResponse reused;
  EXPECT_EQ(Rate(in_english, &reused).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  // A malformed tag is refused naming the field, and nothing is decided.
  v1::SubmitRatingRequest bad =
      testing::MeltedRating("k-bad", "m-1", "o-krw", 50);
  bad.set_locale("not a locale!");
  v1::SubmitRatingResponse refused;
  const grpc::Status status = Rate(bad, &refused);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("locale"));
}

TEST_F(MarketsTest, AClaimOnAnExcludedCategoryGetsAnAnswer) {
  v1::Order order = WonOrder("o-soju", DeliveredAt());
  v1::OrderLine* soju = order.add_lines();
  soju->set_line_id("l3");
  soju->set_sku("SOJU");
  soju->set_category("alcohol");
  soju->set_quantity(1);
  soju->set_amount_minor(6'000);
  order.set_total_minor(order.total_minor() + 6'000);
  ASSERT_TRUE(Record(order).ok());

  v1::SubmitRatingRequest request;
  request.set_idempotency_key("k-soju");
  request.set_member_id("m-1");
  request.set_order_id("o-soju");
  request.set_satisfaction_percent(30);
  v1::LineRating* line = request.add_line_ratings();
  line->set_line_id("l3");
  line->set_satisfaction_percent(0);
  line->add_reasons(v1::REASON_MISSING_ITEM);
  v1::SubmitRatingResponse response;
  const grpc::Status status = Rate(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const v1::Decision& decision = response.decision();
  EXPECT_NE(decision.outcome(), v1::OUTCOME_NO_ACTION);
  // The default policy refunds half of an alcohol line at once.
  EXPECT_EQ(decision.outcome(), v1::OUTCOME_REFUND);
  EXPECT_EQ(decision.refund().amount_minor(), 3'000);
  EXPECT_EQ(decision.refund().currency(), "KRW");
  EXPECT_EQ(decision.review_amount_minor(), 0);
  EXPECT_THAT(decision.explanation(),
              HasSubstr("We have refunded \u20A93,000"));
  EXPECT_THAT(decision.explanation(),
              HasSubstr("Alcohol is not refunded in full automatically"));
  bool task = false;
  for (const v1::FollowUp& follow_up : decision.follow_ups()) {
    for (const std::string& code : follow_up.reason_codes()) {
      task |= follow_up.kind() == v1::FOLLOW_UP_KIND_MANAGER_FOLLOW_UP &&
              code == "excluded_category_claim";
    }
  }
  EXPECT_TRUE(task);
}

}  // namespace
}  // namespace makegood
