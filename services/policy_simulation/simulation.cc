#include "services/policy_simulation/simulation.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/io/tokenizer.h"
#include "google/protobuf/text_format.h"
#include "google/protobuf/util/json_util.h"
#include "services/policy_proto/engine_proto.h"

namespace makegood::policy_simulation {

using policy_proto::DecisionToProto;
using policy_proto::FromTimestamp;
using policy_proto::HistoryFromProto;
using policy_proto::MemberFromProto;
using policy_proto::OrderFromProto;
using policy_proto::OutcomeToProto;
using policy_proto::ReasonFromProto;
namespace {

namespace v1 = ::makegood::v1;

absl::StatusOr<policy::Percent> SatisfactionFromProto(
    bool present, int32_t value, const std::string& field) {
  if (!present) return absl::InvalidArgumentError(field + ": is required");
  absl::StatusOr<policy::Percent> percent = policy::Percent::FromInt(value);
  if (!percent.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": must be in [0, 100], not ", value));
  }
  return percent;
}

absl::StatusOr<std::vector<policy::Reason>> ReasonsFromProto(
    const google::protobuf::RepeatedField<int>& reasons,
    const std::string& field) {
  std::vector<policy::Reason> out;
  out.reserve(reasons.size());
  for (int i = 0; i < reasons.size(); ++i) {
    std::optional<policy::Reason> reason = ReasonFromProto(reasons[i]);
    if (!reason.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "[", i, "]: must be a known reason, not ", reasons[i]));
    }
    out.push_back(*reason);
  }
  return out;
}

// Money now, as the summaries count it (coupons are not money).
int64_t MoneyNow(const policy::Decision& decision) {
  return decision.refund.has_value() &&
                 decision.refund->instrument != policy::Instrument::kCoupon
             ? decision.refund->amount_minor
             : 0;
}

void Count(const policy::Decision& decision, absl::string_view currency,
           v1::SimulationSummary& summary) {
  ++(*summary.mutable_outcomes())[v1::Outcome_Name(
      OutcomeToProto(decision.outcome))];
  const std::string key(currency);
  (*summary.mutable_refunded_minor())[key] += MoneyNow(decision);
  (*summary.mutable_review_minor())[key] += decision.review_amount_minor;
}

}  // namespace

absl::StatusOr<CaseInputs> CaseToInputs(const v1::SimulationCase& sim_case) {
  CaseInputs in;
  in.member = MemberFromProto(sim_case.member());
  if (sim_case.has_history()) HistoryFromProto(sim_case.history(), in.member);
  in.order = OrderFromProto(sim_case.order(), sim_case.order_refunded_minor());

  const v1::SubmitRatingRequest& rating = sim_case.rating();
  absl::StatusOr<policy::Percent> satisfaction = SatisfactionFromProto(
      rating.has_satisfaction_percent(), rating.satisfaction_percent(),
      "rating.satisfaction_percent");
  if (!satisfaction.ok()) return satisfaction.status();
  in.rating.satisfaction = *satisfaction;
  absl::StatusOr<std::vector<policy::Reason>> reasons =
      ReasonsFromProto(rating.reasons(), "rating.reasons");
  if (!reasons.ok()) return reasons.status();
  in.rating.reasons = *std::move(reasons);
  for (int i = 0; i < rating.line_ratings_size(); ++i) {
    const v1::LineRating& line = rating.line_ratings(i);
    const std::string at = absl::StrCat("rating.line_ratings[", i, "]");
    absl::StatusOr<policy::Percent> line_satisfaction = SatisfactionFromProto(
        line.has_satisfaction_percent(), line.satisfaction_percent(),
        at + ".satisfaction_percent");
    if (!line_satisfaction.ok()) return line_satisfaction.status();
    absl::StatusOr<std::vector<policy::Reason>> line_reasons =
        ReasonsFromProto(line.reasons(), at + ".reasons");
    if (!line_reasons.ok()) return line_reasons.status();
    in.rating.line_ratings.push_back({.line_id = line.line_id(),
                                      .satisfaction = *line_satisfaction,
                                      .reasons = *std::move(line_reasons)});
  }
  in.now = sim_case.has_rated_at() ? FromTimestamp(sim_case.rated_at())
                                   : in.order.delivered_at + absl::Hours(1);
  return in;
}

bool SameDecision(const policy::Decision& a, const policy::Decision& b) {
  return a.outcome == b.outcome && a.refund == b.refund &&
         a.review_amount_minor == b.review_amount_minor &&
         a.replacement_line_ids == b.replacement_line_ids &&
         a.follow_ups == b.follow_ups && a.reason_codes == b.reason_codes;
}

SimulationResult Simulate(const policy::PolicyEngine& candidate,
                          const policy::PolicyEngine* baseline,
                          absl::Span<const v1::SimulationCase> cases) {
  SimulationResult result;
  v1::SimulatePolicyResponse& response = result.response;
  response.mutable_candidate()->set_policy_version(candidate.version());
  if (baseline != nullptr) {
    response.mutable_active()->set_policy_version(baseline->version());
  }
  for (size_t i = 0; i < cases.size(); ++i) {
    const v1::SimulationCase& sim_case = cases[i];
    const auto fail = [&](absl::Status status) {
      result.errors.push_back({.index = static_cast<int>(i),
                               .case_id = sim_case.case_id(),
                               .status = std::move(status)});
    };
    absl::StatusOr<CaseInputs> in = CaseToInputs(sim_case);
    if (!in.ok()) {
      fail(in.status());
      continue;
    }
    absl::StatusOr<policy::Decision> decided =
        candidate.Decide(in->member, in->order, in->rating, in->now);
    if (!decided.ok()) {
      fail(decided.status());
      continue;
    }
    std::optional<policy::Decision> before;
    if (baseline != nullptr) {
      absl::StatusOr<policy::Decision> b =
          baseline->Decide(in->member, in->order, in->rating, in->now);
      if (!b.ok()) {
        fail(absl::Status(
            b.status().code(),
            absl::StrCat("baseline policy: ", b.status().message())));
        continue;
      }
      before = *std::move(b);
    }
    response.set_cases_evaluated(response.cases_evaluated() + 1);
    Count(*decided, in->order.currency, *response.mutable_candidate());
    if (!before.has_value()) continue;
    Count(*before, in->order.currency, *response.mutable_active());
    if (!SameDecision(*before, *decided)) {
      v1::CaseDifference* difference = response.add_differences();
      difference->set_case_id(sim_case.case_id());
      *difference->mutable_active() = DecisionToProto(*before);
      *difference->mutable_candidate() = DecisionToProto(*decided);
    }
  }
  return result;
}

absl::StatusOr<std::vector<v1::SimulationCase>> ParseSimulationCases(
    absl::string_view text) {
  std::vector<v1::SimulationCase> cases;
  // JSON lines if the first line that is neither blank nor a comment opens
  // an object.
  bool json_lines = false;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    json_lines = line.front() == '{';
    break;
  }
  if (json_lines) {
    int line_number = 0;
    for (absl::string_view line : absl::StrSplit(text, '\n')) {
      ++line_number;
      line = absl::StripAsciiWhitespace(line);
      if (line.empty() || line.front() == '#') continue;
      v1::SimulationCase& sim_case = cases.emplace_back();
      const auto status = google::protobuf::util::JsonStringToMessage(
          std::string(line), &sim_case);
      if (!status.ok()) {
        return absl::InvalidArgumentError(absl::StrCat(
            "line ", line_number,
            ": not a SimulationCase: ", std::string(status.message())));
      }
    }
    return cases;
  }
  // Textproto: collect errors as "line:column: message".
  class Errors final : public google::protobuf::io::ErrorCollector {
   public:
    void AddError(int line, google::protobuf::io::ColumnNumber column,
                  const std::string& message) override {
      errors.push_back(absl::StrCat(line + 1, ":", column + 1, ": ", message));
    }
    std::vector<std::string> errors;
  } errors;
  google::protobuf::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  v1::SimulationCases all;
  if (!parser.ParseFromString(std::string(text), &all)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "cases do not parse: ", absl::StrJoin(errors.errors, "; ")));
  }
  cases.assign(all.cases().begin(), all.cases().end());
  return cases;
}

}  // namespace makegood::policy_simulation
