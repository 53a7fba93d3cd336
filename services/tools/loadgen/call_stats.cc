#include "services/tools/loadgen/call_stats.h"

#include <algorithm>
#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace makegood::loadgen {

std::string StatusCodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

int CodeIndex(grpc::StatusCode code) {
  int index = static_cast<int>(code);
  return index >= 0 && index < kStatusCodes ? index
                                            : static_cast<int>(grpc::UNKNOWN);
}

std::string CodesJson(const CodeCounts& counts) {
  std::vector<std::string> parts;
  for (int code = 0; code < kStatusCodes; ++code) {
    if (counts[code] == 0) continue;
    parts.push_back(
        absl::StrCat("\"", StatusCodeName(code), "\":", counts[code]));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

int64_t PercentileUs(const std::vector<int64_t>& sorted, double p) {
  if (sorted.empty()) return 0;
  auto rank = static_cast<size_t>(
      std::ceil(p / 100.0 * static_cast<double>(sorted.size())));
  rank = std::clamp<size_t>(rank, 1, sorted.size());
  return (sorted[rank - 1] + 500) / 1000;
}

// {"p50":..,"p90":..,"p99":..,"p999":..,"max":..,"mean":..} in microseconds,
// or null without samples. Sorts `ns`.
std::string LatencyJson(std::vector<int64_t>& ns) {
  if (ns.empty()) return "null";
  std::sort(ns.begin(), ns.end());
  double sum = 0;
  for (int64_t value : ns) sum += static_cast<double>(value);
  return absl::StrFormat(
      "{\"p50\":%d,\"p90\":%d,\"p99\":%d,\"p999\":%d,\"max\":%d,"
      "\"mean\":%.1f}",
      PercentileUs(ns, 50), PercentileUs(ns, 90), PercentileUs(ns, 99),
      PercentileUs(ns, 99.9), PercentileUs(ns, 100),
      sum / 1000.0 / static_cast<double>(ns.size()));
}

}  // namespace makegood::loadgen
