// File: services/tools/admin/options.h
//
// makegood_admin's command line: the command, its flags, and the exit codes
// every command shares.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace makegood::admin {

inline constexpr int kOk = 0;
inline constexpr int kFound =
    1;  // Violations, or refunds left for an operator.
inline constexpr int kError = 2;

struct Options {
  std::string command;
  std::string redis_url;
  int partitions = 0;  // 0: mg:meta's, else 64.
  absl::Duration stale_after = absl::Seconds(60);
  bool fix = false;
  std::string fallback = "wallet";
  std::string http_url;
  std::string http_api_key_file;
  std::string http_ca;
  bool pretty = false;
  std::string refund_id;
  std::string operator_id;
  std::string reason = "operator_redrive";
  int limit = 1000;
  // check: the policy file whose served currencies orders are checked
  // against ("" for none).
  std::string policy_path;
};

// Parses argv (without the program name); on a usage error returns the
// message.
absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args);

// Prints `why` and the usage text on stderr; returns kError.
int Usage(absl::string_view why);

}  // namespace makegood::admin
