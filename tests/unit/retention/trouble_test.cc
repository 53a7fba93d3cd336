// What a trouble is, and the labels its cohort is known by.
#include "services/retention/trouble.h"

#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace makegood::retention {
namespace {

using ::testing::ElementsAre;

const absl::Time kAt = absl::FromUnixMillis(1780272000123);

makegood::v1::Order SampleOrder() {
  makegood::v1::Order order;
  order.set_order_id("o-1");
  order.set_member_id("m-1");
  order.set_store_id("store-1");
  order.set_courier_id("courier-1");
  order.set_currency("EUR");
  order.set_total_minor(3000);
  return order;
}

makegood::v1::SubmitRatingRequest Rating(bool with_reason) {
  makegood::v1::SubmitRatingRequest request;
  request.set_member_id("m-1");
  request.set_order_id("o-1");
  request.set_satisfaction_percent(30);
  if (with_reason) request.add_reasons(makegood::v1::REASON_LATE);
  return request;
}

makegood::v1::SubmitRatingResponse Answer(makegood::v1::Outcome outcome,
                                          int64_t refund_minor) {
  makegood::v1::SubmitRatingResponse response;
  response.set_rating_id("rt_1");
  makegood::v1::Decision* decision = response.mutable_decision();
  decision->set_outcome(outcome);
  decision->set_policy_version("default@abc");
  if (refund_minor > 0) {
    decision->mutable_refund()->set_refund_id("rf_1");
    decision->mutable_refund()->set_amount_minor(refund_minor);
    decision->mutable_refund()->set_instrument(makegood::v1::INSTRUMENT_WALLET);
  }
  return response;
}

TEST(AmountBand, SplitsWhatWasGrantedByItsShareOfTheOrder) {
  EXPECT_EQ(AmountBand(0, 3000), "none");
  EXPECT_EQ(AmountBand(1, 3000), "up_to_25pct");
  EXPECT_EQ(AmountBand(750, 3000), "up_to_25pct");
  EXPECT_EQ(AmountBand(751, 3000), "up_to_50pct");
  EXPECT_EQ(AmountBand(1500, 3000), "up_to_50pct");
  EXPECT_EQ(AmountBand(1501, 3000), "up_to_99pct");
  EXPECT_EQ(AmountBand(2999, 3000), "up_to_99pct");
  EXPECT_EQ(AmountBand(3000, 3000), "full");
}

TEST(RecoveryLabel, TellsClaimsFromSilentMembersAndTheirFollowUp) {
  makegood::v1::Decision decision;
  EXPECT_EQ(RecoveryLabel(Rating(true), decision), "claim");
  EXPECT_EQ(RecoveryLabel(Rating(false), decision), "silent_unrecovered");
  decision.add_follow_ups()->set_kind(
      makegood::v1::FOLLOW_UP_KIND_SILENT_RECOVERY);
  EXPECT_EQ(RecoveryLabel(Rating(false), decision), "silent_recovered");
  // A reason on a line is a claim too.
  makegood::v1::SubmitRatingRequest line_claim = Rating(false);
  makegood::v1::LineRating* line = line_claim.add_line_ratings();
  line->set_line_id("l1");
  line->add_reasons(makegood::v1::REASON_MISSING_ITEM);
  EXPECT_EQ(RecoveryLabel(line_claim, decision), "claim");
}

TEST(TroubleOf, IsNothingUnlessThePolicySaidTrouble) {
  EXPECT_FALSE(TroubleOf(false, Rating(true),
                         Answer(makegood::v1::OUTCOME_REFUND, 1200),
                         SampleOrder(), "plus", kNoArm, kAt)
                   .has_value());
}

TEST(TroubleOf, LabelsARefundedClaimAndStoresItInTheScriptsOrder) {
  std::optional<Trouble> trouble = TroubleOf(
      true, Rating(true), Answer(makegood::v1::OUTCOME_WALLET_CREDIT, 1200),
      SampleOrder(), "plus", "exp:candidate", kAt);
  ASSERT_TRUE(trouble.has_value());
  EXPECT_THAT(
      absl::StrSplit(TroubleRecord(*trouble), '\t'),
      ElementsAre("1780272000123", "EUR", "rf_1", "1200", "WALLET_CREDIT",
                  "claim", "WALLET", "up_to_50pct", "default@abc",
                  "exp:candidate", "plus", "store-1", "courier-1"));
  EXPECT_EQ(DueMember(*trouble), "rt_1\tm-1\trf_1\tstore-1\tcourier-1");
  // The 7-day window, then a grace day for orders recorded late.
  EXPECT_EQ(FirstCloseMs(*trouble, absl::Hours(24)),
            1780272000123 + 8 * 86400000LL);
  EXPECT_EQ(FirstCloseMs(*trouble, absl::Milliseconds(200)),
            1780272000123 + 8 * 200);
}

TEST(TroubleOf, ADenialGrantsNothingAndKeepsEmptyFields) {
  makegood::v1::Order order = SampleOrder();
  order.clear_courier_id();
  std::optional<Trouble> trouble =
      TroubleOf(true, Rating(false), Answer(makegood::v1::OUTCOME_DENY, 0),
                order, "basic", kNoArm, kAt);
  ASSERT_TRUE(trouble.has_value());
  EXPECT_THAT(absl::StrSplit(TroubleRecord(*trouble), '\t'),
              ElementsAre("1780272000123", "EUR", "", "0", "DENY",
                          "silent_unrecovered", "none", "none", "default@abc",
                          "none", "basic", "store-1", ""));
  // Empty fields survive the round trip through the schedule.
  std::optional<DueTrouble> due = ParseDueMember(DueMember(*trouble));
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(due->rating_id, "rt_1");
  EXPECT_EQ(due->member_id, "m-1");
  EXPECT_EQ(due->refund_id, "");
  EXPECT_EQ(due->store_id, "store-1");
  EXPECT_EQ(due->courier_id, "");
}

TEST(ParseDueMember, RefusesWhatDueMemberNeverWrites) {
  EXPECT_FALSE(ParseDueMember("").has_value());
  EXPECT_FALSE(ParseDueMember("rt_1\tm-1\trf_1\tstore-1").has_value());
  EXPECT_FALSE(ParseDueMember("rt_1\tm-1\trf\ts\tc\textra").has_value());
  EXPECT_FALSE(ParseDueMember("\tm-1\trf\ts\tc").has_value());
  EXPECT_FALSE(ParseDueMember("rt_1\t\trf\ts\tc").has_value());
}

}  // namespace
}  // namespace makegood::retention
