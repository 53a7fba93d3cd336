// The policy document <-> engine config conversion: round trips and
// violations that name the textproto field to fix.
#include "services/policy_proto/policy_convert.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "makegood/v1/policy.pb.h"
#include "services/policy/markets.h"
#include "services/policy/policy_config.h"

namespace makegood::policy_proto {
namespace {

namespace v1 = ::makegood::v1;
using ::makegood::policy::DefaultPolicyConfig;
using ::makegood::policy::PolicyConfig;
using ::makegood::policy::Violation;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

::testing::Matcher<Violation> Names(const std::string& field,
                                    const std::string& text) {
  return AllOf(Field(&Violation::field, field),
               Field(&Violation::message, HasSubstr(text)));
}

// The default policy's EUR market as a one-market document: what tests that
// change money start from.
v1::Policy DefaultDocument() {
  return FromPolicyConfig(
      policy::ForCurrency(DefaultPolicyConfig(), "EUR").value());
}

// ---- Round trips
// -------------------------------------------------------------

TEST(PolicyConvert, DefaultConfigRoundTrips) {
  absl::StatusOr<PolicyConfig> config =
      ToPolicyConfig(FromPolicyConfig(DefaultPolicyConfig()));
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(*config == DefaultPolicyConfig());
  // And its one-market view.
  absl::StatusOr<PolicyConfig> eur = ToPolicyConfig(DefaultDocument());
  ASSERT_TRUE(eur.ok()) << eur.status();
  EXPECT_TRUE(*eur ==
              policy::ForCurrency(DefaultPolicyConfig(), "EUR").value());
}

TEST(PolicyConvert, EveryEnumValueAndSubSecondDurationsRoundTrip) {
  PolicyConfig config = DefaultPolicyConfig();
  config.reason_rules.push_back({.reason = policy::Reason::kOther,
                                 .effect = policy::RuleEffect::kReplaceLine,
                                 .categories = {"produce"},
                                 .coupon_minor = 0,
                                 .instead_of_curve = false,
                                 .feedback = policy::FeedbackTarget::kNone});
  config.prefer_wallet = true;
  config.tiers[0].curve_scale_percent = 0;
  config.follow_ups.repeat_window = absl::Milliseconds(1500);
  config.rating_window = absl::Hours(36) + absl::Nanoseconds(7);
  ASSERT_THAT(policy::Validate(config), IsEmpty());

  const v1::Policy document = FromPolicyConfig(config);
  EXPECT_EQ(document.reason_rules(7).effect(), v1::RULE_EFFECT_REPLACE_LINE);
  EXPECT_EQ(document.reason_rules(7).feedback(), v1::FEEDBACK_TARGET_NONE);
  EXPECT_EQ(document.rating_window().seconds(), 36 * 3600);
  EXPECT_EQ(document.rating_window().nanos(), 7);
  absl::StatusOr<PolicyConfig> back = ToPolicyConfig(document);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_TRUE(*back == config);
}

TEST(PolicyConvert, AnAbsentCurveScaleMeansTheFullCurve) {
  v1::Policy document = DefaultDocument();
  document.mutable_tiers(0)->clear_curve_scale_percent();
  absl::StatusOr<PolicyConfig> config = ToPolicyConfig(document);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tiers[0].curve_scale_percent, 100);
}

TEST(PolicyConvert, AnExplicitZeroCurveScaleIsKept) {
  v1::Policy document = DefaultDocument();
  document.mutable_tiers(0)->set_curve_scale_percent(0);
  absl::StatusOr<PolicyConfig> config = ToPolicyConfig(document);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->tiers[0].curve_scale_percent, 0);
}

// ---- Document-level violations name their field --------------------------

TEST(PolicyViolations, ValidDocumentHasNone) {
  EXPECT_THAT(PolicyViolations(DefaultDocument()), IsEmpty());
}

TEST(PolicyViolations, UnsetReasonIsNamedOnce) {
  v1::Policy document = DefaultDocument();
  document.mutable_reason_rules(1)->set_reason(v1::REASON_UNSPECIFIED);
  EXPECT_THAT(PolicyViolations(document),
              ElementsAre(Names("reason_rules[1].reason",
                                "must be set (REASON_UNSPECIFIED")));
}

TEST(PolicyViolations, UnknownReasonNumberIsNamed) {
  v1::Policy document = DefaultDocument();
  document.mutable_reason_rules(0)->set_reason(static_cast<v1::Reason>(99));
  EXPECT_THAT(PolicyViolations(document),
              ElementsAre(Names("reason_rules[0].reason", "unknown value 99")));
}

TEST(PolicyViolations, UnsetEffectIsNamedWithoutKnockOnErrors) {
  v1::Policy document = DefaultDocument();
  // The coupon rule: without an effect its coupon_minor would look wrong too.
  document.mutable_reason_rules(6)->set_effect(v1::RULE_EFFECT_UNSPECIFIED);
  EXPECT_THAT(PolicyViolations(document),
              ElementsAre(Names("reason_rules[6].effect",
                                "must be set (RULE_EFFECT_UNSPECIFIED")));
}

TEST(PolicyViolations, UnsetFeedbackPointsToFeedbackTargetNone) {
  v1::Policy document = DefaultDocument();
  document.mutable_reason_rules(2)->set_feedback(
      v1::FEEDBACK_TARGET_UNSPECIFIED);
  EXPECT_THAT(PolicyViolations(document),
              ElementsAre(Names("reason_rules[2].feedback",
                                "FEEDBACK_TARGET_NONE for nobody")));
}

TEST(PolicyViolations, MissingSectionsAreRequiredOnceEach) {
  v1::Policy document = DefaultDocument();
  document.clear_trust();
  document.clear_thresholds();
  document.clear_follow_ups();
  document.clear_rating_window();
  // Not also trust.refund_money_step_minor or rating_window "must be
  // positive": those follow from the missing sections.
  EXPECT_THAT(PolicyViolations(document),
              ElementsAre(Names("trust", "is required"),
                          Names("thresholds", "is required"),
                          Names("follow_ups", "is required"),
                          Names("rating_window", "is required")));
}

TEST(PolicyViolations, MalformedDurationsAreNamed) {
  v1::Policy document = DefaultDocument();
  document.mutable_rating_window()->set_nanos(2'000'000'000);
  document.mutable_follow_ups()->mutable_repeat_window()->set_seconds(60);
  document.mutable_follow_ups()->mutable_repeat_window()->set_nanos(-1);
  EXPECT_THAT(
      PolicyViolations(document),
      ElementsAre(Names("follow_ups.repeat_window", "not a valid duration"),
                  Names("rating_window", "not a valid duration")));
}

TEST(PolicyViolations, AnAbsentRepeatWindowDisablesTheRule) {
  v1::Policy document = DefaultDocument();
  document.mutable_follow_ups()->clear_repeat_window();
  absl::StatusOr<PolicyConfig> config = ToPolicyConfig(document);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->follow_ups.repeat_window, absl::ZeroDuration());
}

// ---- Engine violations keep their textproto paths --------------------------

TEST(PolicyViolations, EngineViolationsNameNestedFields) {
  v1::Policy document = DefaultDocument();
  document.mutable_tiers(1)->mutable_instant_budget()->set_capacity_minor(-1);
  document.mutable_curve(2)->set_refund_percent(101);
  document.mutable_trust()->mutable_flag_weights(0)->set_flag("Chargeback");
  document.mutable_thresholds()->set_partial_instant_percent(150);
  document.mutable_reason_rules(0)->add_categories("Frozen Food");
  EXPECT_THAT(
      PolicyViolations(document),
      ElementsAre(Names("tiers[1].instant_budget.capacity_minor", "negative"),
                  Names("tiers[1].instant_budget.initial_minor", "[0, 0]"),
                  Names("curve[2].refund_percent", "[0, 100]"),
                  Names("curve[2].refund_percent", "previous point"),
                  Names("reason_rules[0].categories[0]", "[a-z0-9_-]"),
                  Names("trust.flag_weights[0].flag", "[a-z0-9_]"),
                  Names("thresholds.partial_instant_percent", "[0, 100]")));
}

TEST(PolicyViolations, DocumentAndEngineViolationsComeTogetherInFieldOrder) {
  v1::Policy document = DefaultDocument();
  document.set_currency("euro");                    // engine, field 3
  document.mutable_tiers(0)->set_base_trust(5000);  // engine, field 2
  document.mutable_reason_rules(3)->set_effect(     // document, field 5
      v1::RULE_EFFECT_UNSPECIFIED);
  document.clear_rating_window();           // document, field 12
  document.set_low_rating_max_percent(-1);  // engine, field 10
  EXPECT_THAT(PolicyViolations(document),
              ElementsAre(Names("tiers[0].base_trust", "[0, 1000]"),
                          Names("currency", "ISO 4217"),
                          Names("reason_rules[3].effect", "must be set"),
                          Names("low_rating_max_percent", "[0, 100]"),
                          Names("rating_window", "is required")));
}

TEST(ToPolicyConfig, RefusesAnInvalidDocumentListingEveryViolation) {
  v1::Policy document = DefaultDocument();
  document.mutable_reason_rules(0)->set_effect(v1::RULE_EFFECT_UNSPECIFIED);
  document.mutable_tiers(2)->set_max_refund_per_order_minor(-5);
  absl::StatusOr<PolicyConfig> config = ToPolicyConfig(document);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(config.status().message(),
            "tiers[2].max_refund_per_order_minor: must not be negative; "
            "reason_rules[0].effect: must be set (RULE_EFFECT_UNSPECIFIED is "
            "not a value)");
}

}  // namespace
}  // namespace makegood::policy_proto
