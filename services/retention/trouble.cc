#include "services/retention/trouble.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace makegood::retention {
namespace {

bool AnyReason(const makegood::v1::SubmitRatingRequest& request) {
  if (request.reasons_size() > 0) return true;
  for (const makegood::v1::LineRating& line : request.line_ratings()) {
    if (line.reasons_size() > 0) return true;
  }
  return false;
}

}  // namespace

std::string AmountBand(int64_t granted_minor, int64_t total_minor) {
  if (granted_minor <= 0) return "none";
  if (granted_minor >= total_minor) return "full";
  // Integer arithmetic: granted/total <= k/100  <=>  100 granted <= k total.
  if (100 * granted_minor <= 25 * total_minor) return "up_to_25pct";
  if (100 * granted_minor <= 50 * total_minor) return "up_to_50pct";
  return "up_to_99pct";
}

std::string RecoveryLabel(const makegood::v1::SubmitRatingRequest& request,
                          const makegood::v1::Decision& decision) {
  if (AnyReason(request)) return "claim";
  for (const makegood::v1::FollowUp& follow_up : decision.follow_ups()) {
    if (follow_up.kind() == makegood::v1::FOLLOW_UP_KIND_SILENT_RECOVERY) {
      return "silent_recovered";
    }
  }
  return "silent_unrecovered";
}

std::optional<Trouble> TroubleOf(
    bool trouble, const makegood::v1::SubmitRatingRequest& request,
    const makegood::v1::SubmitRatingResponse& response,
    const makegood::v1::Order& order, absl::string_view tier,
    absl::string_view arm, absl::Time at) {
  if (!trouble) return std::nullopt;
  const makegood::v1::Decision& decision = response.decision();
  Trouble out;
  out.rating_id = response.rating_id();
  out.member_id = request.member_id();
  out.at = at;
  out.currency = order.currency();
  out.outcome = std::string(absl::StripPrefix(
      makegood::v1::Outcome_Name(decision.outcome()), "OUTCOME_"));
  out.recovery = RecoveryLabel(request, decision);
  out.instrument = "none";
  if (decision.has_refund() && decision.refund().amount_minor() > 0) {
    out.refund_id = decision.refund().refund_id();
    out.granted_minor = decision.refund().amount_minor();
    out.instrument = std::string(absl::StripPrefix(
        makegood::v1::Instrument_Name(decision.refund().instrument()),
        "INSTRUMENT_"));
  }
  out.amount_band = AmountBand(out.granted_minor, order.total_minor());
  out.policy_version = decision.policy_version();
  out.arm = std::string(arm);
  out.tier = std::string(tier);
  out.store_id = order.store_id();
  out.courier_id = order.courier_id();
  return out;
}

std::string TroubleRecord(const Trouble& t) {
  // The order of store/lua/lib/troubles.lua.
  return absl::StrJoin(
      {absl::StrCat(absl::ToUnixMillis(t.at)), t.currency, t.refund_id,
       absl::StrCat(t.granted_minor), t.outcome, t.recovery, t.instrument,
       t.amount_band, t.policy_version, t.arm, t.tier, t.store_id,
       t.courier_id},
      "\t");
}

std::string DueMember(const Trouble& t) {
  return absl::StrJoin(
      {t.rating_id, t.member_id, t.refund_id, t.store_id, t.courier_id}, "\t");
}

int64_t FirstCloseMs(const Trouble& trouble, absl::Duration day) {
  return absl::ToUnixMillis(trouble.at) +
         (kWindowDays[0] + kGraceDays) * absl::ToInt64Milliseconds(day);
}

std::optional<DueTrouble> ParseDueMember(absl::string_view member) {
  std::vector<std::string> parts = absl::StrSplit(member, '\t');
  if (parts.size() != 5 || parts[0].empty() || parts[1].empty()) {
    return std::nullopt;
  }
  return DueTrouble{.rating_id = std::move(parts[0]),
                    .member_id = std::move(parts[1]),
                    .refund_id = std::move(parts[2]),
                    .store_id = std::move(parts[3]),
                    .courier_id = std::move(parts[4])};
}

}  // namespace makegood::retention
