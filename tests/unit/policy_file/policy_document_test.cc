#include "services/policy_file/policy_document.h"

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "makegood/v1/policy.pb.h"
#include "services/policy/markets.h"
#include "services/policy/policy_config.h"
#include "services/policy_proto/policy_convert.h"

namespace makegood::policy_file {
namespace {

namespace v1 = ::makegood::v1;
using ::google::protobuf::util::MessageDifferencer;
using ::makegood::policy::DefaultPolicyConfig;
using ::makegood::policy::PolicyConfig;
using ::makegood::policy_proto::FromPolicyConfig;
using ::makegood::policy_proto::ToPolicyConfig;
using makegood::v1::Policy;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::MatchesRegex;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);

// Only a name and tier names: not a valid policy since the document carries
// the whole engine config, but enough to pin versions.
Policy NameAndTiersOnly(const std::string& name,
                        const std::vector<std::string>& tiers) {
  Policy policy;
  policy.set_name(name);
  for (const std::string& tier : tiers) policy.add_tiers()->set_name(tier);
  return policy;
}

// The default policy's EUR market as a one-market document.
Policy EurDocument() {
  return FromPolicyConfig(
      policy::ForCurrency(policy::DefaultPolicyConfig(), "EUR").value());
}

// The default policy's EUR market with this name and these tiers (named only,
// with every other tier setting zero, which is valid).
Policy MakePolicy(const std::string& name,
                  const std::vector<std::string>& tiers) {
  Policy policy = EurDocument();
  policy.clear_tiers();
  policy.MergeFrom(NameAndTiersOnly(name, tiers));
  policy.set_name(name);
  return policy;
}

Policy Parse(const std::string& text) {
  absl::StatusOr<Policy> policy = ParsePolicyText(text);
  EXPECT_TRUE(policy.ok()) << policy.status();
  return policy.ok() ? *policy : Policy();
}

::testing::Matcher<PolicyViolation> Violation(const std::string& field,
                                              const std::string& text) {
  return AllOf(Field(&PolicyViolation::field, field),
               Field(&PolicyViolation::description, HasSubstr(text)));
}

std::string DefaultPolicyPath() {
  return std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";
}

v1::Policy DefaultDocument() { return FromPolicyConfig(DefaultPolicyConfig()); }

// "" when equal, else what differs, field by field.
std::string Differences(const v1::Policy& a, const v1::Policy& b) {
  std::string report;
  MessageDifferencer differencer;
  differencer.ReportDifferencesToString(&report);
  differencer.Compare(a, b);
  return report;
}

// ---- Parsing --------------------------------------------------------------

TEST(ParsePolicyText, ReadsNameAndTiers) {
  Policy policy = Parse(R"pb(
    # comments are allowed
    name: "default"
    tiers { name: "basic" }
    tiers { name: "plus" }
  )pb");
  EXPECT_EQ(policy.name(), "default");
  ASSERT_EQ(policy.tiers_size(), 2);
  EXPECT_EQ(policy.tiers(1).name(), "plus");
}

TEST(ParsePolicyText, ReportsSyntaxErrorsWithOneBasedLineAndColumn) {
  absl::StatusOr<Policy> policy =
      ParsePolicyText("name: \"default\"\ntiers { name: }\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(policy.status().message()),
              StartsWith("policy does not parse: 2:15: "));
}

TEST(ParsePolicyText, RefusesUnknownFieldsNamingThem) {
  absl::StatusOr<Policy> policy =
      ParsePolicyText("name: \"default\"\n  refund_everything: true\n");
  ASSERT_FALSE(policy.ok());
  EXPECT_EQ(policy.status().code(), absl::StatusCode::kInvalidArgument);
  // Protobuf reports an unknown field at the token after its name.
  EXPECT_THAT(std::string(policy.status().message()), HasSubstr("2:20: "));
  EXPECT_THAT(std::string(policy.status().message()),
              HasSubstr("refund_everything"));
}

// ---- Validation -----------------------------------------------------------

TEST(ValidatePolicy, AcceptsAValidPolicy) {
  EXPECT_THAT(ValidatePolicy(MakePolicy("default", {"basic", "plus"})),
              IsEmpty());
}

TEST(ValidatePolicy, RequiresANameAndATier) {
  EXPECT_THAT(ValidatePolicy(MakePolicy("", {})),
              ElementsAre(Violation("name", "must be 1-64 characters"),
                          Violation("tiers", "at least one tier")));
}

TEST(ValidatePolicy, RefusesANameOutsideTheTokenAlphabetOrTooLong) {
  for (const std::string& name :
       {std::string("Default"), std::string("my policy"),
        std::string(65, 'p')}) {
    EXPECT_THAT(ValidatePolicy(MakePolicy(name, {"basic"})),
                ElementsAre(Violation("name", "[a-z0-9_-]")))
        << name;
  }
  EXPECT_THAT(ValidatePolicy(MakePolicy(std::string(64, 'p'), {"basic"})),
              IsEmpty());
}

TEST(ValidatePolicy, NamesTheTierWithABadName) {
  EXPECT_THAT(
      ValidatePolicy(MakePolicy("default", {"basic", "Plus", "", "ok"})),
      ElementsAre(Violation("tiers[1].name", "1-32 characters of [a-z0-9_-]"),
                  Violation("tiers[2].name", "1-32 characters")));
  EXPECT_THAT(ValidatePolicy(MakePolicy("default", {std::string(33, 't')})),
              ElementsAre(Violation("tiers[0].name", "1-32 characters")));
  EXPECT_THAT(ValidatePolicy(MakePolicy("default", {std::string(32, 't')})),
              IsEmpty());
}

TEST(ValidatePolicy, NamesTheRepeatedTier) {
  EXPECT_THAT(
      ValidatePolicy(MakePolicy("default", {"plus", "plus"})),
      ElementsAre(Violation("tiers[1].name", "duplicate tier \"plus\"")));
}

TEST(BuildPolicySnapshot, RefusesAnInvalidPolicyListingEveryViolation) {
  absl::StatusOr<PolicySnapshot> snapshot =
      BuildPolicySnapshot(MakePolicy("Bad Name", {"plus", "plus"}), kNow);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(snapshot.status().message()),
              HasSubstr("name: must be"));
  EXPECT_THAT(std::string(snapshot.status().message()),
              HasSubstr("tiers[1].name: duplicate tier \"plus\""));
}

TEST(BuildPolicySnapshot, HoldsPolicyVersionTimeAndTiers) {
  absl::StatusOr<PolicySnapshot> snapshot =
      BuildPolicySnapshot(MakePolicy("default", {"basic", "plus"}), kNow);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->policy.name(), "default");
  EXPECT_EQ(snapshot->version,
            PolicyVersion(MakePolicy("default", {"basic", "plus"})));
  EXPECT_EQ(snapshot->loaded_at, kNow);
  EXPECT_THAT(snapshot->tier_names, UnorderedElementsAre("basic", "plus"));
  EXPECT_TRUE(snapshot->HasTier("plus"));
  EXPECT_FALSE(snapshot->HasTier("premium"));
  EXPECT_FALSE(snapshot->HasTier("Plus"));
}

// ---- Versions -------------------------------------------------------------

TEST(PolicyVersion, IsNameAtTwelveHexDigits) {
  EXPECT_THAT(PolicyVersion(MakePolicy("default", {"basic"})),
              MatchesRegex("default@[0-9a-f]{12}"));
}

// Versions are recorded on every decision: a change of the hash or of the
// canonical bytes would make equal policies look different.
TEST(PolicyVersion, IsPinnedToSha256OfTheCanonicalBytes) {
  EXPECT_EQ(
      PolicyVersion(NameAndTiersOnly("default", {"basic", "plus", "premium"})),
      "default@28074477738a");
  EXPECT_EQ(PolicyVersion(NameAndTiersOnly("test", {"basic"})),
            "test@44a41556deaa");
}

TEST(PolicyVersion, IsEqualForEqualContentWrittenDifferently) {
  Policy compact = Parse(R"pb(name: "p"
                              tiers { name: "a" }
                              tiers { name: "b" })pb");
  Policy spaced = Parse(R"pb(
    # the same policy, commented and spread out
    tiers: { name: 'a' }
    name: "p"
    tiers < name: "b" >
  )pb");
  EXPECT_EQ(PolicyVersion(compact), PolicyVersion(spaced));
}

TEST(PolicyVersion, ChangesWhenContentChanges) {
  const std::string base = PolicyVersion(MakePolicy("p", {"a", "b"}));
  EXPECT_NE(PolicyVersion(MakePolicy("p", {"a", "b", "c"})), base);
  EXPECT_NE(PolicyVersion(MakePolicy("p", {"b", "a"})), base);
  EXPECT_NE(PolicyVersion(MakePolicy("p", {"a", "bb"})), base);
  std::string renamed = PolicyVersion(MakePolicy("q", {"a", "b"}));
  EXPECT_THAT(renamed, StartsWith("q@"));
  EXPECT_NE(renamed.substr(2), base.substr(2));
}

// ---- Files ----------------------------------------------------------------

TEST(LoadPolicyFile, LoadsTheShippedDefaultPolicy) {
  absl::StatusOr<PolicySnapshot> snapshot =
      LoadPolicyFile(DefaultPolicyPath(), kNow);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->policy.name(), "default");
  ASSERT_EQ(snapshot->policy.tiers_size(), 3);
  EXPECT_EQ(snapshot->policy.tiers(0).name(), "basic");
  EXPECT_EQ(snapshot->policy.tiers(1).name(), "plus");
  EXPECT_EQ(snapshot->policy.tiers(2).name(), "premium");
  EXPECT_THAT(snapshot->tier_names,
              UnorderedElementsAre("basic", "plus", "premium"));
  EXPECT_THAT(snapshot->version, MatchesRegex("default@[0-9a-f]{12}"));
  EXPECT_EQ(snapshot->version, PolicyVersion(snapshot->policy));
  EXPECT_EQ(snapshot->loaded_at, kNow);
}

TEST(LoadPolicyFile, ReportsAMissingFileAsNotFoundNamingThePath) {
  const std::string path = ::testing::TempDir() + "/no-such-policy.textproto";
  absl::StatusOr<PolicySnapshot> snapshot = LoadPolicyFile(path, kNow);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(snapshot.status().message()), HasSubstr(path));
}

TEST(LoadPolicyFile, NamesTheFileAndLineOfASyntaxError) {
  const std::string path = ::testing::TempDir() + "/broken-policy.textproto";
  {
    std::ofstream out(path, std::ios::trunc);
    out << "name: \"x\"\ntiers { nam: \"basic\" }\n";
  }
  absl::StatusOr<PolicySnapshot> snapshot = LoadPolicyFile(path, kNow);
  std::remove(path.c_str());
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(snapshot.status().message()),
              StartsWith(path + ": "));
  EXPECT_THAT(std::string(snapshot.status().message()), HasSubstr("2:12: "));
  EXPECT_THAT(std::string(snapshot.status().message()), HasSubstr("nam"));
}

TEST(LoadPolicyFile, NamesTheFileAndFieldOfAnInvalidPolicy) {
  const std::string path = ::testing::TempDir() + "/invalid-policy.textproto";
  {
    std::ofstream out(path, std::ios::trunc);
    out << "name: \"x\"\ntiers { name: \"a\" }\ntiers { name: \"a\" }\n";
  }
  absl::StatusOr<PolicySnapshot> snapshot = LoadPolicyFile(path, kNow);
  std::remove(path.c_str());
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(snapshot.status().message()),
              StartsWith(path + ": "));
  EXPECT_THAT(std::string(snapshot.status().message()),
              HasSubstr("tiers[1].name"));
}

// ---- The shipped sample policy ---------------------------------------------

TEST(SamplePolicy, IsExactlyTheDefaultConfig) {
  absl::StatusOr<PolicySnapshot> snapshot =
      LoadPolicyFile(DefaultPolicyPath(), kNow);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  // Field by field, with a readable diff if they drift apart.
  EXPECT_EQ(Differences(snapshot->policy, DefaultDocument()), "");
  absl::StatusOr<PolicyConfig> config = ToPolicyConfig(snapshot->policy);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(*config == DefaultPolicyConfig());
  // The engine runs what the file says.
  EXPECT_TRUE(snapshot->engine->config() == DefaultPolicyConfig());
  EXPECT_EQ(snapshot->engine->version(), snapshot->version);
  EXPECT_EQ(snapshot->version, PolicyVersion(DefaultDocument()));
}

TEST(BuildPolicySnapshot, BuildsTheEngineFromTheDocument) {
  v1::Policy document = EurDocument();
  document.mutable_tiers(2)->set_max_refund_per_order_minor(1'00);
  document.set_prefer_wallet(true);
  absl::StatusOr<PolicySnapshot> snapshot = BuildPolicySnapshot(document, kNow);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->engine->config().tiers[2].max_refund_per_order_minor,
            1'00);
  EXPECT_TRUE(snapshot->engine->config().prefer_wallet);
}

TEST(SamplePolicy, TheSingleMarketSampleValidatesAndServesWon) {
  absl::StatusOr<PolicySnapshot> snapshot =
      LoadPolicyFile(std::string(MAKEGOOD_SOURCE_DIR) +
                         "/config/policy/single_market_krw.textproto",
                     kNow);
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  const PolicyConfig& config = snapshot->engine->config();
  EXPECT_EQ(config.currency, "KRW");
  EXPECT_EQ(config.locale, "ko-KR");
  EXPECT_TRUE(config.markets.empty());
  EXPECT_EQ(policy::ServedCurrencies(config), std::vector<std::string>{"KRW"});
  // Its money is the default policy's KRW market, its rules the default's.
  PolicyConfig krw = policy::ForCurrency(DefaultPolicyConfig(), "KRW").value();
  krw.name = "korea";
  EXPECT_TRUE(config == krw);
}

TEST(SamplePolicy, NamesAMarketFieldOfTheDocumentByPath) {
  v1::Policy document = DefaultDocument();
  document.mutable_markets(1)
      ->mutable_tiers(0)
      ->mutable_instant_budget()
      ->set_capacity_minor(-1);
  document.mutable_markets(2)->mutable_coupons(0)->set_reason(
      v1::REASON_UNSPECIFIED);
  document.mutable_excluded_answers(1)->set_answer(
      v1::EXCLUDED_ANSWER_KIND_UNSPECIFIED);
  document.set_currency("EUR");  // both forms at once
  std::vector<std::string> fields;
  for (const PolicyViolation& v : ValidatePolicy(document)) {
    fields.push_back(v.field);
  }
  EXPECT_THAT(fields,
              ElementsAre("currency",
                          "markets[1].tiers[0].instant_budget.capacity_minor",
                          "markets[1].tiers[0].instant_budget.initial_minor",
                          "markets[2].coupons[0].reason",
                          "excluded_answers[1].answer"));
}

// ---- Document and engine violations together -----------------------------

TEST(ValidatePolicy, ReportsDocumentAndEngineViolations) {
  v1::Policy document = DefaultDocument();
  document.mutable_reason_rules(0)->set_reason(v1::REASON_UNSPECIFIED);
  document.mutable_tiers(0)->set_curve_scale_percent(120);
  const std::vector<PolicyViolation> violations = ValidatePolicy(document);
  ASSERT_EQ(violations.size(), 2u);
  EXPECT_EQ(violations[0].field, "tiers[0].curve_scale_percent");
  EXPECT_EQ(violations[1].field, "reason_rules[0].reason");
}

TEST(LoadPolicyFile, NamesTheFieldOfAnUnsetEnumInTheFile) {
  absl::StatusOr<PolicySnapshot> snapshot = BuildPolicySnapshotFromText(
      R"pb(name: "x"
           currency: "EUR"
           tiers { name: "basic" }
           curve { satisfaction_percent: 0 refund_percent: 100 }
           curve { satisfaction_percent: 100 refund_percent: 0 }
           reason_rules { reason: REASON_LATE feedback: FEEDBACK_TARGET_NONE }
           trust { refund_money_step_minor: 1 }
           thresholds {}
           follow_ups {}
           rating_window { seconds: 60 })pb",
      "policy.textproto", kNow);
  ASSERT_FALSE(snapshot.ok());
  EXPECT_EQ(snapshot.status().message(),
            "policy.textproto: invalid policy: reason_rules[0].effect: must be "
            "set (RULE_EFFECT_UNSPECIFIED is not a value)");
}

// ---- ActivePolicy ---------------------------------------------------------

PolicySnapshot Snapshot(const std::string& name) {
  absl::StatusOr<PolicySnapshot> snapshot =
      BuildPolicySnapshot(MakePolicy(name, {"basic"}), kNow);
  EXPECT_TRUE(snapshot.ok()) << snapshot.status();
  return *snapshot;
}

TEST(ActivePolicy, GetReturnsTheInitialPolicy) {
  ActivePolicy active(Snapshot("first"));
  EXPECT_EQ(active.Get()->policy.name(), "first");
  EXPECT_EQ(active.Get(), active.Get());
}

TEST(ActivePolicy, SetSwapsWhileAnOldSnapshotStaysValid) {
  ActivePolicy active(Snapshot("first"));
  std::shared_ptr<const PolicySnapshot> old = active.Get();
  const std::string old_version = old->version;

  active.Set(Snapshot("second"));

  std::shared_ptr<const PolicySnapshot> now = active.Get();
  EXPECT_EQ(now->policy.name(), "second");
  EXPECT_NE(now, old);
  // The reader holding the old snapshot still sees it whole.
  EXPECT_EQ(old->policy.name(), "first");
  EXPECT_EQ(old->version, old_version);
  EXPECT_TRUE(old->HasTier("basic"));
  EXPECT_EQ(old.use_count(), 1);
}

}  // namespace
}  // namespace makegood::policy_file
