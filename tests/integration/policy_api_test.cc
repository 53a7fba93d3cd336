// MemberService.GetTrust and PolicyService.SimulatePolicy through gRPC
// against real Redis: the trust report before and after refunds, simulation
// of given cases and of recorded decisions, refusals that name the field,
// and simulations that leave Redis untouched.
#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/time_util.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/grpc_status.h"

namespace makegood {
namespace {

using ::google::protobuf::util::TimeUtil;
using ::makegood::testing::AppHarness;
using ::makegood::testing::MeltedRating;
using ::makegood::testing::ViolatedFields;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::StartsWith;

google::protobuf::Timestamp Ts(absl::Time t) {
  return TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(t));
}

int64_t Money(const v1::SimulationSummary& s) {
  auto it = s.refunded_minor().find("EUR");
  return it == s.refunded_minor().end() ? 0 : it->second;
}

int64_t Count(const v1::SimulationSummary& s, v1::Outcome outcome) {
  auto it = s.outcomes().find(v1::Outcome_Name(outcome));
  return it == s.outcomes().end() ? 0 : it->second;
}

// The active policy made stingier: no reason rules (melted goods follow the
// curve) and every tier gets half the curve's refund.
v1::Policy Stingy(v1::Policy policy) {
  policy.clear_reason_rules();
  // Without the coupon rule, no market gives its coupon.
  for (v1::Market& market : *policy.mutable_markets()) market.clear_coupons();
  for (v1::Tier& tier : *policy.mutable_tiers()) {
    tier.set_curve_scale_percent(50);
  }
  return policy;
}

class PolicyApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto h = AppHarness::Create();
    ASSERT_TRUE(h.ok()) << h.status();
    h_ = *std::move(h);
    ASSERT_TRUE(h_->StartApp().ok());
  }

  absl::Time Now() { return h_->clock().Now(); }

  grpc::Status GetTrust(const std::string& member_id, v1::TrustReport* out) {
    grpc::ClientContext context;
    v1::GetTrustRequest request;
    request.set_member_id(member_id);
    v1::GetTrustResponse response;
    grpc::Status s =
        h_->stubs().members->GetTrust(&context, request, &response);
    *out = response.trust();
    return s;
  }

  v1::GetPolicyResponse ActivePolicy() {
    grpc::ClientContext context;
    v1::GetPolicyResponse response;
    EXPECT_TRUE(h_->stubs().policies->GetPolicy(&context, {}, &response).ok());
    return response;
  }

  grpc::Status Simulate(const v1::SimulatePolicyRequest& request,
                        v1::SimulatePolicyResponse* response) {
    grpc::ClientContext context;
    return h_->stubs().policies->SimulatePolicy(&context, request, response);
  }

  v1::SubmitRatingResponse Rate(const v1::SubmitRatingRequest& request) {
    grpc::ClientContext context;
    v1::SubmitRatingResponse response;
    grpc::Status s =
        h_->stubs().ratings->SubmitRating(&context, request, &response);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return response;
  }

  // A recorded window around now, holding every rating the test made.
  v1::RecordedWindow WindowAroundNow() {
    v1::RecordedWindow w;
    *w.mutable_start_time() = Ts(Now() - absl::Hours(1));
    *w.mutable_end_time() = Ts(Now() + absl::Hours(1));
    return w;
  }

  // Three members rate an order each (melted line, 50 %): three instant
  // refunds of 1200 under the sample policy.
  std::vector<std::string> SubmitThreeRatings() {
    std::vector<std::string> ids;
    for (int i = 1; i <= 3; ++i) {
      const std::string member = absl::StrCat("m-", i);
      const std::string order = absl::StrCat("o-", i);
      EXPECT_TRUE(h_->UpsertMember(member).ok());
      EXPECT_TRUE(h_->RecordOrder(member, order).ok());
      v1::SubmitRatingResponse r =
          Rate(MeltedRating(absl::StrCat("k-", i), member, order));
      EXPECT_EQ(r.decision().outcome(), v1::OUTCOME_REFUND);
      ids.push_back(r.rating_id());
    }
    return ids;
  }

  // How often Redis has run `command` (also from inside scripts).
  int64_t Calls(const std::string& command) {
    auto info = h_->Redis({"INFO", "commandstats"});
    if (!info.ok()) return -1;
    const std::string needle = "cmdstat_" + command + ":calls=";
    size_t at = info->str.find(needle);
    if (at == std::string::npos) return 0;
    at += needle.size();
    int64_t calls = 0;
    return absl::SimpleAtoi(info->str.substr(at, info->str.find(',', at) - at),
                            &calls)
               ? calls
               : -1;
  }

  std::unique_ptr<AppHarness> h_;
};

// ---- GetTrust ---------------------------------------------------------------

TEST_F(PolicyApiTest, GetTrustOfAFreshMemberExplainsEveryPoint) {
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  v1::TrustReport trust;
  grpc::Status s = GetTrust("m-1", &trust);
  ASSERT_TRUE(s.ok()) << s.error_message();

  EXPECT_EQ(trust.member_id(), "m-1");
  EXPECT_EQ(trust.tier(), "premium");
  EXPECT_EQ(trust.currency(), "EUR");
  EXPECT_EQ(trust.policy_version(), ActivePolicy().version());
  EXPECT_GT(trust.score(), 0);
  EXPECT_LE(trust.score(), 1000);
  std::vector<std::string> names;
  int sum = 0;
  for (const v1::TrustFactor& f : trust.factors()) {
    names.push_back(f.name());
    EXPECT_FALSE(f.detail().empty()) << f.name();
    sum += f.contribution();
  }
  EXPECT_THAT(names, Contains("tier"));
  EXPECT_THAT(names, Contains("tenure"));
  EXPECT_EQ(trust.score(), std::clamp(sum, 0, 1000));
  // Never refunded: the premium tier's full capacity (initial 50.00 EUR in
  // 2021, refilled since, capped at 100.00 EUR).
  EXPECT_EQ(trust.instant_budget_remaining_minor(), 10000);
}

TEST_F(PolicyApiTest, GetTrustFallsAfterARefundAndTheBudgetIsSpent) {
  ASSERT_TRUE(h_->UpsertMember("m-1").ok());
  ASSERT_TRUE(h_->RecordOrder("m-1", "o-1").ok());
  v1::TrustReport before;
  ASSERT_TRUE(GetTrust("m-1", &before).ok());

  v1::SubmitRatingResponse rated = Rate(MeltedRating("k-1", "m-1", "o-1"));
  ASSERT_EQ(rated.decision().outcome(), v1::OUTCOME_REFUND);
  const int64_t refunded = rated.decision().refund().amount_minor();
  ASSERT_EQ(refunded, 1200);

  v1::TrustReport after;
  ASSERT_TRUE(GetTrust("m-1", &after).ok());
  // Paid instantly, so drawn from the budget (no time passed to refill it).
  EXPECT_EQ(after.instant_budget_remaining_minor(),
            before.instant_budget_remaining_minor() - refunded);
  // 12.00 EUR refunded of 30.00 EUR spent is far above the tolerated rate.
  EXPECT_LT(after.score(), before.score());
  auto contribution = [](const v1::TrustReport& t, const std::string& name) {
    for (const v1::TrustFactor& f : t.factors()) {
      if (f.name() == name) return f.contribution();
    }
    return 0;
  };
  EXPECT_EQ(contribution(before, "refund_rate_90d"), 0);
  EXPECT_LT(contribution(after, "refund_rate_90d"), 0);
  // The rating decided on the trust GetTrust reported before it.
  EXPECT_EQ(rated.decision().trust_score(), before.score());
}

TEST_F(PolicyApiTest, GetTrustOfAnUnknownMemberIsNotFound) {
  v1::TrustReport trust;
  EXPECT_EQ(GetTrust("nobody", &trust).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(PolicyApiTest, GetTrustWithABadIdNamesTheField) {
  v1::TrustReport trust;
  grpc::Status s = GetTrust("no spaces allowed", &trust);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("member_id"));
}

// ---- SimulatePolicy over given cases ----------------------------------------

TEST_F(PolicyApiTest, StricterCandidateOnGivenCasesListsWhatChanges) {
  const absl::Time delivered = Now() - absl::Hours(2);
  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = Stingy(ActivePolicy().policy());
  for (const auto& [id, satisfaction] :
       std::vector<std::pair<std::string, int>>{{"melted", 50},
                                                {"happy", 100}}) {
    v1::SimulationCase* c = request.mutable_given()->add_cases();
    c->set_case_id(id);
    v1::Member* m = c->mutable_member();
    m->set_member_id("m-given");
    m->set_tier("premium");
    *m->mutable_member_since() = Ts(absl::FromUnixSeconds(1609459200));
    m->add_flags("verified");
    *c->mutable_order() =
        AppHarness::SampleOrder("m-given", "o-given", delivered);
    *c->mutable_rating() = MeltedRating("", "m-given", "o-given", satisfaction);
    // A satisfied member tags no reason: nothing is owed under either policy.
    if (satisfaction == 100) c->mutable_rating()->clear_line_ratings();
  }

  v1::SimulatePolicyResponse r;
  grpc::Status s = Simulate(request, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.cases_evaluated(), 2);
  EXPECT_EQ(r.cases_failed(), 0);
  EXPECT_EQ(r.active().policy_version(), ActivePolicy().version());
  EXPECT_NE(r.candidate().policy_version(), r.active().policy_version());
  // Active: the melted line in full. Candidate: the curve's 50 % of it,
  // halved by the tier scale.
  EXPECT_EQ(Money(r.active()), 1200);
  EXPECT_EQ(Money(r.candidate()), 300);
  ASSERT_EQ(r.differences_size(), 1);
  EXPECT_EQ(r.differences_total(), 1);
  const v1::CaseDifference& d = r.differences(0);
  EXPECT_EQ(d.case_id(), "melted");
  EXPECT_EQ(d.active().refund().amount_minor(), 1200);
  EXPECT_EQ(d.candidate().refund().amount_minor(), 300);
  EXPECT_FALSE(r.truncated());
}

TEST_F(PolicyApiTest, GivenCaseTheEngineRefusesIsReportedNotFatal) {
  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = ActivePolicy().policy();
  v1::SimulationCase* c = request.mutable_given()->add_cases();
  c->set_case_id("no-satisfaction");
  c->mutable_member()->set_member_id("m-x");
  c->mutable_member()->set_tier("premium");
  *c->mutable_order() =
      AppHarness::SampleOrder("m-x", "o-x", Now() - absl::Hours(2));
  v1::SimulatePolicyResponse r;
  ASSERT_TRUE(Simulate(request, &r).ok());
  EXPECT_EQ(r.cases_evaluated(), 0);
  EXPECT_EQ(r.cases_failed(), 1);
  ASSERT_EQ(r.case_errors_size(), 1);
  EXPECT_EQ(r.case_errors(0).case_id(), "no-satisfaction");
  EXPECT_THAT(r.case_errors(0).message(),
              HasSubstr("rating.satisfaction_percent"));
}

// ---- SimulatePolicy over recorded decisions ---------------------------------

TEST_F(PolicyApiTest, ActivePolicyReplayedOnRecordedDecisionsChangesNothing) {
  SubmitThreeRatings();
  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = ActivePolicy().policy();
  *request.mutable_recorded() = WindowAroundNow();
  v1::SimulatePolicyResponse r;
  grpc::Status s = Simulate(request, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.cases_evaluated(), 3);
  EXPECT_EQ(r.cases_failed(), 0);
  EXPECT_EQ(r.differences_size(), 0);
  EXPECT_EQ(r.differences_total(), 0);
  EXPECT_EQ(r.candidate().policy_version(), r.active().policy_version());
  EXPECT_EQ(Money(r.active()), 3 * 1200);
  EXPECT_EQ(Money(r.candidate()), 3 * 1200);
  EXPECT_EQ(Count(r.active(), v1::OUTCOME_REFUND), 3);
  EXPECT_FALSE(r.truncated());
}

TEST_F(PolicyApiTest, StingierCandidateOnRecordedDecisionsPaysLess) {
  std::vector<std::string> rating_ids = SubmitThreeRatings();
  v1::SimulatePolicyRequest request;
  // As text, exactly as it would be written in the policy file.
  request.set_policy_text(Stingy(ActivePolicy().policy()).DebugString());
  *request.mutable_recorded() = WindowAroundNow();
  v1::SimulatePolicyResponse r;
  grpc::Status s = Simulate(request, &r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.cases_evaluated(), 3);
  EXPECT_EQ(r.differences_total(), 3);
  std::vector<std::string> differing;
  for (const v1::CaseDifference& d : r.differences()) {
    differing.push_back(d.case_id());
    EXPECT_LT(d.candidate().refund().amount_minor(),
              d.active().refund().amount_minor());
  }
  std::sort(differing.begin(), differing.end());
  std::sort(rating_ids.begin(), rating_ids.end());
  EXPECT_EQ(differing, rating_ids);  // case_id = rating_id.
  EXPECT_EQ(Money(r.active()), 3 * 1200);
  EXPECT_LT(Money(r.candidate()), Money(r.active()));
}

TEST_F(PolicyApiTest, RecordedWindowHonoursItsBoundsAndMaxCases) {
  SubmitThreeRatings();
  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = ActivePolicy().policy();

  // The end is exclusive: a window ending at the ratings' time misses them.
  v1::RecordedWindow* w = request.mutable_recorded();
  *w->mutable_start_time() = Ts(Now() - absl::Hours(1));
  *w->mutable_end_time() = Ts(Now());
  v1::SimulatePolicyResponse r;
  ASSERT_TRUE(Simulate(request, &r).ok());
  EXPECT_EQ(r.cases_evaluated(), 0);

  // The start is inclusive.
  *w->mutable_start_time() = Ts(Now());
  *w->mutable_end_time() = Ts(Now() + absl::Milliseconds(1));
  ASSERT_TRUE(Simulate(request, &r).ok());
  EXPECT_EQ(r.cases_evaluated(), 3);

  w->set_max_cases(2);
  ASSERT_TRUE(Simulate(request, &r).ok());
  EXPECT_EQ(r.cases_evaluated(), 2);
  EXPECT_TRUE(r.truncated());
}

TEST_F(PolicyApiTest, SimulationLeavesRedisUnchanged) {
  SubmitThreeRatings();
  const std::map<std::string, std::string> before = h_->Snapshot();
  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = Stingy(ActivePolicy().policy());
  *request.mutable_recorded() = WindowAroundNow();
  v1::SimulatePolicyResponse r;
  ASSERT_TRUE(Simulate(request, &r).ok());
  ASSERT_EQ(r.cases_evaluated(), 3);
  ASSERT_GT(r.differences_total(), 0);
  EXPECT_EQ(h_->Snapshot(), before);
}

// The health checks run scripts too, so count commands only these use.
TEST_F(PolicyApiTest, RecordedSimulationReadsEachPartitionOnce) {
  SubmitThreeRatings();
  v1::TrustReport trust;
  int64_t before = Calls("hgetall");
  ASSERT_TRUE(GetTrust("m-1", &trust).ok());
  EXPECT_EQ(Calls("hgetall") - before, 1);  // The stats hash, once.

  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = ActivePolicy().policy();
  *request.mutable_recorded() = WindowAroundNow();
  v1::SimulatePolicyResponse r;
  before = Calls("zrangebyscore");
  ASSERT_TRUE(Simulate(request, &r).ok());
  EXPECT_EQ(r.cases_evaluated(), 3);
  EXPECT_EQ(Calls("zrangebyscore") - before, h_->config().partitions);
}

// ---- Refusals ---------------------------------------------------------------

TEST_F(PolicyApiTest, InvalidCandidateIsRefusedWithItsViolations) {
  v1::Policy bad = ActivePolicy().policy();
  bad.mutable_tiers(1)->set_name(bad.tiers(0).name());  // Duplicate tier.
  bad.set_currency("EUR");  // both forms: the markets already give money
  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = bad;
  *request.mutable_recorded() = WindowAroundNow();
  v1::SimulatePolicyResponse r;
  grpc::Status s = Simulate(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<std::string> fields = ViolatedFields(s);
  EXPECT_THAT(fields, Contains("policy.tiers[1].name"));
  EXPECT_THAT(fields, Contains(StartsWith("policy.currency")));

  request.set_policy_text("tiers { name: ");  // Does not parse.
  s = Simulate(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("policy_text"));

  request.clear_candidate();
  request.clear_source();
  s = Simulate(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("candidate"));
  EXPECT_THAT(ViolatedFields(s), Contains("source"));
}

TEST_F(PolicyApiTest, BadRecordedWindowNamesTheField) {
  v1::SimulatePolicyRequest request;
  *request.mutable_policy() = ActivePolicy().policy();
  v1::RecordedWindow* w = request.mutable_recorded();
  v1::SimulatePolicyResponse r;

  *w->mutable_start_time() = Ts(Now());
  *w->mutable_end_time() = Ts(Now() - absl::Minutes(1));
  grpc::Status s = Simulate(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("recorded.end_time"));

  *w->mutable_end_time() = Ts(Now() + absl::Hours(32 * 24));
  s = Simulate(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("recorded.end_time"));
  EXPECT_THAT(s.error_message(), HasSubstr("31 days"));

  *w->mutable_end_time() = Ts(Now() + absl::Hours(31 * 24));
  w->set_max_cases(100001);
  s = Simulate(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("recorded.max_cases"));
  EXPECT_THAT(ViolatedFields(s), Not(Contains("recorded.end_time")));

  w->clear_start_time();
  w->set_max_cases(0);
  s = Simulate(request, &r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(ViolatedFields(s), Contains("recorded.start_time"));
  EXPECT_THAT(ViolatedFields(s), Not(IsEmpty()));
}

}  // namespace
}  // namespace makegood
