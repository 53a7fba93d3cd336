// File: tests/fuzz/server_flags_fuzzer.cc
//
// The server's flag and environment parsing: any values for the flags of
// services/server/config.cc (absl's own parsers: durations, integers, bools)
// through ConfigFromFlags, and the custom parsers behind them with the same
// values: RateLimits::Parse (--rate_limits), ParseSandboxSpec (--sandbox),
// ParseLogLevel, ParseJwtAlgorithm, CheckInsecureAllowed (--insecure_dev
// with --listen), ParseRoleList.
//
// The input is text, one `name=value` per line (a line without '=' sets
// nothing; the value is the rest of the line, C-escaped: \n, \x00). It
// starts from the smallest valid configuration (--policy and --insecure_dev
// on loopback), so the checks after the first flags are reached.
//
// Properties, besides "never crashes":
//   - an accepted configuration holds what ConfigFromFlags promises (every
//     range it checks) and its Redis options are what redis::ParseRedisUrl
//     makes of --redis;
//   - rate limits: enabled limits have a finite positive rate and interval,
//     bursts >= 1;
//   - sandbox specs: probabilities in [0, 1] summing to at most 1, latencies
//     finite and >= 0;
//   (known defects in code owned elsewhere: see CheckKnownIssues)
//   - CheckInsecureAllowed accepts only a loopback host (127.0.0.0/8, ::1,
//     localhost) as it would be handed to gRPC;
//   - ParseJwtAlgorithm and JwtAlgorithmName, ParseRoleList and ToString
//     round-trip.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/auth/authenticator.h"
#include "services/auth/jwt_verifier.h"
#include "services/auth/role.h"
#include "services/core/log.h"
#include "services/rating/rate_limits.h"
#include "services/redis/redis_client.h"
#include "services/server/config.h"
#include "services/settlement/sandbox_provider.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

namespace auth = makegood::auth;

// Independent of authenticator.cc: is `listen` ("host:port", "[v6]:port")
// a loopback address as gRPC reads it?
bool LoopbackListen(absl::string_view listen) {
  absl::string_view host = listen;
  if (absl::StartsWith(host, "[")) {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    host = host.substr(1, close - 1);
  } else if (size_t colon = host.rfind(':');
             colon != absl::string_view::npos && host.find(':') == colon) {
    host = host.substr(0, colon);
  }
  if (absl::StrContains(host, '\0')) return false;
  if (absl::EqualsIgnoreCase(host, "localhost")) return true;
  const std::string text(host);
  in_addr v4;
  if (inet_pton(AF_INET, text.c_str(), &v4) == 1) {
    return (ntohl(v4.s_addr) >> 24) == 127;
  }
  in6_addr v6;
  return inet_pton(AF_INET6, text.c_str(), &v6) == 1 &&
         IN6_IS_ADDR_LOOPBACK(&v6);
}

void CheckLimit(const makegood::rating::LimitSpec& spec) {
  FUZZ_CHECK(spec.burst >= 1) << spec.burst;
  if (!spec.enabled()) return;
  FUZZ_CHECK(spec.rate_per_second > 0) << "rate " << spec.rate_per_second;
  // Found by this fuzzer: "inf/s" or "1e400/s" gave an infinite rate
  // (interval 0: no limit at all), "1e-320/h" an infinite interval.
  FUZZ_CHECK(std::isfinite(spec.rate_per_second))
      << "rate " << spec.rate_per_second;
  FUZZ_CHECK(std::isfinite(spec.interval_ms()) && spec.interval_ms() > 0)
      << "interval " << spec.interval_ms() << " ms";
}

void CheckParsers(absl::string_view name, absl::string_view value) {
  if (name == "rate_limits") {
    auto limits = makegood::rating::RateLimits::Parse(value);
    if (limits.ok()) {
      for (absl::string_view entry : absl::StrSplit(value, ',')) {
        absl::string_view method = entry.substr(0, entry.find('.'));
        method = absl::StripAsciiWhitespace(method);
        CheckLimit(limits->For(method).member);
        CheckLimit(limits->For(method).client);
      }
      CheckLimit(limits->For("SubmitRating").member);
      CheckLimit(limits->For("SubmitRating").client);
    }
  } else if (name == "sandbox") {
    auto spec = makegood::settlement::ParseSandboxSpec(value);
    if (spec.ok()) {
      // Found by this fuzzer: "decline=nan" was accepted (NaN passes both
      // range checks), and so was "latency=inf".
      for (double p :
           {spec->decline, spec->error, spec->commit_timeout, spec->slow}) {
        FUZZ_CHECK(p >= 0 && p <= 1) << "probability " << p;
      }
      FUZZ_CHECK(
          spec->decline + spec->error + spec->commit_timeout + spec->slow <= 1);
      for (absl::Duration d : {spec->latency, spec->slow_latency}) {
        FUZZ_CHECK(d >= absl::ZeroDuration()) << "latency " << d;
        FUZZ_CHECK(d < absl::InfiniteDuration()) << "latency " << d;
      }
    }
  } else if (name == "log_level") {
    makegood::LogLevel level;
    (void)makegood::ParseLogLevel(value, &level);
  } else if (name == "jwt_algorithm") {
    if (auto algorithm = auth::ParseJwtAlgorithm(value)) {
      FUZZ_CHECK(auth::JwtAlgorithmName(*algorithm) == value);
    }
  } else if (name == "listen") {
    if (auth::CheckInsecureAllowed(value).ok()) {
      FUZZ_CHECK(LoopbackListen(value))
          << "insecure mode allowed on \"" << absl::CEscape(value) << "\"";
    }
  } else if (name == "roles") {
    auto roles = auth::ParseRoleList(value);
    if (roles.ok() && !roles->empty()) {
      auto again = auth::ParseRoleList(roles->ToString());
      FUZZ_CHECK(again.ok() && *again == *roles) << roles->ToString();
    }
  }
}

void CheckConfig(const makegood::server::ServerConfig& c) {
  FUZZ_CHECK(absl::StrContains(c.listen, ':'));
  FUZZ_CHECK(c.redis.connections >= 1 && c.redis.connections <= 64);
  FUZZ_CHECK(c.redis.command_timeout > absl::ZeroDuration());
  FUZZ_CHECK(c.redis.connect_timeout > absl::ZeroDuration());
  FUZZ_CHECK(c.redis.max_outstanding >= 1);
  FUZZ_CHECK(!c.policy_path.empty());
  FUZZ_CHECK(c.policy_reload_interval >= absl::ZeroDuration());
  FUZZ_CHECK(c.partitions >= 1 && c.partitions <= 16384);
  FUZZ_CHECK(c.max_message_bytes >= 1024);
  FUZZ_CHECK(c.shutdown_grace >= absl::ZeroDuration());
  FUZZ_CHECK(c.health_interval > absl::ZeroDuration());
  FUZZ_CHECK(c.rating.idempotency_ttl >= absl::Minutes(1));
  FUZZ_CHECK(c.rating.claim_lease >= absl::Seconds(1));
  CheckLimit(c.rating.limits.For("SubmitRating").member);
  CheckLimit(c.rating.limits.For("SubmitRating").client);
  if (c.insecure_dev) {
    FUZZ_CHECK(LoopbackListen(c.listen))
        << "insecure mode on \"" << absl::CEscape(c.listen) << "\"";
  } else {
    FUZZ_CHECK(!c.tls.cert_file.empty() && !c.tls.key_file.empty());
  }
  FUZZ_CHECK(c.auth.insecure_dev == c.insecure_dev);
  FUZZ_CHECK(c.goodwill.agent_daily_budget_minor >= 0);
  FUZZ_CHECK(c.goodwill.member_budget_minor >= 0);
  FUZZ_CHECK(c.settlement.card_provider == "sandbox" ||
             c.settlement.card_provider == "http");
  FUZZ_CHECK(c.settlement.fallback == "wallet" ||
             c.settlement.fallback.empty());
  FUZZ_CHECK(c.settlement.max_in_flight >= 1);
  FUZZ_CHECK(c.settlement.max_deliveries >= 1);
  FUZZ_CHECK(c.settlement.retry_after >= absl::Milliseconds(10));
  FUZZ_CHECK(c.serve_api || c.settlement.run_worker || c.insights_aggregator);
  FUZZ_CHECK(!c.settlement.consumer.empty());
  makegood::redis::RedisOptions expected = c.redis;
  FUZZ_CHECK(makegood::redis::ParseRedisUrl(c.redis_url, &expected).ok());
  FUZZ_CHECK(expected.host == c.redis.host && expected.port == c.redis.port &&
             expected.db == c.redis.db &&
             expected.sentinels == c.redis.sentinels);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::FlagSaver restore_flags_after_this_input;
  std::string error;
  FUZZ_CHECK(
      absl::FindCommandLineFlag("policy")->ParseFrom("p.textproto", &error));
  FUZZ_CHECK(
      absl::FindCommandLineFlag("insecure_dev")->ParseFrom("true", &error));
  for (absl::string_view line : absl::StrSplit(
           absl::string_view(reinterpret_cast<const char*>(data), size),
           '\n')) {
    std::pair<absl::string_view, absl::string_view> kv =
        absl::StrSplit(line, absl::MaxSplits('=', 1));
    std::string value;
    if (!absl::CUnescape(kv.second, &value)) continue;
    CheckParsers(kv.first, value);
    absl::CommandLineFlag* flag =
        absl::FindCommandLineFlag(std::string(kv.first));
    if (flag == nullptr || !absl::EndsWith(flag->Filename(), "config.cc")) {
      continue;
    }
    (void)flag->ParseFrom(value, &error);
  }
  absl::StatusOr<makegood::server::ServerConfig> config =
      makegood::server::ConfigFromFlags();
  if (config.ok()) {
    CheckConfig(*config);
  } else {
    FUZZ_CHECK(config.status().code() == absl::StatusCode::kInvalidArgument)
        << config.status();
  }
  return 0;
}
