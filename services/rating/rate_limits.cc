#include "services/rating/rate_limits.h"

#include <cmath>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace makegood::rating {

RateLimits RateLimits::Defaults() {
  RateLimits limits;
  MethodLimits& rating = limits.methods_["SubmitRating"];
  rating.member = {.rate_per_second = 30.0 / 60, .burst = 10, .shadow = false};
  rating.client = {.rate_per_second = 2000, .burst = 4000, .shadow = false};
  return limits;
}

absl::StatusOr<RateLimits> RateLimits::Parse(absl::string_view text) {
  RateLimits limits = Defaults();
  for (absl::string_view entry :
       absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    auto bad = [entry](absl::string_view why) {
      return absl::InvalidArgumentError(absl::StrCat(
          "rate limit \"", entry, "\": ", why,
          " (want Method.member|client=COUNT/s|m|h[:burst=N][:shadow] or "
          "=off)"));
    };
    std::vector<absl::string_view> key_value = absl::StrSplit(entry, '=');
    if (key_value.size() < 2) return bad("missing =");
    std::vector<absl::string_view> method_scope =
        absl::StrSplit(key_value[0], '.');
    if (method_scope.size() != 2 || method_scope[0].empty()) {
      return bad("want Method.scope before =");
    }
    MethodLimits& method = limits.methods_[std::string(method_scope[0])];
    LimitSpec* spec = nullptr;
    if (method_scope[1] == "member") {
      spec = &method.member;
    } else if (method_scope[1] == "client") {
      spec = &method.client;
    } else {
      return bad("scope must be member or client");
    }
    std::vector<absl::string_view> parts =
        absl::StrSplit(entry.substr(key_value[0].size() + 1), ':');
    if (parts[0] == "off") {
      if (parts.size() != 1) return bad("nothing may follow off");
      *spec = LimitSpec{.rate_per_second = 0, .burst = 1, .shadow = false};
      continue;
    }
    std::vector<absl::string_view> rate = absl::StrSplit(parts[0], '/');
    double count = 0;
    if (rate.size() != 2 || !absl::SimpleAtod(rate[0], &count) ||
        !(count > 0)) {
      return bad("rate must be a positive COUNT/UNIT");
    }
    double per_second;
    if (rate[1] == "s") {
      per_second = count;
    } else if (rate[1] == "m") {
      per_second = count / 60;
    } else if (rate[1] == "h") {
      per_second = count / 3600;
    } else {
      return bad("unit must be s, m or h");
    }
    // "inf/s" would mean no limit at all and "1e-320/h" an interval too long
    // to represent: both are typos, never a limit anyone meant.
    if (!std::isfinite(per_second) || !std::isfinite(1000.0 / per_second) ||
        per_second > 1e9) {
      return bad("rate must be a finite COUNT/UNIT of at most 1e9/s");
    }
    LimitSpec parsed{
        .rate_per_second = per_second, .burst = 1, .shadow = false};
    for (size_t i = 1; i < parts.size(); ++i) {
      if (parts[i] == "shadow") {
        parsed.shadow = true;
      } else if (absl::ConsumePrefix(&parts[i], "burst=")) {
        if (!absl::SimpleAtoi(parts[i], &parsed.burst) || parsed.burst < 1) {
          return bad("burst must be a whole number >= 1");
        }
      } else {
        return bad(absl::StrCat("unknown option \"", parts[i], "\""));
      }
    }
    *spec = parsed;
  }
  return limits;
}

MethodLimits RateLimits::For(absl::string_view method) const {
  auto it = methods_.find(method);
  if (it == methods_.end()) return MethodLimits{};
  return it->second;
}

}  // namespace makegood::rating
