// Policy experiments, the pure part: who is in which arm, what the tallies
// say, when a guardrail trips, and the verdict.
#include "services/experiments/experiment.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/retention/retention_store.h"
#include "tests/testing/fake_redis.h"

namespace makegood::experiments {
namespace {

using ::makegood::testing::HashReply;

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

TEST(InCandidateArm, SplitsMembersByTheShareAndKeepsEachInOneArm) {
  int candidate = 0;
  int moved = 0;
  constexpr int kMembers = 20'000;
  for (int i = 0; i < kMembers; ++i) {
    const std::string member = absl::StrCat("m-", i);
    const bool in = InCandidateArm("exp1", member, 2500);
    candidate += in ? 1 : 0;
    EXPECT_EQ(InCandidateArm("exp1", member, 2500), in);
    // A larger share keeps everyone the smaller one had.
    if (in) {
      EXPECT_TRUE(InCandidateArm("exp1", member, 5000));
    }
    // Another experiment draws its own split.
    moved += InCandidateArm("exp2", member, 2500) != in ? 1 : 0;
  }
  EXPECT_NEAR(candidate, kMembers / 4, kMembers / 100);
  // Independent splits of 25 %: 2 * 0.25 * 0.75 = 37.5 % differ.
  EXPECT_NEAR(moved, kMembers * 3 / 8, kMembers / 50);
  EXPECT_FALSE(InCandidateArm("exp1", "m-1", 0));
  EXPECT_TRUE(InCandidateArm("exp1", "m-1", kBasisPoints));
  EXPECT_EQ(ControlArm("exp1"), "exp1:control");
  EXPECT_EQ(CandidateArm("exp1"), "exp1:candidate");
}

TEST(AddArmFields, SumsOneArmsFieldsAndSkipsTheOthers) {
  ArmTally tally;
  ASSERT_TRUE(AddArmFields(HashReply({{"e:candidate\tratings", 4},
                                      {"e:candidate\tinstant", 3},
                                      {"e:candidate\trefunds", 2},
                                      {"e:candidate\tgranted:EUR", 900},
                                      {"e:candidate\tday:20000:EUR", 400},
                                      {"e:candidate\tabuse", 1},
                                      {"e:candidate\tabuse_minor:EUR", 300},
                                      {"e:control\tratings", 7},
                                      {"other:candidate\tratings", 9}}),
                           "e:candidate", tally)
                  .ok());
  ASSERT_TRUE(AddArmFields(HashReply({{"e:candidate\tratings", 1},
                                      {"e:candidate\tgranted:KRW", 8000}}),
                           "e:candidate", tally)
                  .ok());
  EXPECT_EQ(tally.ratings, 5);
  EXPECT_EQ(tally.instant, 3);
  EXPECT_EQ(tally.refunds, 2);
  EXPECT_EQ(tally.abuse, 1);
  EXPECT_THAT(tally.granted_minor,
              ElementsAre(Pair("EUR", 900), Pair("KRW", 8000)));
  EXPECT_THAT(tally.abuse_minor, ElementsAre(Pair("EUR", 300)));
  EXPECT_THAT(tally.days,
              ElementsAre(Pair(20000, ElementsAre(Pair("EUR", 400)))));
  EXPECT_EQ(AddArmFields(HashReply({{"e:candidate\tnonsense", 1}}),
                         "e:candidate", tally)
                .code(),
            absl::StatusCode::kInternal);
}

TEST(GuardrailTrip, StopsOnTodaysMoneyAboveTheCap) {
  makegood::v1::ExperimentGuardrails guardrails;
  (*guardrails.mutable_max_candidate_minor_per_day())["EUR"] = 1000;
  ArmTally tally;
  tally.days[100]["EUR"] = 1000;   // At the cap: fine.
  tally.days[99]["EUR"] = 5000;    // Yesterday: not today's.
  tally.days[100]["KRW"] = 99999;  // Not capped.
  EXPECT_FALSE(GuardrailTrip(guardrails, tally, 100).has_value());
  tally.days[100]["EUR"] = 1001;
  auto trip = GuardrailTrip(guardrails, tally, 100);
  ASSERT_TRUE(trip.has_value());
  EXPECT_THAT(*trip, HasSubstr("daily cap"));
  EXPECT_THAT(*trip, HasSubstr("€10.01"));
}

TEST(GuardrailTrip, StopsOnAbuseAboveTheCeilingOnceTheSampleSuffices) {
  makegood::v1::ExperimentGuardrails guardrails;
  guardrails.set_max_abuse_percent(10);
  guardrails.set_min_refunds_for_abuse(20);
  ArmTally tally;
  tally.refunds = 10;
  tally.abuse = 5;  // 50 %, but too few refunds to judge.
  EXPECT_FALSE(GuardrailTrip(guardrails, tally, 1).has_value());
  tally.refunds = 20;
  tally.abuse = 2;  // 10 %: at the ceiling.
  EXPECT_FALSE(GuardrailTrip(guardrails, tally, 1).has_value());
  tally.abuse = 3;
  auto trip = GuardrailTrip(guardrails, tally, 1);
  ASSERT_TRUE(trip.has_value());
  EXPECT_THAT(*trip, HasSubstr("15.0 % of the candidate's refunds"));
  guardrails.set_max_abuse_percent(0);  // No ceiling.
  EXPECT_FALSE(GuardrailTrip(guardrails, tally, 1).has_value());
}

makegood::v1::ExperimentArm Arm(int64_t troubles, int64_t reordered,
                                int64_t ratings, int64_t granted) {
  ArmTally tally;
  tally.ratings = ratings;
  tally.granted_minor["EUR"] = granted;
  std::vector<makegood::v1::RetentionWindow> windows(3);
  retention::WindowCounts month;
  month.troubles = troubles;
  month.reordered = reordered;
  retention::RetentionWindowToProto(7, {}, windows[0]);
  retention::RetentionWindowToProto(30, month, windows[1]);
  retention::RetentionWindowToProto(90, {}, windows[2]);
  return ArmToProto("x", "v", tally, 0, windows);
}

makegood::v1::GetExperimentResponse Judged(
    makegood::v1::ExperimentArm control, makegood::v1::ExperimentArm candidate,
    int64_t min_troubles) {
  makegood::v1::ExperimentGuardrails guardrails;
  guardrails.set_min_troubles_per_arm(min_troubles);
  makegood::v1::GetExperimentResponse response;
  *response.mutable_control() = std::move(control);
  *response.mutable_candidate() = std::move(candidate);
  Judge(guardrails, response);
  return response;
}

TEST(Judge, WaitsForTheSampleThenReadsTheIntervalOfTheDifference) {
  auto early = Judged(Arm(50, 25, 100, 30000), Arm(49, 40, 100, 31000), 50);
  EXPECT_EQ(early.verdict(), makegood::v1::EXPERIMENT_VERDICT_NOT_ENOUGH_DATA);
  EXPECT_THAT(early.verdict_text(), HasSubstr("needs 50"));

  auto more =
      Judged(Arm(400, 200, 800, 240000), Arm(400, 280, 800, 248000), 100);
  EXPECT_EQ(more.verdict(),
            makegood::v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_MORE);
  EXPECT_THAT(more.reorder_rate_difference(), DoubleNear(0.2, 1e-9));
  EXPECT_GT(more.reorder_rate_difference_low(), 0.12);
  EXPECT_LT(more.reorder_rate_difference_high(), 0.27);
  EXPECT_THAT(more.verdict_text(),
              HasSubstr("The candidate keeps more members: 70.0 %"));
  EXPECT_THAT(more.verdict_text(), HasSubstr("€3.10 against €3.00"));

  auto less = Judged(Arm(400, 280, 800, 1), Arm(400, 200, 800, 1), 100);
  EXPECT_EQ(less.verdict(),
            makegood::v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_LESS);

  auto unclear = Judged(Arm(100, 50, 200, 1), Arm(100, 55, 200, 1), 100);
  EXPECT_EQ(unclear.verdict(),
            makegood::v1::EXPERIMENT_VERDICT_NO_CLEAR_DIFFERENCE);
  EXPECT_LT(unclear.reorder_rate_difference_low(), 0);
  EXPECT_GT(unclear.reorder_rate_difference_high(), 0);
}

}  // namespace
}  // namespace makegood::experiments
