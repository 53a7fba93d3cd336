// File: services/population/config.h
//
// The population's parameter file (population.proto, e.g.
// config/population/default.textproto): read, checked, and the money scale of
// one currency.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "services/population/population.pb.h"

namespace makegood::population {

// Parses the textproto at `path` and checks it: every segment named, sized,
// grouped and tiered; ranges ordered; probabilities in [0, 1]; products
// priced; problems valid Reason names; currencies scaled; the retention
// model, if any, as CheckRetentionModel. The error names the file and the
// field.
absl::StatusOr<PopulationConfig> LoadConfig(const std::string& path);

// The same checks on a config already in memory (tests build their own).
absl::Status CheckConfig(const PopulationConfig& config);

// The scale of `currency`; NOT_FOUND naming the currency and the listed ones.
absl::StatusOr<CurrencyScale> ScaleFor(const PopulationConfig& config,
                                       const std::string& currency);

// `base_minor` euro cents in `scale`'s currency, rounded to its step (at least
// one minor unit).
int64_t Scale(int64_t base_minor, const CurrencyScale& scale);

}  // namespace makegood::population
