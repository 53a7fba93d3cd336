// The simulated population (services/population) against a real server:
// the report is computed from the decisions the server returned, its counts
// add up, and a population whose claims the policy pays at once reports
// 100 %. With retention, members order again after their troubles and the
// server counts exactly what they did. Plus the pure parts: the claim
// definition and replayable seeds.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "services/core/clock.h"
#include "services/population/claim.h"
#include "services/population/config.h"
#include "services/population/experiment_run.h"
#include "services/population/generator.h"
#include "services/population/runner.h"
#include "tests/testing/app_harness.h"

namespace makegood::population {
namespace {

using ::testing::ElementsAre;

// One product: a melted ice cream, which every policy we ship refunds in
// full.
PopulationConfig IceCreamPopulation() {
  PopulationConfig config;
  config.set_delivery_fee_minor(299);
  config.set_recent_min_hours(1);
  config.set_recent_window_hours(48);
  Product* product = config.add_catalog();
  product->set_sku("ICE-CREAM-VANILLA-500ML");
  product->set_category("frozen");
  product->set_price_minor(599);
  product->set_weight(1);
  product->add_problems("REASON_MELTED_OR_WARM");
  return config;
}

Segment* AddSegment(PopulationConfig& config, const std::string& name,
                    Group group, ClaimStyle style, int members) {
  Segment* s = config.add_segments();
  s->set_name(name);
  s->set_group(group);
  s->set_claim_style(style);
  s->set_members(members);
  s->mutable_lines()->set_min(1);
  s->mutable_lines()->set_max(2);
  s->mutable_quantity()->set_min(1);
  s->mutable_quantity()->set_max(1);
  s->set_card_probability(1);
  s->set_claim_probability(1);
  return s;
}

// A premium member of two to three years with twenty past orders, verified,
// rating one recent order: melted ice cream.
Segment* AddHonestPremium(PopulationConfig& config, int members) {
  Segment* s = AddSegment(config, "honest_premium", GROUP_HONEST_ESTABLISHED,
                          CLAIM_STYLE_HONEST, members);
  auto* tier = s->add_tiers();
  tier->set_tier("premium");
  tier->set_weight(1);
  s->mutable_tenure_days()->set_min(730);
  s->mutable_tenure_days()->set_max(1095);
  s->mutable_past_orders()->set_min(20);
  s->mutable_past_orders()->set_max(20);
  s->mutable_recent_orders()->set_min(1);
  s->mutable_recent_orders()->set_max(1);
  s->set_verified_probability(1);
  return s;
}

// New accounts the platform linked to an abuser, claiming everything.
Segment* AddLinkedAbusers(PopulationConfig& config, int members) {
  Segment* s = AddSegment(config, "linked_abuser", GROUP_ABUSER,
                          CLAIM_STYLE_BIG, members);
  auto* tier = s->add_tiers();
  tier->set_tier("basic");
  tier->set_weight(1);
  s->mutable_tenure_days()->set_min(0);
  s->mutable_tenure_days()->set_max(1);
  s->mutable_recent_orders()->set_min(2);
  s->mutable_recent_orders()->set_max(3);
  s->set_linked_probability(1);
  s->set_chargeback_probability(1);
  return s;
}

class PopulationRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = testing::AppHarness::Create();
    ASSERT_TRUE(harness.ok()) << harness.status();
    harness_ = *std::move(harness);
    ASSERT_TRUE(harness_->StartApp().ok());
    grpc::ClientContext context;
    v1::GetPolicyResponse policy;
    ASSERT_TRUE(
        harness_->stubs().policies->GetPolicy(&context, {}, &policy).ok());
    policy_ = policy.policy();
    served_ = ServedCurrencies(policy_);
    ASSERT_FALSE(served_.empty());
  }

  // Scales every served currency one to one: the test is about counting.
  void AddCurrencies(PopulationConfig& config) {
    for (const std::string& currency : served_) {
      CurrencyScale* scale = config.add_currencies();
      scale->set_code(currency);
      scale->set_factor(1);
    }
  }

  RunOptions Options() {
    RunOptions options;
    options.target = absl::StrCat("127.0.0.1:", harness_->app().port());
    options.seeds = {7};
    options.now = harness_->clock().Now();
    options.concurrency = 4;
    options.metadata = {{"x-client-id", "population-test"}};
    return options;
  }

  // Money the server holds as refunded to `members`, per ListRefunds.
  int64_t RefundedTo(const std::vector<SimMember>& members) {
    int64_t total = 0;
    for (const SimMember& m : members) {
      std::string token;
      do {
        v1::ListRefundsRequest request;
        request.set_member_id(m.member.member_id());
        request.set_page_size(100);
        request.set_page_token(token);
        v1::ListRefundsResponse response;
        grpc::ClientContext context;
        EXPECT_TRUE(harness_->stubs()
                        .refunds->ListRefunds(&context, request, &response)
                        .ok());
        for (const v1::Refund& r : response.refunds()) {
          total += r.amount_minor();
        }
        token = response.next_page_token();
      } while (!token.empty());
    }
    return total;
  }

  std::unique_ptr<testing::AppHarness> harness_;
  v1::Policy policy_;
  std::vector<std::string> served_;
};

TEST_F(PopulationRunTest, HonestPremiumMeltedIceCreamIsAllMadeGoodAtOnce) {
  PopulationConfig config = IceCreamPopulation();
  AddCurrencies(config);
  AddHonestPremium(config, 8);
  const RunOptions options = Options();
  absl::StatusOr<Report> report = RunPopulation(config, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->errors(), 0);
  EXPECT_EQ(report->currencies().size(), served_.size());

  for (const std::string& currency : served_) {
    SCOPED_TRACE(currency);
    const Tallies total = report->Total(currency);
    ASSERT_EQ(total.size(), 1u);
    const SegmentTally& t = total[0].second;
    EXPECT_EQ(t.members, 8);
    EXPECT_EQ(t.ratings, 8);  // one recent order each, always rated
    EXPECT_EQ(t.claims, 8);   // and always a claim
    EXPECT_EQ(t.made_good, 8);
    EXPECT_EQ(t.no_action, 0);
    int64_t outcomes = 0;
    for (const auto& [name, count] : t.claim_outcomes) outcomes += count;
    EXPECT_EQ(outcomes, t.claims);
    const Headline h = HeadlineOf(total);
    EXPECT_EQ(h.honest_established_made_good.part, 8);
    EXPECT_EQ(h.honest_established_made_good.total, 8);
    EXPECT_DOUBLE_EQ(h.honest_established_made_good.share(), 1.0);
    EXPECT_EQ(h.silence.part, 0);

    // The claimed and paid money is what the requests asked for and what
    // the server holds as refunded: the whole ice cream line, every time.
    const CurrencyScale scale = *ScaleFor(config, currency);
    const std::vector<SimMember> members =
        Generate(config, {.seed = 7,
                          .currency = currency,
                          .scale = scale,
                          .prefix = options.prefix,
                          .now = options.now});
    int64_t claimed = 0;
    for (const SimMember& m : members) {
      for (const RecentOrder& r : m.recent_orders) {
        ASSERT_TRUE(r.rating.has_value());
        claimed +=
            ClaimedMinor(*r.rating, r.order, policy_.low_rating_max_percent());
      }
    }
    EXPECT_EQ(t.claimed_minor, claimed);
    EXPECT_EQ(t.paid_minor, RefundedTo(members));
    EXPECT_EQ(t.paid_minor, claimed);
  }

  // The JSON line says the same.
  nlohmann::json json = nlohmann::json::parse(report->JsonLine());
  EXPECT_EQ(json["errors"], 0);
  EXPECT_EQ(json["replayed"], 0);
  EXPECT_THAT(json["seeds"], ElementsAre(7));
  for (const std::string& currency : served_) {
    const auto& all = json["currencies"][currency]["all"];
    EXPECT_EQ(all["honest_established_made_good"]["share"], 1.0);
    EXPECT_EQ(all["silence"]["part"], 0);
    EXPECT_EQ(json["currencies"][currency]["goals_met"]
                  ["honest_established_made_good"],
              true);
  }
}

TEST_F(PopulationRunTest, ARerunWithTheSamePrefixIsCountedAsReplays) {
  PopulationConfig config = IceCreamPopulation();
  AddCurrencies(config);
  AddHonestPremium(config, 3);
  absl::StatusOr<Report> first = RunPopulation(config, Options());
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->replayed(), 0);
  absl::StatusOr<Report> again = RunPopulation(config, Options());
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->replayed(), 3 * static_cast<int64_t>(served_.size()));
  EXPECT_THAT(again->Table(), ::testing::HasSubstr("new --prefix"));
  RunOptions fresh = Options();
  fresh.prefix = "pop2";
  absl::StatusOr<Report> renamed = RunPopulation(config, fresh);
  ASSERT_TRUE(renamed.ok()) << renamed.status();
  EXPECT_EQ(renamed->replayed(), 0);
}

TEST_F(PopulationRunTest, CountsAddUpAcrossSegmentsAndSeeds) {
  PopulationConfig config = IceCreamPopulation();
  AddCurrencies(config);
  AddHonestPremium(config, 5)->set_claim_probability(0.5);
  config.mutable_segments(0)->set_rate_probability(1);
  AddLinkedAbusers(config, 6);
  RunOptions options = Options();
  options.seeds = {1, 2};
  absl::StatusOr<Report> report = RunPopulation(config, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->errors(), 0);

  const std::string currency = served_.front();
  const CurrencyScale scale = *ScaleFor(config, currency);
  int64_t ratings = 0;
  int64_t claims = 0;
  int64_t abuser_claimed = 0;
  std::vector<SimMember> abusers;
  for (uint64_t seed : options.seeds) {
    for (SimMember& m : Generate(config, {.seed = seed,
                                         .currency = currency,
                                         .scale = scale,
                                         .prefix = options.prefix,
                                         .now = options.now})) {
      for (const RecentOrder& r : m.recent_orders) {
        if (!r.rating.has_value()) continue;
        ++ratings;
        const int low = policy_.low_rating_max_percent();
        if (IsClaim(*r.rating, low)) ++claims;
        if (m.group == GROUP_ABUSER) {
          abuser_claimed += ClaimedMinor(*r.rating, r.order, low);
        }
      }
      if (m.group == GROUP_ABUSER) abusers.push_back(std::move(m));
    }
  }
  const Tallies total = report->Total(currency);
  ASSERT_EQ(total.size(), 2u);
  int64_t reported_ratings = 0;
  int64_t reported_claims = 0;
  for (const auto& [name, t] : total) {
    reported_ratings += t.ratings;
    reported_claims += t.claims;
    int64_t outcomes = 0;
    for (const auto& [o, n] : t.claim_outcomes) outcomes += n;
    for (const auto& [o, n] : t.other_outcomes) outcomes += n;
    EXPECT_EQ(outcomes, t.ratings) << name;
  }
  EXPECT_EQ(total[0].second.members + total[1].second.members, 2 * (5 + 6));
  EXPECT_EQ(reported_ratings, ratings);
  EXPECT_EQ(reported_claims, claims);
  const Headline h = HeadlineOf(total);
  EXPECT_EQ(h.abuser_money_paid.total, abuser_claimed);
  EXPECT_GT(abuser_claimed, 0);
  // What the abusers were paid is what the server holds as refunded to them.
  EXPECT_EQ(h.abuser_money_paid.part, RefundedTo(abusers));
  EXPECT_LE(h.abuser_money_paid.share(), 0.05);
}

TEST_F(PopulationRunTest, ATierThePolicyDoesNotDefineIsRefused) {
  PopulationConfig config = IceCreamPopulation();
  AddCurrencies(config);
  AddHonestPremium(config, 1)->mutable_tiers(0)->set_tier("platinum");
  absl::StatusOr<Report> report = RunPopulation(config, Options());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(report.status().message()),
              ::testing::HasSubstr("platinum"));
}

// ---- Retention after trouble ----------------------------------------------

// A retention day short enough that 90 of them pass in 5.4 s, long enough
// that a member's ratings and a reorder's RecordDelivery fit well inside
// one (RetentionTiming).
constexpr absl::Duration kRetentionDay = absl::Milliseconds(60);

// Members who rate low without a reason: silent troubles, some of them
// followed up (the default policy's silent recovery is for <= 40 %).
Segment* AddSilentMembers(PopulationConfig& config, int members) {
  Segment* s = AddSegment(config, "silent", GROUP_HONEST_ESTABLISHED,
                          CLAIM_STYLE_HONEST, members);
  auto* tier = s->add_tiers();
  tier->set_tier("plus");
  tier->set_weight(1);
  s->mutable_tenure_days()->set_min(400);
  s->mutable_tenure_days()->set_max(800);
  s->mutable_past_orders()->set_min(10);
  s->mutable_past_orders()->set_max(10);
  s->mutable_recent_orders()->set_min(1);
  s->mutable_recent_orders()->set_max(2);
  s->set_claim_probability(0);
  s->set_silent_low_probability(1);
  return s;
}

// Honest premium members (refunded at once), linked abusers (denied or
// reviewed) and silent members, with a model whose answers matter.
PopulationConfig RetentionPopulation() {
  PopulationConfig config = IceCreamPopulation();
  AddHonestPremium(config, 14)->mutable_recent_orders()->set_max(2);
  AddLinkedAbusers(config, 8);
  AddSilentMembers(config, 10);
  RetentionModel* model = config.mutable_retention();
  model->set_no_trouble_90d(0.9);
  model->set_trouble_90d(0.5);
  model->set_within_7_days(0.4);
  model->set_within_30_days(0.7);
  for (const auto& [answer, recovered] :
       std::vector<std::pair<std::string, double>>{{"REFUND", 0.8},
                                                   {"MANUAL_REVIEW", 0.2},
                                                   {"DENY", -0.5},
                                                   {"silent_recovered", 0.5}}) {
    AnswerRecovery* a = model->add_answers();
    a->set_answer(answer);
    a->set_recovered(recovered);
  }
  return config;
}

// makegood on the real clock: the population waits retention days in real
// time (AppHarness's clock is fake). The insights aggregator's sweeper
// closes due windows every 10 ms.
struct RealClockServer {
  std::unique_ptr<testing::RedisServer> redis;
  std::unique_ptr<server::App> app;
  testing::Stubs stubs;
};

void StartRealClockServer(RealClockServer& out) {
  auto redis = testing::RedisServer::Start();
  ASSERT_TRUE(redis.ok()) << redis.status();
  out.redis = *std::move(redis);
  server::ServerConfig config = testing::TestConfig(*out.redis);
  config.insights_aggregator = true;
  config.settlement.consumer = "population-test";
  config.retention_day = kRetentionDay;
  config.rating.retention_day = kRetentionDay;
  config.retention_sweep_interval = absl::Milliseconds(10);
  // Experiments' guardrails are checked by the aggregating process.
  config.experiment_guard_interval = absl::Milliseconds(20);
  auto app = server::App::Start(config, RealClock());
  ASSERT_TRUE(app.ok()) << app.status();
  out.app = *std::move(app);
  out.stubs = testing::ConnectStubs(out.app->port());
  ASSERT_TRUE(testing::WaitServing(*out.stubs.health));
}

RunOptions RetentionOptions(const RealClockServer& server,
                            const std::vector<std::string>& currencies) {
  RunOptions options;
  options.target = absl::StrCat("127.0.0.1:", server.app->port());
  options.seeds = {11};
  options.now = absl::Now();
  options.concurrency = 4;
  options.metadata = {{"x-client-id", "population-test"}};
  options.currencies = currencies;
  options.retention.enabled = true;
  options.retention.day = kRetentionDay;
  options.retention.placers = 4;
  options.retention.settle_timeout = absl::Seconds(5);
  return options;
}

// Per outcome and window: troubles and those whose member ordered again.
using OutcomeCounts =
    std::map<std::pair<std::string, int>, std::pair<int64_t, int64_t>>;

OutcomeCounts ServedByOutcome(const RealClockServer& server) {
  auto insights = v1::InsightsService::NewStub(server.stubs.channel);
  v1::GetRetentionStatsRequest request;
  request.add_group_by(v1::RETENTION_DIMENSION_OUTCOME);
  v1::GetRetentionStatsResponse response;
  grpc::ClientContext context;
  const grpc::Status status =
      insights->GetRetentionStats(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.open_troubles(), 0);
  OutcomeCounts out;
  for (const v1::RetentionCohort& cohort : response.cohorts()) {
    for (const v1::RetentionWindow& w : cohort.windows()) {
      out[{cohort.labels(0).value(), w.days()}] = {w.troubles(), w.reordered()};
    }
  }
  return out;
}

TEST(PopulationRetention, TheServerCountsWhatTheMembersDidPerOutcome) {
  RealClockServer server;
  ASSERT_NO_FATAL_FAILURE(StartRealClockServer(server));
  grpc::ClientContext context;
  v1::GetPolicyResponse policy;
  ASSERT_TRUE(server.stubs.policies->GetPolicy(&context, {}, &policy).ok());
  const std::string currency = ServedCurrencies(policy.policy()).front();
  PopulationConfig config = RetentionPopulation();
  config.add_currencies()->set_code(currency);
  config.mutable_currencies(0)->set_factor(1);

  absl::StatusOr<Report> report =
      RunPopulation(config, RetentionOptions(server, {currency}));
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->errors(), 0);
  ASSERT_TRUE(report->retention().has_value());
  const RetentionReport& retention = *report->retention();
  EXPECT_THAT(retention.Mismatches(), ::testing::IsEmpty())
      << retention.Table();
  EXPECT_EQ(retention.timing().late, 0) << retention.Table();

  // The simulator's ground truth, tallied here from its troubles, against
  // the server's cohorts read here: equal per outcome and window.
  OutcomeCounts simulated;
  std::set<std::string> recoveries;
  int64_t reordered_90 = 0;
  int64_t early = 0;
  int64_t late = 0;
  for (const SimTrouble& t : retention.troubles()) {
    recoveries.insert(t.trouble.recovery);
    for (size_t w = 0; w < kWindows; ++w) {
      auto& [troubles, reordered] =
          simulated[{t.trouble.outcome, retention::kWindowDays[w]}];
      ++troubles;
      if (t.reordered[w]) ++reordered;
      // Each member's decision is what the server saw.
      EXPECT_EQ(t.reordered[w], t.decided_day > 0 &&
                                    t.decided_day <= retention::kWindowDays[w]);
    }
    if (t.reordered[2]) ++reordered_90;
    if (t.decided_day > 0 && t.decided_day <= 7) ++early;
    if (t.decided_day > 30) ++late;
  }
  EXPECT_EQ(ServedByOutcome(server), simulated);
  // Not vacuous: several outcomes and recoveries, members who came back
  // within a week and after a month, and members who did not.
  EXPECT_GE(simulated.size() / kWindows, 2u) << retention.Table();
  EXPECT_GE(recoveries.size(), 2u);
  EXPECT_GT(early, 0);
  EXPECT_GT(late, 0);
  EXPECT_GT(reordered_90, 0);
  EXPECT_LT(reordered_90, static_cast<int64_t>(retention.troubles().size()));

  nlohmann::json json = nlohmann::json::parse(report->JsonLine());
  EXPECT_EQ(json["retention"]["match"], true);
  EXPECT_EQ(json["retention"]["troubles"], retention.troubles().size());
}

TEST(PopulationRetention, TheSameSeedSendsTheSameRequests) {
  // Two fresh servers, one run each.
  std::vector<std::vector<
      std::tuple<std::string, std::string, std::string, int, double, int64_t>>>
      runs;
  for (int run = 0; run < 2; ++run) {
    RealClockServer server;
    ASSERT_NO_FATAL_FAILURE(StartRealClockServer(server));
    PopulationConfig config = RetentionPopulation();
    config.add_currencies()->set_code("EUR");
    config.mutable_currencies(0)->set_factor(1);
    absl::StatusOr<Report> report =
        RunPopulation(config, RetentionOptions(server, {"EUR"}));
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_TRUE(report->retention().has_value());
    EXPECT_THAT(report->retention()->Mismatches(), ::testing::IsEmpty());
    auto& troubles = runs.emplace_back();
    for (const SimTrouble& t : report->retention()->troubles()) {
      troubles.emplace_back(t.trouble.member_id, t.trouble.outcome,
                            t.trouble.recovery, t.decided_day, t.probability,
                            t.spend_minor[2]);
    }
    std::sort(troubles.begin(), troubles.end());
  }
  // The same troubles, answered alike, the same reorders on the same days
  // (their baskets: RetentionModelGenerate in tests/unit/population).
  EXPECT_EQ(runs[0], runs[1]);
  EXPECT_FALSE(runs[0].empty());
}

// ---- Policy experiments -------------------------------------------------

// The plan of a run against `candidate` (a file under
// config/policy/experiments/), half the members each.
LoadedPlan ExperimentPlanFor(const std::string& name,
                             const std::string& candidate) {
  absl::StatusOr<LoadedPlan> shipped = LoadExperimentPlan(
      absl::StrCat(MAKEGOOD_SOURCE_DIR, "/config/population/experiment_", name,
                   ".textproto"));
  EXPECT_TRUE(shipped.ok()) << shipped.status();
  LoadedPlan plan = shipped.ok() ? *std::move(shipped) : LoadedPlan();
  EXPECT_THAT(plan.candidate_text,
              ::testing::HasSubstr(absl::StrCat("name: \"", candidate, "\"")));
  return plan;
}

// The small EUR retention population run beside experiment `plan` on a
// fresh server; `out` holds its report once the run and the experiment's
// read succeeded.
void RunBesideExperiment(LoadedPlan plan, std::optional<Report>& out) {
  RealClockServer server;
  ASSERT_NO_FATAL_FAILURE(StartRealClockServer(server));
  PopulationConfig config = RetentionPopulation();
  config.add_currencies()->set_code("EUR");
  config.mutable_currencies(0)->set_factor(1);
  RunOptions options = RetentionOptions(server, {"EUR"});
  options.experiment = std::move(plan);
  absl::StatusOr<Report> report = RunPopulation(config, options);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->errors(), 0);
  ASSERT_TRUE(report->experiment().has_value());
  ASSERT_TRUE(report->experiment()->read);
  out = *std::move(report);
}

TEST(PopulationExperiment, EachArmHoldsWhatItsMembersDidAndTheVerdictFollows) {
  LoadedPlan plan = ExperimentPlanFor("retains_more", "retains_more");
  // A verdict on the small population's troubles.
  plan.plan.set_min_troubles_per_arm(5);
  std::optional<Report> report;
  ASSERT_NO_FATAL_FAILURE(RunBesideExperiment(std::move(plan), report));
  const ExperimentReport& experiment = *report->experiment();
  EXPECT_EQ(experiment.served.experiment().state(),
            v1::EXPERIMENT_STATE_RUNNING)
      << experiment.Table();
  // The hard check: the server's arms hold exactly the ratings, refunds,
  // 30-day troubles and reorders the simulator saw in each.
  EXPECT_THAT(experiment.Problems(), ::testing::IsEmpty())
      << experiment.Table();
  EXPECT_GT(experiment.control.troubles, 0) << experiment.Table();
  EXPECT_GT(experiment.candidate.troubles, 0) << experiment.Table();
  EXPECT_EQ(experiment.control.troubles + experiment.candidate.troubles,
            static_cast<int64_t>(report->retention()->troubles().size()));
  // The candidate refuses no linked abuser (it reviews them): the model
  // says it keeps more members, and the verdict may not say the opposite.
  EXPECT_GT(experiment.ExpectedDifference(), 0) << experiment.Table();
  EXPECT_NE(experiment.served.verdict(),
            v1::EXPERIMENT_VERDICT_CANDIDATE_RETAINS_LESS)
      << experiment.Table();
  EXPECT_NE(experiment.Agreement(), "DISAGREES") << experiment.Table();
  EXPECT_THAT(report->retention()->Mismatches(), ::testing::IsEmpty());
}

TEST(PopulationExperiment, ALeakyCandidateIsStoppedByItsAbuseGuardrail) {
  LoadedPlan plan = ExperimentPlanFor("leaky", "leaky");
  // The small population's refunds: every abuser's refund caught.
  plan.plan.set_min_refunds_for_abuse(3);
  plan.plan.set_abuse_caught(1);
  std::optional<Report> report;
  ASSERT_NO_FATAL_FAILURE(RunBesideExperiment(std::move(plan), report));
  const ExperimentReport& experiment = *report->experiment();
  const v1::Experiment& served = experiment.served.experiment();
  EXPECT_EQ(served.state(), v1::EXPERIMENT_STATE_TRIPPED) << experiment.Table();
  EXPECT_THAT(served.stop_reason(), ::testing::HasSubstr("marked abusive"));
  // The candidate paid the linked abusers the active policy refuses, and
  // every one of those refunds was reported.
  EXPECT_GT(experiment.candidate.abuser_refunds, 0) << experiment.Table();
  EXPECT_EQ(experiment.candidate.marked_abusive,
            experiment.candidate.abuser_refunds);
  EXPECT_EQ(experiment.served.candidate().abuse_corrections(),
            experiment.candidate.marked_abusive);
  EXPECT_EQ(experiment.control.abuser_refunds, 0) << experiment.Table();
  // The candidate arm stays exact after the trip; the control arm is
  // bounded by the simulator's (later decisions carry no arm).
  EXPECT_THAT(experiment.Problems(), ::testing::IsEmpty())
      << experiment.Table();
}

TEST(PopulationGenerate, TheSameSeedGivesTheSameRequests) {
  PopulationConfig config = IceCreamPopulation();
  config.add_currencies()->set_code("KRW");
  config.mutable_currencies(0)->set_factor(14.5);
  config.mutable_currencies(0)->set_round_minor(10);
  AddHonestPremium(config, 4)->set_claim_probability(0.5);
  AddLinkedAbusers(config, 3);
  ASSERT_TRUE(CheckConfig(config).ok()) << CheckConfig(config);
  GenerateOptions options{.seed = 3,
                          .currency = "KRW",
                          .scale = config.currencies(0),
                          .now = absl::FromUnixSeconds(1795000100)};
  const std::vector<SimMember> a = Generate(config, options);
  const std::vector<SimMember> b = Generate(config, options);
  options.seed = 4;
  const std::vector<SimMember> c = Generate(config, options);
  ASSERT_EQ(a.size(), 7u);
  ASSERT_EQ(b.size(), a.size());
  bool differs = false;
  using google::protobuf::util::MessageDifferencer;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(a[i].member, b[i].member));
    ASSERT_EQ(a[i].recent_orders.size(), b[i].recent_orders.size());
    for (size_t j = 0; j < a[i].recent_orders.size(); ++j) {
      const RecentOrder& x = a[i].recent_orders[j];
      const RecentOrder& y = b[i].recent_orders[j];
      EXPECT_TRUE(MessageDifferencer::Equals(x.order, y.order));
      ASSERT_EQ(x.rating.has_value(), y.rating.has_value());
      if (x.rating) {
        EXPECT_TRUE(MessageDifferencer::Equals(*x.rating, *y.rating));
      }
      // KRW amounts are whole tens of won.
      for (const v1::OrderLine& line : x.order.lines()) {
        EXPECT_EQ(line.amount_minor() % 10, 0);
        EXPECT_EQ(x.order.currency(), "KRW");
      }
    }
    if (c[i].recent_orders.size() != a[i].recent_orders.size() ||
        !MessageDifferencer::Equals(c[i].member, a[i].member)) {
      differs = true;
    }
  }
  EXPECT_TRUE(differs) << "seeds 3 and 4 drew the same population";
}

TEST(PopulationClaim, ALowRatingWithAReasonOrALowLineRatingIsAClaim) {
  v1::Order order;
  order.set_total_minor(3000);
  order.set_delivery_fee_minor(300);
  auto* l1 = order.add_lines();
  l1->set_line_id("l1");
  l1->set_amount_minor(1200);
  auto* l2 = order.add_lines();
  l2->set_line_id("l2");
  l2->set_amount_minor(1500);

  v1::SubmitRatingRequest happy;
  happy.set_satisfaction_percent(90);
  EXPECT_FALSE(IsClaim(happy, 50));

  // Unhappy but silent: not a claim.
  v1::SubmitRatingRequest silent;
  silent.set_satisfaction_percent(30);
  EXPECT_FALSE(IsClaim(silent, 50));
  EXPECT_EQ(ClaimedMinor(silent, order, 50), 0);

  // A low line rating claims that line.
  v1::SubmitRatingRequest melted;
  melted.set_satisfaction_percent(70);
  auto* line = melted.add_line_ratings();
  line->set_line_id("l1");
  line->set_satisfaction_percent(50);
  line->add_reasons(v1::REASON_MELTED_OR_WARM);
  EXPECT_TRUE(IsClaim(melted, 50));
  EXPECT_EQ(ClaimedMinor(melted, order, 50), 1200);
  EXPECT_FALSE(IsClaim(melted, 40));

  // Late: the delivery fee.
  v1::SubmitRatingRequest late;
  late.set_satisfaction_percent(40);
  late.add_reasons(v1::REASON_LATE);
  EXPECT_TRUE(IsClaim(late, 50));
  EXPECT_EQ(ClaimedMinor(late, order, 50), 300);

  // The whole order rated 0 % as damaged: every line.
  v1::SubmitRatingRequest damaged;
  damaged.set_satisfaction_percent(0);
  damaged.add_reasons(v1::REASON_DAMAGED);
  EXPECT_EQ(ClaimedMinor(damaged, order, 50), 2700);

  EXPECT_TRUE(MadeGoodAtOnce(v1::OUTCOME_REFUND));
  EXPECT_TRUE(MadeGoodAtOnce(v1::OUTCOME_COUPON));
  EXPECT_FALSE(MadeGoodAtOnce(v1::OUTCOME_MANUAL_REVIEW));
  EXPECT_FALSE(MadeGoodAtOnce(v1::OUTCOME_NO_ACTION));
}

TEST(PopulationCurrencies, ServedCurrenciesAreReadOffThePolicy) {
  v1::Policy policy;
  policy.set_currency("EUR");
  EXPECT_THAT(ServedCurrencies(policy), ElementsAre("EUR"));
}

// Money settings per currency, in a message named for currencies with a
// `code` field (the shape the policy may grow): found; other strings of the
// document (here SKUs and categories) are not.
TEST(PopulationCurrencies, CodesOfMessagesNamedForCurrenciesAreFound) {
  PopulationConfig config = IceCreamPopulation();
  for (const char* code : {"KRW", "CNY", "USD", "EUR"}) {
    config.add_currencies()->set_code(code);
  }
  config.mutable_catalog(0)->set_category("ABC");
  EXPECT_THAT(ServedCurrencies(config),
              ElementsAre("KRW", "CNY", "USD", "EUR"));
}

TEST(PopulationConfigFile, TheShippedConfigLoads) {
  absl::StatusOr<PopulationConfig> config =
      LoadConfig(std::string(MAKEGOOD_SOURCE_DIR) +
                 "/config/population/default.textproto");
  ASSERT_TRUE(config.ok()) << config.status();
  for (const char* currency : {"EUR", "USD", "CNY", "KRW"}) {
    EXPECT_TRUE(ScaleFor(*config, currency).ok()) << currency;
  }
  EXPECT_FALSE(ScaleFor(*config, "XXX").ok());
}

}  // namespace
}  // namespace makegood::population
