// File: services/tools/loadgen/flags.h
//
// makegood_loadgen's command-line flags (defined in flags.cc, which is also
// what --help lists) and its help text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/time/time.h"

ABSL_DECLARE_FLAG(std::string, target);
ABSL_DECLARE_FLAG(std::string, mode);
ABSL_DECLARE_FLAG(double, rate);
ABSL_DECLARE_FLAG(int, concurrency);
ABSL_DECLARE_FLAG(int, max_in_flight);
ABSL_DECLARE_FLAG(absl::Duration, duration);
ABSL_DECLARE_FLAG(absl::Duration, warmup);
ABSL_DECLARE_FLAG(absl::Duration, timeout);
ABSL_DECLARE_FLAG(int, channels);
ABSL_DECLARE_FLAG(absl::Duration, wait_serving);
ABSL_DECLARE_FLAG(bool, setup);
ABSL_DECLARE_FLAG(bool, setup_only);
ABSL_DECLARE_FLAG(int, members);
ABSL_DECLARE_FLAG(int, orders_per_member);
ABSL_DECLARE_FLAG(int, setup_concurrency);
ABSL_DECLARE_FLAG(int, replay_keys);
ABSL_DECLARE_FLAG(bool, replay_prime);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(std::string, id_prefix);
ABSL_DECLARE_FLAG(std::vector<std::string>, metadata);
ABSL_DECLARE_FLAG(std::string, instrument);
ABSL_DECLARE_FLAG(int64_t, settle_orders);
ABSL_DECLARE_FLAG(absl::Duration, settle_timeout);
ABSL_DECLARE_FLAG(double, max_error_ratio);

namespace makegood::loadgen {

// Whether argv asks for help (--help, -help, -h, --helpfull).
bool WantsHelp(int argc, char** argv);

// The usage text: the tool's summary plus every flag of flags.cc.
std::string HelpText();

}  // namespace makegood::loadgen
