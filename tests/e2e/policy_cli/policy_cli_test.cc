// The makegood_policy binary, run as staff would run it, on temporary files.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

namespace fs = std::filesystem;
using ::makegood::testing::CommandResult;
using ::makegood::testing::RunCommand;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = MAKEGOOD_POLICY_BINARY;
const std::string kDefaultPolicy =
    std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A trusted premium member rates a melted ice cream (6.00) at 50 %; a new
// basic member says the delivery was late (fee 2.99).
constexpr char kCasesJsonLines[] = R"json(
# one makegood.v1.SimulationCase per line
{"caseId": "melted", "member": {"memberId": "m1", "tier": "premium", "memberSince": "2020-11-14T00:00:00Z", "flags": ["verified"]}, "history": {"deliveredOrders": 120, "spend90dMinor": 40000}, "order": {"orderId": "o1", "storeId": "s1", "courierId": "c1", "currency": "EUR", "totalMinor": 1199, "deliveryFeeMinor": 299, "deliveredAt": "2023-11-14T21:00:00Z", "paymentMethod": "PAYMENT_METHOD_CARD", "lines": [{"lineId": "l1", "sku": "ice", "category": "frozen", "quantity": 1, "amountMinor": 600}, {"lineId": "l2", "sku": "bread", "category": "bakery", "quantity": 1, "amountMinor": 300}]}, "rating": {"satisfactionPercent": 50, "lineRatings": [{"lineId": "l1", "satisfactionPercent": 50, "reasons": ["REASON_MELTED_OR_WARM"]}]}}
{"caseId": "late", "member": {"memberId": "m2", "tier": "basic", "memberSince": "2023-11-12T00:00:00Z"}, "order": {"orderId": "o2", "storeId": "s1", "courierId": "c1", "currency": "EUR", "totalMinor": 1199, "deliveryFeeMinor": 299, "deliveredAt": "2023-11-14T21:00:00Z", "paymentMethod": "PAYMENT_METHOD_CARD", "lines": [{"lineId": "l1", "sku": "ice", "category": "frozen", "quantity": 1, "amountMinor": 600}]}, "rating": {"satisfactionPercent": 30, "reasons": ["REASON_LATE"]}}
)json";

constexpr char kCasesTextproto[] = R"pb(
  cases {
    case_id: "ok"
    member {
      member_id: "m2"
      tier: "basic"
      member_since { seconds: 1699900000 }
    }
    order {
      order_id: "o2"
      store_id: "s1"
      currency: "EUR"
      total_minor: 1000
      delivered_at { seconds: 1700000000 }
      payment_method: PAYMENT_METHOD_CASH
      lines { line_id: "l1" sku: "x" quantity: 1 amount_minor: 1000 }
    }
    rating { satisfaction_percent: 100 }
  }
  cases {
    case_id: "bad"
    member { member_id: "m2" tier: "basic" }
    order { order_id: "o3" currency: "EUR" }
    rating {}
  }
)pb";

class PolicyCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat(
               "policy_cli_", ::getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& text) {
    const std::string path = (dir_ / name).string();
    std::ofstream(path, std::ios::trunc) << text;
    return path;
  }

  // The default policy, with premium members capped at 5.00 per order.
  std::string CandidatePolicy() {
    return WriteFile(
        "candidate.textproto",
        absl::StrReplaceAll(ReadAll(kDefaultPolicy),
                            {{"name: \"default\"", "name: \"capped\""},
                             {"max_refund_per_order_minor: 15000",
                              "max_refund_per_order_minor: 500"}}));
  }

  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), kBinary);
    absl::StatusOr<CommandResult> result = RunCommand(args);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  fs::path dir_;
};

TEST_F(PolicyCliTest, ValidateAcceptsTheShippedPolicy) {
  CommandResult r = Run({"validate", kDefaultPolicy});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr(kDefaultPolicy + ": valid (default@"));
}

TEST_F(PolicyCliTest, ValidateListsEveryProblemByField) {
  const std::string path = WriteFile(
      "bad.textproto",
      absl::StrReplaceAll(ReadAll(kDefaultPolicy),
                          {{"base_trust: 500", "base_trust: 5000"},
                           {"effect: RULE_EFFECT_REFUND_DELIVERY_FEE\n", ""}}));
  CommandResult r = Run({"validate", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr(path + ": tiers[0].base_trust: must be in [0, 1000]"));
  EXPECT_THAT(r.output,
              HasSubstr(path + ": reason_rules[5].effect: must be set"));
  EXPECT_THAT(r.output, HasSubstr(path + ": 2 problems"));
}

TEST_F(PolicyCliTest, ValidateReportsTheLineOfASyntaxError) {
  const std::string path =
      WriteFile("broken.textproto", "name: \"x\"\ntiers { nme: \"basic\" }\n");
  CommandResult r = Run({"validate", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("2:12: "));
}

TEST_F(PolicyCliTest, MisuseExitsWithUsage) {
  EXPECT_EQ(Run({}).exit_code, 2);
  EXPECT_EQ(Run({"validate"}).exit_code, 2);
  EXPECT_EQ(Run({"frobnicate"}).exit_code, 2);
  CommandResult r = Run({"simulate", "--policy=x"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--cases is required"));
}

TEST_F(PolicyCliTest, SimulateComparesAPolicyChangeCaseByCase) {
  const std::string cases = WriteFile("cases.jsonl", kCasesJsonLines);
  CommandResult r = Run({"simulate", "--policy=" + CandidatePolicy(),
                         "--cases=" + cases, "--against=" + kDefaultPolicy});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cases: 2 read, 2 decided, 0 failed"));
  EXPECT_THAT(r.output, HasSubstr("OUTCOME_REFUND"));
  // Money: 5.00 + 2.99 under the candidate, 6.00 + 2.99 before.
  EXPECT_THAT(r.output, HasSubstr("\u20AC7.99"));
  EXPECT_THAT(r.output, HasSubstr("\u20AC8.99"));
  EXPECT_THAT(r.output, HasSubstr("differences: 1\n  case melted\n"));
  EXPECT_THAT(r.output, HasSubstr("against: OUTCOME_REFUND: \u20AC6.00 now "
                                  "(INSTRUMENT_ORIGINAL_PAYMENT) "
                                  "[melted_or_warm_full_line]"));
  EXPECT_THAT(r.output, HasSubstr("policy:  OUTCOME_REFUND: \u20AC5.00 now "
                                  "(INSTRUMENT_ORIGINAL_PAYMENT) "
                                  "[melted_or_warm_full_line, "
                                  "order_cap_reached]"));
  EXPECT_THAT(r.output, Not(HasSubstr("case late")));
}

TEST_F(PolicyCliTest, SimulateReadsTextprotoCasesAndReportsBadOnes) {
  const std::string cases = WriteFile("cases.textproto", kCasesTextproto);
  CommandResult r =
      Run({"simulate", "--policy=" + kDefaultPolicy, "--cases=" + cases});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cases: 2 read, 1 decided, 1 failed"));
  EXPECT_THAT(r.output, HasSubstr("OUTCOME_NO_ACTION"));
  EXPECT_THAT(r.output, Not(HasSubstr("differences:")));
  EXPECT_THAT(r.output,
              HasSubstr("error: case 2 (bad): rating.satisfaction_percent: is "
                        "required"));
}

TEST_F(PolicyCliTest, SimulateRefusesAnInvalidPolicyNamingTheField) {
  const std::string policy = WriteFile(
      "bad.textproto",
      absl::StrReplaceAll(ReadAll(kDefaultPolicy),
                          {{"currency: \"EUR\"", "currency: \"euro\""}}));
  const std::string cases = WriteFile("cases.jsonl", kCasesJsonLines);
  CommandResult r = Run({"simulate", "--policy=" + policy, "--cases=" + cases});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("currency: must be an ISO 4217 code"));
}

}  // namespace
}  // namespace makegood
