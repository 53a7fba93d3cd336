// Reading cohorts: grouping and filtering the stored fields, and the Wilson
// interval of a reorder rate.
#include "services/retention/retention_store.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/fake_redis.h"

namespace makegood::retention {
namespace {

using ::makegood::testing::HashReply;

using ::testing::DoubleNear;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::Pair;

using Cohorts = std::map<std::vector<std::string>, Cohort>;

// A cohort hash field: the nine labels, then days and stat.
std::string Field(const std::string& outcome, const std::string& arm,
                  const std::string& currency, int days,
                  const std::string& stat) {
  return absl::StrJoin({outcome, std::string("claim"), std::string("WALLET"),
                        std::string("up_to_50pct"), std::string("under_1m"),
                        std::string("default@abc"), arm, std::string("plus"),
                        currency, absl::StrCat(days), stat},
                       "\t");
}

TEST(Wilson95, MatchesTheTextbookValues) {
  Interval half = Wilson95(5, 10);
  EXPECT_THAT(half.low, DoubleNear(0.2366, 1e-4));
  EXPECT_THAT(half.high, DoubleNear(0.7634, 1e-4));
  Interval none = Wilson95(0, 10);
  EXPECT_THAT(none.low, DoubleNear(0, 1e-12));
  EXPECT_THAT(none.high, DoubleNear(0.2775, 1e-4));
  Interval all = Wilson95(10, 10);
  EXPECT_THAT(all.low, DoubleNear(0.7225, 1e-4));
  EXPECT_THAT(all.high, DoubleNear(1, 1e-12));
  // Narrower with more troubles, and always around the rate.
  Interval big = Wilson95(500, 1000);
  EXPECT_LT(big.high - big.low, half.high - half.low);
  EXPECT_LT(big.low, 0.5);
  EXPECT_GT(big.high, 0.5);
  EXPECT_EQ(Wilson95(0, 0).high, 0);
}

TEST(AddPartition, SumsPartitionsByTheGroupedLabelsAndKeepsMoneyPerCurrency) {
  RetentionQuery query;
  query.group_by = {Label::kOutcome};
  Cohorts cohorts;
  ASSERT_TRUE(
      AddPartition(query,
                   HashReply({{Field("REFUND", "none", "EUR", 7, "n"), 3},
                              {Field("REFUND", "none", "EUR", 7, "r"), 2},
                              {Field("REFUND", "none", "EUR", 7, "s"), 900},
                              {Field("REFUND", "none", "EUR", 7, "p"), 400},
                              {Field("DENY", "none", "EUR", 30, "n"), 1}}),
                   cohorts)
          .ok());
  ASSERT_TRUE(
      AddPartition(query,
                   HashReply({{Field("REFUND", "x:a", "KRW", 7, "n"), 1},
                              {Field("REFUND", "x:a", "KRW", 7, "s"), 8000}}),
                   cohorts)
          .ok());
  ASSERT_EQ(cohorts.size(), 2u);
  const Cohort& refund = cohorts.at({"REFUND"});
  EXPECT_THAT(refund.labels, ElementsAre("REFUND"));
  EXPECT_EQ(refund.windows[0].troubles, 4);
  EXPECT_EQ(refund.windows[0].reordered, 2);
  EXPECT_THAT(refund.windows[0].spend_minor,
              ElementsAre(Pair("EUR", 900), Pair("KRW", 8000)));
  EXPECT_THAT(refund.windows[0].paid_minor, ElementsAre(Pair("EUR", 400)));
  EXPECT_EQ(refund.windows[1].troubles, 0);
  EXPECT_EQ(cohorts.at({"DENY"}).windows[1].troubles, 1);
}

TEST(AddPartition, FiltersAndGroupsByAnyLabels) {
  RetentionQuery query;
  query.group_by = {Label::kArm, Label::kCurrency};
  query.filters = {{Label::kOutcome, "REFUND"}};
  Cohorts cohorts;
  ASSERT_TRUE(
      AddPartition(query,
                   HashReply({{Field("REFUND", "x:a", "EUR", 7, "n"), 2},
                              {Field("REFUND", "x:b", "EUR", 7, "n"), 5},
                              {Field("DENY", "x:a", "EUR", 7, "n"), 9}}),
                   cohorts)
          .ok());
  ASSERT_EQ(cohorts.size(), 2u);
  EXPECT_EQ(cohorts.at({"x:a", "EUR"}).windows[0].troubles, 2);
  EXPECT_EQ(cohorts.at({"x:b", "EUR"}).windows[0].troubles, 5);
  // No group_by: one cohort of everything that passes the filters.
  Cohorts all;
  ASSERT_TRUE(
      AddPartition(RetentionQuery{},
                   HashReply({{Field("REFUND", "x:a", "EUR", 90, "n"), 2},
                              {Field("DENY", "x:a", "EUR", 90, "n"), 9}}),
                   all)
          .ok());
  ASSERT_EQ(all.size(), 1u);
  EXPECT_THAT(all.begin()->second.labels, IsEmpty());
  EXPECT_EQ(all.begin()->second.windows[2].troubles, 11);
}

TEST(AddPartition, ReadsAStoresFieldsByOutcomeRecoveryAndCurrency) {
  RetentionQuery query;
  query.group_by = {Label::kCurrency, Label::kRecovery};
  query.subject_kind = "store";
  query.subject_id = "store-1";
  Cohorts cohorts;
  ASSERT_TRUE(
      AddPartition(query,
                   HashReply({{"REFUND\tclaim\tEUR\t30\tn", 4},
                              {"REFUND\tclaim\tEUR\t30\tr", 3},
                              {"DENY\tsilent_unrecovered\tEUR\t30\tn", 1}}),
                   cohorts)
          .ok());
  ASSERT_EQ(cohorts.size(), 2u);
  EXPECT_EQ(cohorts.at({"EUR", "claim"}).windows[1].reordered, 3);
  EXPECT_EQ(cohorts.at({"EUR", "silent_unrecovered"}).windows[1].troubles, 1);
}

TEST(AddPartition, RefusesFieldsItDoesNotKnow) {
  Cohorts cohorts;
  for (const std::string& field :
       {std::string("REFUND\tclaim\t7\tn"), Field("REFUND", "a", "EUR", 8, "n"),
        Field("REFUND", "a", "EUR", 7, "x")}) {
    absl::Status status =
        AddPartition(RetentionQuery{}, HashReply({{field, 1}}), cohorts);
    EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << field;
  }
  std::vector<redis::RedisReply> not_a_number = {
      redis::RedisReply::String(Field("REFUND", "a", "EUR", 7, "n")),
      redis::RedisReply::String("many")};
  EXPECT_EQ(AddPartition(RetentionQuery{}, not_a_number, cohorts).code(),
            absl::StatusCode::kInternal);
}

}  // namespace
}  // namespace makegood::retention
