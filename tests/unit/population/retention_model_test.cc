// The population's retention model (services/population/retention_model.h):
// the probability an answer leaves, compounded over a member's troubles,
// segment overrides, the day a reorder falls on, the checks of the
// parameter file, and the pre-drawn reorders of the generator.
#include "services/population/retention_model.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/population/config.h"
#include "services/population/generator.h"

namespace makegood::population {
namespace {

using ::testing::HasSubstr;

// Two segments: honest, and abusers who come back only when paid.
PopulationConfig TwoSegments() {
  PopulationConfig config;
  config.add_currencies()->set_code("EUR");
  config.mutable_currencies(0)->set_factor(1);
  config.set_recent_min_hours(1);
  config.set_recent_window_hours(48);
  Product* product = config.add_catalog();
  product->set_sku("ICE");
  product->set_category("frozen");
  product->set_price_minor(500);
  product->set_weight(1);
  for (const char* name : {"honest", "abuser"}) {
    Segment* s = config.add_segments();
    s->set_name(name);
    s->set_group(GROUP_HONEST_ESTABLISHED);
    s->set_claim_style(CLAIM_STYLE_HONEST);
    s->set_members(3);
    s->add_tiers()->set_tier("basic");
    s->mutable_lines()->set_min(1);
    s->mutable_lines()->set_max(2);
    s->mutable_quantity()->set_min(1);
    s->mutable_quantity()->set_max(1);
    s->mutable_recent_orders()->set_min(2);
    s->mutable_recent_orders()->set_max(3);
    s->set_claim_probability(0.5);
    s->set_rate_probability(1);
  }
  RetentionModel* model = config.mutable_retention();
  model->set_no_trouble_90d(0.8);
  model->set_trouble_90d(0.6);
  model->set_within_7_days(0.5);
  model->set_within_30_days(0.8);
  AnswerRecovery* refund = model->add_answers();
  refund->set_answer("REFUND");
  refund->set_recovered(0.75);
  AnswerRecovery* deny = model->add_answers();
  deny->set_answer("DENY");
  deny->set_recovered(-0.5);
  AnswerRecovery* silent = model->add_answers();
  silent->set_answer("silent_recovered");
  silent->set_recovered(0.5);
  SegmentRetention* abuser = model->add_segments();
  abuser->set_segment("abuser");
  abuser->set_trouble_90d(0.3);
  AnswerRecovery* paid = abuser->add_answers();
  paid->set_answer("REFUND");
  paid->set_recovered(1);
  return config;
}

TEST(RetentionModel, AnAnswerWinsBackItsShareOfWhatATroubleCosts) {
  const PopulationConfig config = TwoSegments();
  const RetentionModel& model = config.retention();
  // 0.6 + r * (0.8 - 0.6)
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "honest", "REFUND"), 0.75);
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "honest", "DENY"), 0.5);
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "honest", "silent_recovered"),
                   0.7);
  // Not listed: nothing won back.
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "honest", "NO_ACTION"), 0.6);
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "honest", "silent_unrecovered"),
                   0.6);
}

TEST(RetentionModel, ASegmentOverridesOnlyWhatItSets) {
  const PopulationConfig config = TwoSegments();
  const RetentionModel& model = config.retention();
  // trouble_90d 0.3 of its own, no_trouble_90d 0.8 of the model's.
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "abuser", "REFUND"), 0.8);
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "abuser", "NO_ACTION"), 0.3);
  // DENY's recovery is the model's: 0.3 - 0.5 * 0.5.
  EXPECT_DOUBLE_EQ(ReorderProbability(model, "abuser", "DENY"), 0.05);
}

TEST(RetentionModel, TroublesOfOneSessionCompound) {
  const PopulationConfig config = TwoSegments();
  const RetentionModel& model = config.retention();
  EXPECT_DOUBLE_EQ(
      ReorderProbability(model, "honest", std::vector<std::string>{}), 0.8);
  EXPECT_DOUBLE_EQ(
      ReorderProbability(model, "honest", std::vector<std::string>{"REFUND"}),
      0.75);
  // Each keeps its share of what is left: 0.8 * (0.75/0.8) * (0.6/0.8).
  EXPECT_DOUBLE_EQ(
      ReorderProbability(model, "honest",
                         std::vector<std::string>{"REFUND", "NO_ACTION"}),
      0.5625);
}

TEST(RetentionModel, TheAnswerOfAClaimIsItsOutcomeOfASilentTroubleItsRecovery) {
  EXPECT_EQ(AnswerOf("REFUND", "claim"), "REFUND");
  EXPECT_EQ(AnswerOf("OUTCOME_DENY", "claim"), "DENY");
  EXPECT_EQ(AnswerOf("COUPON", "silent_recovered"), "silent_recovered");
  EXPECT_EQ(AnswerOf("NO_ACTION", "silent_unrecovered"), "silent_unrecovered");
}

TEST(RetentionModel, TheDayFallsInTheWindowItsDrawPicks) {
  const RetentionModel model = TwoSegments().retention();
  // No reorder when the draw is at or above the probability.
  EXPECT_EQ(ReorderDay(model, 0.5, {.reorder = 0.5, .window = 0, .day = 0}), 0);
  EXPECT_EQ(ReorderDay(model, 0, {.reorder = 0, .window = 0, .day = 0}), 0);
  // within_7_days 0.5, within_30_days 0.8.
  EXPECT_EQ(ReorderDay(model, 1, {.reorder = 0.1, .window = 0, .day = 0}), 1);
  EXPECT_EQ(
      ReorderDay(model, 1, {.reorder = 0.1, .window = 0.49, .day = 0.999}), 7);
  EXPECT_EQ(ReorderDay(model, 1, {.reorder = 0.1, .window = 0.5, .day = 0}), 8);
  EXPECT_EQ(
      ReorderDay(model, 1, {.reorder = 0.1, .window = 0.79, .day = 0.999}), 30);
  EXPECT_EQ(ReorderDay(model, 1, {.reorder = 0.1, .window = 0.8, .day = 0}),
            31);
  EXPECT_EQ(
      ReorderDay(model, 1, {.reorder = 0.1, .window = 0.999, .day = 0.99999}),
      kMaxReorderDay);
}

TEST(RetentionModelCheck, TheShippedModelLoadsAndABadOneNamesTheField) {
  EXPECT_TRUE(CheckConfig(TwoSegments()).ok()) << CheckConfig(TwoSegments());
  absl::StatusOr<PopulationConfig> shipped =
      LoadConfig(std::string(MAKEGOOD_SOURCE_DIR) +
                 "/config/population/default.textproto");
  ASSERT_TRUE(shipped.ok()) << shipped.status();
  ASSERT_TRUE(shipped->has_retention());
  // The brief's fifth: an unanswered trouble keeps four fifths.
  EXPECT_DOUBLE_EQ(shipped->retention().trouble_90d() /
                       shipped->retention().no_trouble_90d(),
                   0.8);

  struct Case {
    std::string field;
    void (*breaks)(RetentionModel&);
  };
  const std::vector<Case> cases = {
      {"retention.trouble_90d",
       [](RetentionModel& m) { m.set_trouble_90d(1.5); }},
      {"retention.trouble_90d",
       [](RetentionModel& m) { m.set_trouble_90d(0.9); }},
      {"retention.within_30_days",
       [](RetentionModel& m) { m.set_within_30_days(0.4); }},
      {"retention.answers[0].answer",
       [](RetentionModel& m) { m.mutable_answers(0)->set_answer("REFUNDED"); }},
      {"retention.answers[1].answer",
       [](RetentionModel& m) { m.mutable_answers(1)->set_answer("REFUND"); }},
      {"retention.answers[0].recovered",
       [](RetentionModel& m) { m.mutable_answers(0)->set_recovered(2); }},
      {"retention.segments[0].segment",
       [](RetentionModel& m) { m.mutable_segments(0)->set_segment("nobody"); }},
      // DENY at -1 leaves the honest 0.4 but takes the abusers below 0.
      {"retention.answers",
       [](RetentionModel& m) { m.mutable_answers(1)->set_recovered(-1); }},
  };
  for (const Case& c : cases) {
    PopulationConfig config = TwoSegments();
    c.breaks(*config.mutable_retention());
    const absl::Status status = CheckConfig(config);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << c.field;
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.field));
  }
}

TEST(RetentionModelGenerate, EveryRatedOrderDrawsTheSameReorderForTheSameSeed) {
  PopulationConfig config = TwoSegments();
  GenerateOptions options{.seed = 5,
                          .currency = "EUR",
                          .scale = config.currencies(0),
                          .prefix = "p",
                          .now = absl::FromUnixSeconds(1795000100)};
  const std::vector<SimMember> a = Generate(config, options);
  const std::vector<SimMember> b = Generate(config, options);
  // The population is drawn from its own stream: the retention model does
  // not change it.
  config.clear_retention();
  const std::vector<SimMember> without = Generate(config, options);
  ASSERT_EQ(a.size(), 6u);
  using google::protobuf::util::MessageDifferencer;
  int reorders = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].recent_orders.size(), b[i].recent_orders.size());
    for (size_t j = 0; j < a[i].recent_orders.size(); ++j) {
      const RecentOrder& x = a[i].recent_orders[j];
      const RecentOrder& y = b[i].recent_orders[j];
      EXPECT_TRUE(MessageDifferencer::Equals(
          x.order, without[i].recent_orders[j].order));
      ASSERT_EQ(x.reorder.has_value(), x.rating.has_value());
      ASSERT_EQ(x.reorder.has_value(), y.reorder.has_value());
      if (!x.reorder.has_value()) continue;
      ++reorders;
      EXPECT_EQ(x.reorder->draw.reorder, y.reorder->draw.reorder);
      EXPECT_EQ(x.reorder->draw.window, y.reorder->draw.window);
      EXPECT_EQ(x.reorder->draw.day, y.reorder->draw.day);
      EXPECT_TRUE(
          MessageDifferencer::Equals(x.reorder->order, y.reorder->order));
      EXPECT_EQ(x.reorder->order.order_id(),
                absl::StrCat(a[i].member.member_id(), "-n", j + 1));
      EXPECT_EQ(x.reorder->order.member_id(), a[i].member.member_id());
      EXPECT_FALSE(x.reorder->order.has_delivered_at());
      EXPECT_GT(x.reorder->order.lines_size(), 0);
    }
  }
  EXPECT_GT(reorders, 0);
}

}  // namespace
}  // namespace makegood::population
