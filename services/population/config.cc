#include "services/population/config.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "google/protobuf/text_format.h"
#include "makegood/v1/rating.pb.h"
#include "services/population/retention_model.h"

namespace makegood::population {
namespace {

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status CheckRange(const std::string& field, const Range& range, double lo,
                        double hi) {
  if (range.min() < lo || range.max() > hi || range.min() > range.max()) {
    return Bad(field,
               absl::StrCat("want ", lo, " <= min <= max <= ", hi, ", got [",
                            range.min(), ", ", range.max(), "]"));
  }
  return absl::OkStatus();
}

absl::Status CheckProbability(const std::string& field, double p) {
  if (p < 0 || p > 1) return Bad(field, "want a probability in [0, 1]");
  return absl::OkStatus();
}

bool ValidName(const std::string& name) {
  return !name.empty() && name.size() <= 32 &&
         std::all_of(name.begin(), name.end(), [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

}  // namespace

absl::Status CheckConfig(const PopulationConfig& config) {
  if (config.currencies().empty()) return Bad("currencies", "at least one");
  absl::flat_hash_set<std::string> codes;
  for (int i = 0; i < config.currencies_size(); ++i) {
    const CurrencyScale& c = config.currencies(i);
    const std::string at = absl::StrCat("currencies[", i, "]");
    if (c.code().size() != 3 || !codes.insert(c.code()).second) {
      return Bad(at + ".code", "want a unique ISO 4217 code");
    }
    if (!(c.factor() > 0)) return Bad(at + ".factor", "want > 0");
    if (c.round_minor() < 0) return Bad(at + ".round_minor", "want >= 0");
  }
  if (config.catalog().empty()) return Bad("catalog", "at least one product");
  for (int i = 0; i < config.catalog_size(); ++i) {
    const Product& p = config.catalog(i);
    const std::string at = absl::StrCat("catalog[", i, "]");
    if (p.sku().empty()) return Bad(at + ".sku", "required");
    if (p.price_minor() <= 0) return Bad(at + ".price_minor", "want > 0");
    if (p.weight() < 0) return Bad(at + ".weight", "want >= 0");
    for (int r = 0; r < p.problems_size(); ++r) {
      v1::Reason reason;
      if (!v1::Reason_Parse(p.problems(r), &reason) ||
          reason == v1::REASON_UNSPECIFIED) {
        return Bad(absl::StrCat(at, ".problems[", r, "]"),
                   "want a Reason name such as REASON_DAMAGED");
      }
    }
  }
  if (config.segments().empty()) return Bad("segments", "at least one");
  absl::flat_hash_set<std::string> names;
  for (int i = 0; i < config.segments_size(); ++i) {
    const Segment& s = config.segments(i);
    const std::string at = absl::StrCat("segments[", i, "]");
    if (!ValidName(s.name()) || !names.insert(s.name()).second) {
      return Bad(at + ".name", "want a unique name of [a-z0-9_], 1-32");
    }
    if (s.group() == GROUP_UNSPECIFIED) return Bad(at + ".group", "required");
    if (s.claim_style() == CLAIM_STYLE_UNSPECIFIED) {
      return Bad(at + ".claim_style", "required");
    }
    if (s.members() < 0 || s.members() > 100000) {
      return Bad(at + ".members", "want 0-100000");
    }
    if (s.tiers().empty()) return Bad(at + ".tiers", "at least one");
    if (absl::Status st =
            CheckRange(at + ".tenure_days", s.tenure_days(), 0, 36500);
        !st.ok()) {
      return st;
    }
    if (absl::Status st =
            CheckRange(at + ".past_orders", s.past_orders(), 0, 1000);
        !st.ok()) {
      return st;
    }
    // The server's default member rate limit allows a burst of 10 ratings.
    if (absl::Status st =
            CheckRange(at + ".recent_orders", s.recent_orders(), 0, 10);
        !st.ok()) {
      return st;
    }
    if (absl::Status st = CheckRange(at + ".lines", s.lines(), 1, 50);
        !st.ok()) {
      return st;
    }
    if (absl::Status st = CheckRange(at + ".quantity", s.quantity(), 1, 100);
        !st.ok()) {
      return st;
    }
    for (const auto& [field, p] : std::vector<std::pair<std::string, double>>{
             {"verified_probability", s.verified_probability()},
             {"linked_probability", s.linked_probability()},
             {"chargeback_probability", s.chargeback_probability()},
             {"claim_probability", s.claim_probability()},
             {"rate_probability", s.rate_probability()},
             {"silent_low_probability", s.silent_low_probability()},
             {"late_probability", s.late_probability()},
             {"courier_probability", s.courier_probability()},
             {"card_probability", s.card_probability()}}) {
      if (absl::Status st = CheckProbability(absl::StrCat(at, ".", field), p);
          !st.ok()) {
        return st;
      }
    }
    if (s.ring_size() < 0 || s.ring_size() > 100) {
      return Bad(at + ".ring_size", "want 0-100");
    }
  }
  if (config.delivery_fee_minor() < 0) {
    return Bad("delivery_fee_minor", "want >= 0");
  }
  if (config.recent_min_hours() < 0 ||
      config.recent_window_hours() <= config.recent_min_hours()) {
    return Bad("recent_window_hours",
               "want 0 <= recent_min_hours < recent_window_hours");
  }
  if (config.has_retention()) {
    return CheckRetentionModel(config.retention(), config);
  }
  return absl::OkStatus();
}

absl::StatusOr<PopulationConfig> LoadConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read"));
  std::stringstream text;
  text << in.rdbuf();
  PopulationConfig config;
  if (!google::protobuf::TextFormat::ParseFromString(text.str(), &config)) {
    return absl::InvalidArgumentError(
        absl::StrCat(path,
                     ": not a makegood.population.PopulationConfig "
                     "textproto (see services/population/"
                     "population.proto)"));
  }
  if (absl::Status s = CheckConfig(config); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", s.message()));
  }
  return config;
}

absl::StatusOr<CurrencyScale> ScaleFor(const PopulationConfig& config,
                                       const std::string& currency) {
  std::vector<std::string> known;
  for (const CurrencyScale& c : config.currencies()) {
    if (c.code() == currency) return c;
    known.push_back(c.code());
  }
  return absl::NotFoundError(absl::StrCat(
      "the policy serves ", currency, " but the population file scales only ",
      absl::StrJoin(known, ", "), ": add currencies { code: \"", currency,
      "\" factor: ... }"));
}

int64_t Scale(int64_t base_minor, const CurrencyScale& scale) {
  const double raw = static_cast<double>(base_minor) * scale.factor();
  const int64_t step = std::max<int64_t>(1, scale.round_minor());
  const int64_t rounded =
      static_cast<int64_t>(std::llround(raw / static_cast<double>(step))) *
      step;
  return std::max<int64_t>(step, rounded);
}

}  // namespace makegood::population
