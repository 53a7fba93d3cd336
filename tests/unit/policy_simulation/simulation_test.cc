// Simulation cases -> engine inputs, and running them through two policies.
#include "services/policy_simulation/simulation.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/policy/engine.h"
#include "services/policy/policy_config.h"
#include "services/policy_proto/engine_proto.h"

namespace makegood::policy_simulation {
namespace {

namespace v1 = ::makegood::v1;
using ::makegood::policy::DefaultPolicyConfig;
using ::makegood::policy::PolicyEngine;
using ::makegood::policy_proto::ToTimestamp;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;
using ::testing::UnorderedElementsAre;

const absl::Time kDelivered = absl::FromUnixSeconds(1'700'000'000);

// A trusted premium member rates a melted ice cream (6.00 of 11.99) at 50 %.
v1::SimulationCase MeltedIceCream() {
  v1::SimulationCase c;
  c.set_case_id("melted");
  v1::Member* member = c.mutable_member();
  member->set_member_id("m1");
  member->set_tier("premium");
  *member->mutable_member_since() =
      ToTimestamp(kDelivered - absl::Hours(3 * 365 * 24));
  member->add_flags("verified");
  c.mutable_history()->set_delivered_orders(120);
  c.mutable_history()->set_spend_90d_minor(400'00);
  v1::Order* order = c.mutable_order();
  order->set_order_id("o1");
  order->set_store_id("s1");
  order->set_courier_id("c1");
  order->set_currency("EUR");
  order->set_total_minor(11'99);
  order->set_delivery_fee_minor(2'99);
  *order->mutable_delivered_at() = ToTimestamp(kDelivered);
  order->set_payment_method(v1::PAYMENT_METHOD_CARD);
  v1::OrderLine* ice = order->add_lines();
  ice->set_line_id("l1");
  ice->set_sku("ice");
  ice->set_category("frozen");
  ice->set_quantity(1);
  ice->set_amount_minor(6'00);
  v1::OrderLine* bread = order->add_lines();
  bread->set_line_id("l2");
  bread->set_sku("bread");
  bread->set_category("bakery");
  bread->set_quantity(1);
  bread->set_amount_minor(3'00);
  v1::SubmitRatingRequest* rating = c.mutable_rating();
  rating->set_satisfaction_percent(50);
  v1::LineRating* line = rating->add_line_ratings();
  line->set_line_id("l1");
  line->set_satisfaction_percent(50);
  line->add_reasons(v1::REASON_MELTED_OR_WARM);
  return c;
}

PolicyEngine Engine(policy::PolicyConfig config, const std::string& version) {
  return PolicyEngine::Create(std::move(config), version).value();
}

TEST(CaseToInputs, CarriesMemberHistoryOrderAndRating) {
  v1::SimulationCase c = MeltedIceCream();
  c.set_order_refunded_minor(1'00);
  c.mutable_history()->mutable_instant_budget()->set_balance_minor(7'00);
  absl::StatusOr<CaseInputs> in = CaseToInputs(c);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->member.tier, "premium");
  EXPECT_EQ(in->member.history.delivered_orders, 120);
  ASSERT_TRUE(in->member.instant_budget.has_value());
  EXPECT_EQ(in->member.instant_budget->balance_minor, 7'00);
  EXPECT_EQ(in->order.refunded_minor, 1'00);
  EXPECT_EQ(in->order.payment_method, policy::PaymentMethod::kCard);
  ASSERT_EQ(in->rating.line_ratings.size(), 1u);
  EXPECT_THAT(in->rating.line_ratings[0].reasons,
              ElementsAre(policy::Reason::kMeltedOrWarm));
  // Without rated_at, an hour after delivery.
  EXPECT_EQ(in->now, kDelivered + absl::Hours(1));
  *c.mutable_rated_at() = ToTimestamp(kDelivered + absl::Hours(5));
  EXPECT_EQ(CaseToInputs(c)->now, kDelivered + absl::Hours(5));
}

TEST(CaseToInputs, WithoutHistoryTheMemberHasNone) {
  v1::SimulationCase c = MeltedIceCream();
  c.clear_history();
  absl::StatusOr<CaseInputs> in = CaseToInputs(c);
  ASSERT_TRUE(in.ok()) << in.status();
  EXPECT_EQ(in->member.history.delivered_orders, 0);
  EXPECT_FALSE(in->member.instant_budget.has_value());
}

TEST(CaseToInputs, NamesTheFieldOfABadRating) {
  v1::SimulationCase missing = MeltedIceCream();
  missing.mutable_rating()->clear_satisfaction_percent();
  EXPECT_EQ(CaseToInputs(missing).status().message(),
            "rating.satisfaction_percent: is required");

  v1::SimulationCase out_of_range = MeltedIceCream();
  out_of_range.mutable_rating()
      ->mutable_line_ratings(0)
      ->set_satisfaction_percent(101);
  EXPECT_EQ(CaseToInputs(out_of_range).status().message(),
            "rating.line_ratings[0].satisfaction_percent: must be in [0, 100], "
            "not 101");

  v1::SimulationCase unset_reason = MeltedIceCream();
  unset_reason.mutable_rating()->add_reasons(v1::REASON_UNSPECIFIED);
  EXPECT_THAT(std::string(CaseToInputs(unset_reason).status().message()),
              HasSubstr("rating.reasons[0]: must be a known reason"));
}

TEST(Simulate, CountsOutcomesAndMoneyAndListsDifferences) {
  policy::PolicyConfig capped = DefaultPolicyConfig();
  ASSERT_EQ(capped.markets[0].currency, "EUR");
  capped.markets[0].tiers[2].max_refund_per_order_minor = 5'00;
  const PolicyEngine candidate = Engine(capped, "capped@1");
  const PolicyEngine baseline = Engine(DefaultPolicyConfig(), "default@1");
  v1::SimulationCase happy = MeltedIceCream();
  happy.set_case_id("happy");
  happy.mutable_rating()->set_satisfaction_percent(100);
  happy.mutable_rating()->clear_line_ratings();
  v1::SimulationCase broken = MeltedIceCream();
  broken.set_case_id("broken");
  broken.mutable_order()->set_currency("GBP");  // not served
  // The same order in won is decided in the KRW market (its caps are not
  // the capped EUR ones).
  v1::SimulationCase won = MeltedIceCream();
  won.set_case_id("won");
  won.mutable_order()->set_currency("KRW");

  const std::vector<v1::SimulationCase> cases = {MeltedIceCream(), happy,
                                                 broken, won};
  SimulationResult result = Simulate(candidate, &baseline, cases);

  const v1::SimulatePolicyResponse& r = result.response;
  EXPECT_EQ(r.cases_evaluated(), 3);
  EXPECT_EQ(r.candidate().policy_version(), "capped@1");
  EXPECT_EQ(r.active().policy_version(), "default@1");
  EXPECT_THAT(r.candidate().outcomes(),
              UnorderedElementsAre(Pair("OUTCOME_REFUND", 2),
                                   Pair("OUTCOME_NO_ACTION", 1)));
  EXPECT_THAT(r.candidate().refunded_minor(),
              UnorderedElementsAre(Pair("EUR", 5'00), Pair("KRW", 600)));
  EXPECT_THAT(r.active().refunded_minor(),
              UnorderedElementsAre(Pair("EUR", 6'00), Pair("KRW", 600)));
  ASSERT_EQ(r.differences_size(), 1);
  EXPECT_EQ(r.differences(0).case_id(), "melted");
  EXPECT_EQ(r.differences(0).active().refund().amount_minor(), 6'00);
  EXPECT_EQ(r.differences(0).candidate().refund().amount_minor(), 5'00);
  ASSERT_EQ(result.errors.size(), 1u);
  EXPECT_EQ(result.errors[0].index, 2);
  EXPECT_EQ(result.errors[0].case_id, "broken");
  EXPECT_EQ(result.errors[0].status.code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.errors[0].status.message()),
              HasSubstr("does not serve GBP (it serves CNY, EUR, KRW, USD)"));
}

TEST(Simulate, WithoutABaselineReportsTheCandidateOnly) {
  const PolicyEngine candidate = Engine(DefaultPolicyConfig(), "default@1");
  const std::vector<v1::SimulationCase> cases = {MeltedIceCream()};
  SimulationResult result = Simulate(candidate, nullptr, cases);
  EXPECT_EQ(result.response.cases_evaluated(), 1);
  EXPECT_THAT(result.response.candidate().outcomes(),
              UnorderedElementsAre(Pair("OUTCOME_REFUND", 1)));
  EXPECT_FALSE(result.response.has_active());
  EXPECT_EQ(result.response.differences_size(), 0);
}

TEST(ParseSimulationCases, ReadsJsonLinesSkippingCommentsAndBlankLines) {
  absl::StatusOr<std::vector<v1::SimulationCase>> cases = ParseSimulationCases(
      "# cases\n\n{\"caseId\": \"a\"}\n  {\"case_id\": \"b\"}\n");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[1].case_id(), "b");
}

TEST(ParseSimulationCases, NamesTheLineOfBadJson) {
  absl::StatusOr<std::vector<v1::SimulationCase>> cases =
      ParseSimulationCases("{\"caseId\": \"a\"}\n{\"nope\": 1}\n");
  ASSERT_FALSE(cases.ok());
  EXPECT_THAT(std::string(cases.status().message()), HasSubstr("line 2: "));
}

TEST(ParseSimulationCases, ReadsTextproto) {
  absl::StatusOr<std::vector<v1::SimulationCase>> cases = ParseSimulationCases(
      "# cases\ncases { case_id: \"a\" }\ncases { case_id: \"b\" }\n");
  ASSERT_TRUE(cases.ok()) << cases.status();
  ASSERT_EQ(cases->size(), 2u);
  EXPECT_EQ((*cases)[0].case_id(), "a");
  EXPECT_THAT(
      std::string(ParseSimulationCases("cases { nope: 1 }").status().message()),
      HasSubstr("1:13: "));
}

}  // namespace
}  // namespace makegood::policy_simulation
