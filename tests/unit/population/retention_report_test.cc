// Retention simulated and served, compared
// (services/population/retention_report.h): troubles tallied into the
// cohorts GetRetentionStats groups by, a served response less the one read
// before the run, and every difference named.
#include "services/population/retention_report.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace makegood::population {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

// A trouble answered `outcome` whose member ordered again on `day` (0:
// never) for `spend`.
SimTrouble Trouble(const std::string& outcome, int day, int64_t spend = 1000,
                   const std::string& recovery = "claim") {
  SimTrouble t;
  t.trouble.currency = "EUR";
  t.trouble.outcome = outcome;
  t.trouble.recovery = recovery;
  t.trouble.arm = "none";
  t.segment = "honest";
  t.probability = 0.5;
  t.decided_day = day;
  for (size_t w = 0; w < kWindows; ++w) {
    if (day > 0 && day <= retention::kWindowDays[w]) {
      t.reordered[w] = true;
      t.spend_minor[w] = spend;
    }
  }
  return t;
}

void AddCohort(v1::GetRetentionStatsResponse& response,
               const std::string& outcome,
               const std::array<int64_t, 3>& troubles,
               const std::array<int64_t, 3>& reordered,
               const std::array<int64_t, 3>& spend) {
  v1::RetentionCohort* cohort = response.add_cohorts();
  auto* currency = cohort->add_labels();
  currency->set_dimension(v1::RETENTION_DIMENSION_CURRENCY);
  currency->set_value("EUR");
  auto* label = cohort->add_labels();
  label->set_dimension(v1::RETENTION_DIMENSION_OUTCOME);
  label->set_value(outcome);
  for (size_t w = 0; w < 3; ++w) {
    v1::RetentionWindow* window = cohort->add_windows();
    window->set_days(retention::kWindowDays[w]);
    window->set_troubles(troubles[w]);
    window->set_reordered(reordered[w]);
    if (spend[w] != 0) (*window->mutable_spend_minor())["EUR"] = spend[w];
  }
}

const RetentionGrouping& ByOutcome() {
  static const RetentionGrouping grouping = DefaultRetentionGroupings()[0];
  return grouping;
}

TEST(RetentionReport, TroublesAreTalliedPerCohortAndWindow) {
  const std::vector<SimTrouble> troubles = {
      Trouble("REFUND", 3, 1000), Trouble("REFUND", 20, 2000),
      Trouble("REFUND", 0), Trouble("DENY", 45, 500)};
  const Cohorts cohorts = SimulatedCohorts(troubles, ByOutcome());
  ASSERT_THAT(cohorts, SizeIs(2));
  const CohortCounts& refund = cohorts.at({"EUR", "REFUND"});
  EXPECT_DOUBLE_EQ(refund.probability_sum, 1.5);
  EXPECT_EQ(refund.windows[0].troubles, 3);
  EXPECT_EQ(refund.windows[0].reordered, 1);
  EXPECT_EQ(refund.windows[1].reordered, 2);
  EXPECT_EQ(refund.windows[2].reordered, 2);
  EXPECT_EQ(refund.windows[1].spend_minor.at("EUR"), 3000);
  const CohortCounts& deny = cohorts.at({"EUR", "DENY"});
  EXPECT_EQ(deny.windows[1].reordered, 0);
  EXPECT_TRUE(deny.windows[1].spend_minor.empty());
  EXPECT_EQ(deny.windows[2].reordered, 1);
}

TEST(RetentionReport, ServedCohortsAreWhatTheServerAddedDuringTheRun) {
  v1::GetRetentionStatsResponse before;
  AddCohort(before, "REFUND", {2, 2, 2}, {1, 1, 2}, {100, 100, 300});
  AddCohort(before, "COUPON", {1, 1, 1}, {0, 0, 0}, {0, 0, 0});
  v1::GetRetentionStatsResponse after = before;
  after.mutable_cohorts(0)->mutable_windows(0)->set_troubles(5);
  after.mutable_cohorts(0)->mutable_windows(0)->set_reordered(2);
  (*after.mutable_cohorts(0)
        ->mutable_windows(0)
        ->mutable_spend_minor())["EUR"] = 1100;
  AddCohort(after, "DENY", {1, 1, 1}, {0, 0, 1}, {0, 0, 500});
  const Cohorts served = ServedCohorts(before, after);
  // COUPON did not change: not this run's.
  ASSERT_THAT(served, SizeIs(2));
  const CohortCounts& refund = served.at({"EUR", "REFUND"});
  EXPECT_EQ(refund.windows[0].troubles, 3);
  EXPECT_EQ(refund.windows[0].reordered, 1);
  EXPECT_EQ(refund.windows[0].spend_minor.at("EUR"), 1000);
  EXPECT_EQ(refund.windows[1].troubles, 0);
  EXPECT_EQ(served.at({"EUR", "DENY"}).windows[2].reordered, 1);
}

TEST(RetentionReport, EqualCountsAgreeAndEveryDifferenceIsNamed) {
  RetentionReport report(absl::Milliseconds(200), {ByOutcome()});
  report.AddTroubles({Trouble("REFUND", 3, 1000), Trouble("REFUND", 0),
                      Trouble("DENY", 45, 500)});
  v1::GetRetentionStatsResponse served;
  AddCohort(served, "REFUND", {2, 2, 2}, {1, 1, 1}, {1000, 1000, 1000});
  AddCohort(served, "DENY", {1, 1, 1}, {0, 0, 1}, {0, 0, 500});
  report.SetServed("outcome", ServedCohorts({}, served));
  EXPECT_THAT(report.Mismatches(), IsEmpty());
  EXPECT_THAT(report.Table(), HasSubstr("every cohort and window equal"));
  nlohmann::json json = nlohmann::json::parse(report.Json());
  EXPECT_EQ(json["match"], true);
  EXPECT_EQ(json["troubles"], 3);
  const auto& refund = json["currencies"]["EUR"]["outcome"]["REFUND"];
  EXPECT_EQ(refund["troubles"], 2);
  EXPECT_EQ(refund["match"], true);
  EXPECT_EQ(refund["windows"]["7"]["served"]["reordered"], 1);
  EXPECT_EQ(refund["windows"]["7"]["simulated"]["spend_minor"], 1000);
  EXPECT_DOUBLE_EQ(refund["windows"]["90"]["served"]["rate"], 0.5);

  // The server missed the DENY trouble's reorder on day 45.
  served.mutable_cohorts(1)->mutable_windows(2)->set_reordered(0);
  served.mutable_cohorts(1)->mutable_windows(2)->clear_spend_minor();
  report.SetServed("outcome", ServedCohorts({}, served));
  EXPECT_THAT(report.Mismatches(),
              ElementsAre("by outcome EUR/DENY 90 days: served 0 of 1 "
                          "reordered (spend 0), simulated 1 of 1 (spend 500 "
                          "EUR)"));
  EXPECT_THAT(report.Table(), HasSubstr("MISMATCH"));
  EXPECT_EQ(nlohmann::json::parse(report.Json())["match"], false);
}

TEST(RetentionReport, AGroupingNotReadOrAProblemIsAMismatch) {
  RetentionReport report(absl::Milliseconds(200), DefaultRetentionGroupings());
  report.AddTroubles({Trouble("REFUND", 3)});
  report.SetServed("outcome", SimulatedCohorts(report.troubles(), ByOutcome()));
  EXPECT_THAT(report.Mismatches(), ElementsAre("by recovery: not read"));
  report.AddProblem("2 troubles still had a window open");
  EXPECT_THAT(report.Mismatches(), SizeIs(2));
}

TEST(RetentionReport, LabelsAreTheServersDimensions) {
  retention::Trouble t;
  t.outcome = "REFUND";
  t.recovery = "claim";
  t.instrument = "WALLET";
  t.amount_band = "full";
  t.policy_version = "default@1";
  t.arm = "none";
  t.tier = "plus";
  t.currency = "KRW";
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_OUTCOME), "REFUND");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_RECOVERY), "claim");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_INSTRUMENT), "WALLET");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_AMOUNT_BAND), "full");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_POLICY_VERSION), "default@1");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_ARM), "none");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_TIER), "plus");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_CURRENCY), "KRW");
  EXPECT_EQ(LabelOf(t, v1::RETENTION_DIMENSION_TIME_TO_SUCCEEDED), "");
  const v1::GetRetentionStatsRequest request =
      RequestOf(DefaultRetentionGroupings()[1]);
  EXPECT_THAT(request.group_by(),
              ElementsAre(v1::RETENTION_DIMENSION_CURRENCY,
                          v1::RETENTION_DIMENSION_RECOVERY));
}

}  // namespace
}  // namespace makegood::population
