// File: tests/fuzz/policy_text_fuzzer.cc
//
// The policy file path: textproto -> ParsePolicyText -> ValidatePolicy ->
// ToPolicyConfig -> engine, as the server and `makegood_policy validate` do.
// Properties, besides "never crashes":
//   - the validation layers agree: ValidatePolicy finds no violation exactly
//     when ToPolicyConfig and BuildPolicySnapshot succeed; every violation
//     names a field and says what is wrong;
//   - text round trip: the parsed document printed as textproto parses back
//     to the same document and the same version;
//   - config round trip (policy_convert.h's promise): for a valid document,
//     ToPolicyConfig(FromPolicyConfig(c)) == c, and FromPolicyConfig is a
//     fixed point;
//   - under any valid policy, the engine's decisions on a few probe ratings
//     keep the money promises (decision_checks.h).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/policy/inputs.h"
#include "services/policy/percent.h"
#include "services/policy_file/policy_document.h"
#include "services/policy_proto/policy_convert.h"
#include "tests/fuzz/decision_checks.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace pf = makegood::policy_file;
namespace pp = makegood::policy_proto;
namespace policy = makegood::policy;
using google::protobuf::util::MessageDifferencer;

const absl::Time kNow = absl::FromUnixSeconds(1780272000);

// A few ratings of a 100.00 order, from mildly to very unhappy, for every
// tier and a member with or without refunds behind them.
void Probe(const policy::PolicyEngine& engine) {
  const policy::PolicyConfig& config = engine.config();
  policy::OrderSnapshot order;
  order.order_id = "o-1";
  order.store_id = "s-1";
  order.courier_id = "c-1";
  order.currency = config.currency;
  order.total_minor = 10000;
  order.delivery_fee_minor = 500;
  order.lines = {{.line_id = "l1",
                  .sku = "sku-1",
                  .category = "food",
                  .quantity = 2,
                  .amount_minor = 6000},
                 {.line_id = "l2",
                  .sku = "sku-2",
                  .category = "drinks",
                  .quantity = 1,
                  .amount_minor = 3500}};
  order.delivered_at = kNow - absl::Hours(2);
  for (const policy::TierConfig& tier : config.tiers) {
    for (int history = 0; history < 2; ++history) {
      policy::MemberSnapshot member;
      member.member_id = "m-1";
      member.tier = tier.name;
      member.member_since = kNow - absl::Hours(24 * 400);
      member.history.delivered_orders = 40;
      member.history.spend_90d_minor = 200000;
      if (history == 1) {
        member.history.refunds_30d = 2;
        member.history.refunded_30d_minor = 4000;
        member.history.refunds_90d = 3;
        member.history.refunded_90d_minor = 5000;
        order.refunded_minor = 2500;
      } else {
        order.refunded_minor = 0;
      }
      for (int satisfaction : {0, 20, 60}) {
        policy::RatingInput rating;
        rating.satisfaction = policy::Percent::Clamped(satisfaction);
        rating.reasons = {policy::Reason::kMissingItem,
                          policy::Reason::kDamaged};
        rating.line_ratings = {{.line_id = "l1",
                                .satisfaction = policy::Percent::Clamped(0),
                                .reasons = {policy::Reason::kMissingItem}}};
        auto decision = engine.Decide(member, order, rating, kNow);
        if (!decision.ok()) continue;
        makegood::fuzz::CheckDecision(engine, member, order, *decision);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<makegood::v1::Policy> document = pf::ParsePolicyText(text);
  if (!document.ok()) {
    FUZZ_CHECK(document.status().code() == absl::StatusCode::kInvalidArgument)
        << document.status();
    return 0;
  }
  const std::string version = pf::PolicyVersion(*document);
  FUZZ_CHECK(pf::PolicyVersion(*document) == version);

  // Text round trip.
  std::string printed;
  FUZZ_CHECK(google::protobuf::TextFormat::PrintToString(*document, &printed));
  absl::StatusOr<makegood::v1::Policy> reparsed = pf::ParsePolicyText(printed);
  FUZZ_CHECK(reparsed.ok()) << reparsed.status() << "\n" << printed;
  FUZZ_CHECK(MessageDifferencer::Equals(*document, *reparsed)) << printed;
  FUZZ_CHECK(pf::PolicyVersion(*reparsed) == version);

  // The validation layers agree.
  const std::vector<pf::PolicyViolation> violations =
      pf::ValidatePolicy(*document);
  for (const pf::PolicyViolation& v : violations) {
    FUZZ_CHECK(!v.field.empty() && !v.description.empty())
        << "\"" << v.field << "\": \"" << v.description << "\"";
  }
  absl::StatusOr<policy::PolicyConfig> config = pp::ToPolicyConfig(*document);
  FUZZ_CHECK(config.ok() == violations.empty())
      << config.status() << " with " << violations.size() << " violations";
  absl::StatusOr<pf::PolicySnapshot> snapshot =
      pf::BuildPolicySnapshot(*document, kNow);
  FUZZ_CHECK(snapshot.ok() == violations.empty()) << snapshot.status();
  if (!config.ok()) return 0;

  FUZZ_CHECK(snapshot->version == version);
  for (const auto& tier : document->tiers()) {
    FUZZ_CHECK(snapshot->HasTier(tier.name()));
  }
  // Config round trip.
  const makegood::v1::Policy back = pp::FromPolicyConfig(*config);
  FUZZ_CHECK(pf::ValidatePolicy(back).empty());
  absl::StatusOr<policy::PolicyConfig> again = pp::ToPolicyConfig(back);
  FUZZ_CHECK(again.ok()) << again.status();
  FUZZ_CHECK(*again == *config) << "ToPolicyConfig(FromPolicyConfig(c)) != c";
  FUZZ_CHECK(MessageDifferencer::Equals(pp::FromPolicyConfig(*again), back))
      << "FromPolicyConfig is not a fixed point";

  Probe(*snapshot->engine);
  return 0;
}
