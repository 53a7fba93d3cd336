// File: tests/fuzz/write_requests_fuzzer.cc
//
// The write methods' validation, end to end down to the policy decision. The
// input is a makegood.v1.SimulationCase in protobuf wire format: the member
// (UpsertMember), the order (RecordDelivery) and the rating (SubmitRating),
// with the member's history and what the order already refunded. Ids are
// aligned (the rating names the member and the order, the order the member)
// so that valid combinations are common.
//
// Properties, besides "never crashes":
//   - ValidateMember / ValidateOrder / ValidateSubmitRating: validity does not
//     depend on the encoding or the order of repeated fields;
//   - an order that validates obeys what validation promises (amounts within
//     0..kMaxAmountMinor, lines + delivery fee <= total, distinct line ids),
//     and its money fingerprint (RecordDelivery's "did the money change")
//     is stable under re-serialization and line order;
//   - when all three validate, the simulation converts the case, and the
//     engine's decision keeps the money promises (decision_checks.h), the
//     same decision every time.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/time/time.h"
#include "makegood/v1/policy_service.pb.h"
#include "services/api/validation.h"
#include "services/errors/errors.h"
#include "services/policy/policy_config.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"
#include "services/policy_simulation/simulation.h"
#include "services/store/order_store.h"
#include "services/store/proto_codec.h"
#include "tests/fuzz/decision_checks.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using makegood::Violations;
using makegood::v1::Member;
using makegood::v1::Order;
using makegood::v1::SimulationCase;
using makegood::v1::SubmitRatingRequest;

// Validation's clock: a fixed "now" (2026-06-01), so runs are reproducible.
const absl::Time kNow = absl::FromUnixSeconds(1780272000);

const makegood::policy_file::PolicySnapshot& Policy() {
  static const auto* policy = [] {
    auto snapshot = makegood::policy_file::BuildPolicySnapshot(
        makegood::policy_proto::FromPolicyConfig(
            makegood::policy::DefaultPolicyConfig()),
        kNow);
    FUZZ_CHECK(snapshot.ok()) << snapshot.status();
    return new makegood::policy_file::PolicySnapshot(*std::move(snapshot));
  }();
  return *policy;
}

bool ValidMember(const Member& member) {
  Violations v;
  makegood::api::ValidateMember("member", member, Policy(), kNow, v);
  return v.empty();
}

bool ValidOrder(const Order& order) {
  Violations v;
  makegood::api::ValidateOrder("order", order, kNow, v);
  return v.empty();
}

bool ValidRating(const SubmitRatingRequest& rating) {
  Violations v;
  makegood::api::ValidateSubmitRating(rating, v);
  return v.empty();
}

template <typename M>
M Reparsed(const M& message) {
  M again;
  FUZZ_CHECK(
      again.ParseFromString(makegood::store::SerializeDeterministic(message)));
  return again;
}

void CheckValidOrder(const Order& order) {
  constexpr int64_t kMax = makegood::api::kMaxAmountMinor;
  FUZZ_CHECK(order.total_minor() >= 0 && order.total_minor() <= kMax);
  FUZZ_CHECK(order.delivery_fee_minor() >= 0 &&
             order.delivery_fee_minor() <= kMax);
  FUZZ_CHECK(order.lines_size() >= 1 &&
             order.lines_size() <= makegood::api::kMaxOrderLines);
  int64_t sum = order.delivery_fee_minor();
  absl::flat_hash_set<std::string> ids;
  for (const auto& line : order.lines()) {
    FUZZ_CHECK(line.amount_minor() >= 0 && line.amount_minor() <= kMax);
    FUZZ_CHECK(line.quantity() >= 1 &&
               line.quantity() <= makegood::api::kMaxQuantity);
    FUZZ_CHECK(ids.insert(line.line_id()).second) << "duplicate line id";
    sum += line.amount_minor();
  }
  FUZZ_CHECK(sum <= order.total_minor())
      << "lines + fee " << sum << " > total " << order.total_minor();

  const std::string fp = makegood::store::OrderStore::MoneyFingerprint(order);
  FUZZ_CHECK(makegood::store::OrderStore::MoneyFingerprint(Reparsed(order)) ==
             fp);
  Order reversed = order;
  std::reverse(reversed.mutable_lines()->begin(),
               reversed.mutable_lines()->end());
  FUZZ_CHECK(makegood::store::OrderStore::MoneyFingerprint(reversed) == fp)
      << "money fingerprint depends on line order";
  Order more = order;
  more.set_total_minor(order.total_minor() + 1);
  FUZZ_CHECK(makegood::store::OrderStore::MoneyFingerprint(more) != fp);
}

int64_t Clamp(int64_t v, int64_t hi) { return std::clamp<int64_t>(v, 0, hi); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  SimulationCase sim_case;
  if (!sim_case.ParseFromArray(data, static_cast<int>(size))) return -1;
  Member& member = *sim_case.mutable_member();
  Order& order = *sim_case.mutable_order();
  SubmitRatingRequest& rating = *sim_case.mutable_rating();
  order.set_member_id(member.member_id());
  rating.set_member_id(member.member_id());
  rating.set_order_id(order.order_id());

  const bool member_ok = ValidMember(member);
  const bool order_ok = ValidOrder(order);
  const bool rating_ok = ValidRating(rating);
  FUZZ_CHECK(ValidMember(Reparsed(member)) == member_ok);
  FUZZ_CHECK(ValidOrder(Reparsed(order)) == order_ok);
  FUZZ_CHECK(ValidRating(Reparsed(rating)) == rating_ok);
  Order reversed = order;
  std::reverse(reversed.mutable_lines()->begin(),
               reversed.mutable_lines()->end());
  FUZZ_CHECK(ValidOrder(reversed) == order_ok) << "depends on line order";
  Member flags_reversed = member;
  std::reverse(flags_reversed.mutable_flags()->begin(),
               flags_reversed.mutable_flags()->end());
  FUZZ_CHECK(ValidMember(flags_reversed) == member_ok);

  if (order_ok) CheckValidOrder(order);
  if (member_ok) FUZZ_CHECK(Policy().HasTier(member.tier()));
  if (!(member_ok && order_ok && rating_ok)) return 0;

  // Stored state is bounded by what validation lets in: amounts up to 10^12
  // per order, counters summed by Redis. Keep the history within what a
  // member could reach (2^53: exact in Lua's doubles).
  constexpr int64_t kBound = int64_t{1} << 53;
  auto* h = sim_case.mutable_history();
  h->set_delivered_orders(Clamp(h->delivered_orders(), kBound));
  h->set_spend_90d_minor(Clamp(h->spend_90d_minor(), kBound));
  h->set_refunds_30d(Clamp(h->refunds_30d(), kBound));
  h->set_refunded_30d_minor(Clamp(h->refunded_30d_minor(), kBound));
  h->set_refunds_90d(Clamp(h->refunds_90d(), kBound));
  h->set_refunded_90d_minor(Clamp(h->refunded_90d_minor(), kBound));
  h->set_low_ratings_30d(Clamp(h->low_ratings_30d(), kBound));
  if (h->has_instant_budget()) {
    h->mutable_instant_budget()->set_balance_minor(
        Clamp(h->instant_budget().balance_minor(), kBound));
  }
  sim_case.set_order_refunded_minor(
      Clamp(sim_case.order_refunded_minor(), order.total_minor()));

  auto inputs = makegood::policy_simulation::CaseToInputs(sim_case);
  FUZZ_CHECK(inputs.ok()) << "a validated case does not convert: "
                          << inputs.status();
  const makegood::policy::PolicyEngine& engine = *Policy().engine;
  auto decision =
      engine.Decide(inputs->member, inputs->order, inputs->rating, inputs->now);
  if (!decision.ok()) return 0;  // e.g. another currency, window closed.
  makegood::fuzz::CheckDecision(engine, inputs->member, inputs->order,
                                *decision);
  auto again =
      engine.Decide(inputs->member, inputs->order, inputs->rating, inputs->now);
  FUZZ_CHECK(again.ok() &&
             makegood::policy_simulation::SameDecision(*decision, *again))
      << "the engine is not deterministic";
  return 0;
}
