// Cost of one policy decision and of one trust score (issue 4: a decision
// must cost at most 5 us on the hot path).
//
//   policy_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only
#include <vector>

#include "absl/status/statusor.h"
#include "benchmark/benchmark.h"
#include "services/policy/decision.h"
#include "services/policy/engine.h"
#include "services/policy/inputs.h"
#include "services/policy/trust_score.h"
#include "tests/unit/policy/policy_test_fixtures.h"

namespace makegood::policy {
namespace {

using ::makegood::policy::testing::AddLine;
using ::makegood::policy::testing::DefaultEngine;
using ::makegood::policy::testing::GroceryOrder;
using ::makegood::policy::testing::kNow;
using ::makegood::policy::testing::LineRatingOf;
using ::makegood::policy::testing::OrderRating;
using ::makegood::policy::testing::Pct;
using ::makegood::policy::testing::TrustedPremium;

// A typical basket: eight lines, one of them alcohol.
OrderSnapshot Basket() {
  OrderSnapshot order = GroceryOrder();
  for (const char* category :
       {"produce", "dairy", "frozen", "bakery", "alcohol", "chilled"}) {
    AddLine(order, {.line_id = category,
                    .sku = "sku",
                    .category = category,
                    .quantity = 2,
                    .amount_minor = 4'50});
  }
  return order;
}

void Run(benchmark::State& state, const RatingInput& rating) {
  const PolicyEngine engine = DefaultEngine();
  const MemberSnapshot member = TrustedPremium();
  const OrderSnapshot order = Basket();
  for (auto _ : state) {
    absl::StatusOr<Decision> decision =
        engine.Decide(member, order, rating, kNow);
    benchmark::DoNotOptimize(decision);
  }
}

// The headline case: 50 % on a melted ice cream line.
void BM_DecideMeltedLine(benchmark::State& state) {
  Run(state, LineRatingOf("l1", 50, {Reason::kMeltedOrWarm}));
}
BENCHMARK(BM_DecideMeltedLine);

// A whole-order rating over eight lines, with a silent-recovery follow-up.
void BM_DecideOrderCurve(benchmark::State& state) {
  Run(state, OrderRating(35));
}
BENCHMARK(BM_DecideOrderCurve);

// Every line rated, with reasons, a fee rule and feedback follow-ups.
void BM_DecideAllLinesRated(benchmark::State& state) {
  RatingInput rating = OrderRating(30, {Reason::kLate});
  for (const OrderLine& line : Basket().lines) {
    rating.line_ratings.push_back({.line_id = line.line_id,
                                   .satisfaction = Pct(40),
                                   .reasons = {Reason::kDamaged}});
  }
  Run(state, rating);
}
BENCHMARK(BM_DecideAllLinesRated);

void BM_TrustReport(benchmark::State& state) {
  const PolicyEngine engine = DefaultEngine();
  const MemberSnapshot member = TrustedPremium();
  for (auto _ : state) {
    absl::StatusOr<TrustReport> report = engine.Trust(member, kNow);
    benchmark::DoNotOptimize(report);
  }
}
BENCHMARK(BM_TrustReport);

}  // namespace
}  // namespace makegood::policy

BENCHMARK_MAIN();
