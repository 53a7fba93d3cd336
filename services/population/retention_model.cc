#include "services/population/retention_model.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "makegood/v1/rating.pb.h"

namespace makegood::population {
namespace {

constexpr absl::string_view kClaim = "claim";
constexpr absl::string_view kSilentRecovered = "silent_recovered";
constexpr absl::string_view kSilentUnrecovered = "silent_unrecovered";

// Every answer a trouble can get: the outcomes, then the silent labels.
std::vector<std::string> Answers() {
  std::vector<std::string> answers;
  const auto* outcomes = v1::Outcome_descriptor();
  for (int i = 0; i < outcomes->value_count(); ++i) {
    if (outcomes->value(i)->number() == v1::OUTCOME_UNSPECIFIED) continue;
    answers.push_back(AnswerOf(outcomes->value(i)->name(), kClaim));
  }
  answers.emplace_back(kSilentRecovered);
  answers.emplace_back(kSilentUnrecovered);
  return answers;
}

bool KnownAnswer(absl::string_view answer) {
  const std::vector<std::string> answers = Answers();
  return std::find(answers.begin(), answers.end(), answer) != answers.end();
}

const SegmentRetention* OverrideOf(const RetentionModel& model,
                                   absl::string_view segment) {
  for (const SegmentRetention& s : model.segments()) {
    if (s.segment() == segment) return &s;
  }
  return nullptr;
}

double Recovered(const google::protobuf::RepeatedPtrField<AnswerRecovery>& in,
                 absl::string_view answer, double otherwise) {
  for (const AnswerRecovery& a : in) {
    if (a.answer() == answer) return a.recovered();
  }
  return otherwise;
}

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status CheckAnswers(
    const std::string& at,
    const google::protobuf::RepeatedPtrField<AnswerRecovery>& answers) {
  absl::flat_hash_set<std::string> seen;
  for (int i = 0; i < answers.size(); ++i) {
    const AnswerRecovery& a = answers[i];
    const std::string field = absl::StrCat(at, "answers[", i, "]");
    if (!KnownAnswer(a.answer()) || !seen.insert(a.answer()).second) {
      return Bad(field + ".answer",
                 "want an Outcome name without OUTCOME_ (\"REFUND\"), "
                 "\"silent_recovered\" or \"silent_unrecovered\", each once");
    }
    if (!(a.recovered() >= -1 && a.recovered() <= 1)) {
      return Bad(field + ".recovered", "want -1 <= recovered <= 1");
    }
  }
  return absl::OkStatus();
}

bool IsProbability(double p) { return p >= 0 && p <= 1; }

}  // namespace

std::string AnswerOf(absl::string_view outcome, absl::string_view recovery) {
  if (recovery != kClaim) return std::string(recovery);
  constexpr absl::string_view kPrefix = "OUTCOME_";
  if (outcome.substr(0, kPrefix.size()) == kPrefix) {
    outcome.remove_prefix(kPrefix.size());
  }
  return std::string(outcome);
}

double ReorderProbability(const RetentionModel& model,
                          absl::string_view segment, absl::string_view answer) {
  double no_trouble = model.no_trouble_90d();
  double trouble = model.trouble_90d();
  double recovered = Recovered(model.answers(), answer, 0);
  if (const SegmentRetention* s = OverrideOf(model, segment); s != nullptr) {
    if (s->has_no_trouble_90d()) no_trouble = s->no_trouble_90d();
    if (s->has_trouble_90d()) trouble = s->trouble_90d();
    recovered = Recovered(s->answers(), answer, recovered);
  }
  return std::clamp(trouble + recovered * (no_trouble - trouble), 0.0, 1.0);
}

double ReorderProbability(const RetentionModel& model,
                          absl::string_view segment,
                          const std::vector<std::string>& answers) {
  double no_trouble = model.no_trouble_90d();
  if (const SegmentRetention* s = OverrideOf(model, segment);
      s != nullptr && s->has_no_trouble_90d()) {
    no_trouble = s->no_trouble_90d();
  }
  double p = no_trouble;
  for (const std::string& answer : answers) {
    if (no_trouble <= 0) return 0;
    p *= ReorderProbability(model, segment, answer) / no_trouble;
  }
  return std::clamp(p, 0.0, 1.0);
}

int ReorderDay(const RetentionModel& model, double probability,
               const ReorderDraw& draw) {
  if (!(draw.reorder < probability)) return 0;
  int first = 31;
  int last = kMaxReorderDay;
  if (draw.window < model.within_7_days()) {
    first = 1;
    last = 7;
  } else if (draw.window < model.within_30_days()) {
    first = 8;
    last = 30;
  }
  const int span = last - first + 1;
  return first + std::min(span - 1, static_cast<int>(draw.day * span));
}

absl::Status CheckRetentionModel(const RetentionModel& model,
                                 const PopulationConfig& config) {
  const std::string at = "retention.";
  for (const auto& [field, p] : std::vector<std::pair<std::string, double>>{
           {"no_trouble_90d", model.no_trouble_90d()},
           {"trouble_90d", model.trouble_90d()},
           {"within_7_days", model.within_7_days()},
           {"within_30_days", model.within_30_days()}}) {
    if (!IsProbability(p)) return Bad(at + field, "want a value in [0, 1]");
  }
  if (model.within_7_days() > model.within_30_days()) {
    return Bad(at + "within_30_days", "want within_7_days <= within_30_days");
  }
  if (absl::Status s = CheckAnswers(at, model.answers()); !s.ok()) return s;
  absl::flat_hash_set<std::string> segments;
  for (const Segment& s : config.segments()) segments.insert(s.name());
  absl::flat_hash_set<std::string> overridden;
  for (int i = 0; i < model.segments_size(); ++i) {
    const SegmentRetention& s = model.segments(i);
    const std::string field = absl::StrCat(at, "segments[", i, "].");
    if (!segments.contains(s.segment()) ||
        !overridden.insert(s.segment()).second) {
      return Bad(field + "segment", "want a segment's name, each once");
    }
    if (s.has_no_trouble_90d() && !IsProbability(s.no_trouble_90d())) {
      return Bad(field + "no_trouble_90d", "want a value in [0, 1]");
    }
    if (s.has_trouble_90d() && !IsProbability(s.trouble_90d())) {
      return Bad(field + "trouble_90d", "want a value in [0, 1]");
    }
    if (absl::Status st = CheckAnswers(field, s.answers()); !st.ok()) {
      return st;
    }
  }
  // A recovery below 0 or a gap above the baseline can leave [0, 1]: name
  // the first segment and answer that would.
  for (const Segment& segment : config.segments()) {
    const SegmentRetention* s = OverrideOf(model, segment.name());
    const double no_trouble = s != nullptr && s->has_no_trouble_90d()
                                  ? s->no_trouble_90d()
                                  : model.no_trouble_90d();
    const double trouble = s != nullptr && s->has_trouble_90d()
                               ? s->trouble_90d()
                               : model.trouble_90d();
    if (trouble > no_trouble) {
      return Bad(at + "trouble_90d",
                 absl::StrCat("segment ", segment.name(),
                              ": want trouble_90d <= no_trouble_90d (a "
                              "trouble does not make members stay)"));
    }
    for (const std::string& answer : Answers()) {
      double recovered = Recovered(model.answers(), answer, 0);
      if (s != nullptr) recovered = Recovered(s->answers(), answer, recovered);
      const double p = trouble + recovered * (no_trouble - trouble);
      if (!IsProbability(p)) {
        return Bad(at + "answers",
                   absl::StrCat("segment ", segment.name(), " after ", answer,
                                " would reorder with probability ", p,
                                "; want [0, 1]"));
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace makegood::population
