// File: tests/fuzz/redis_url_fuzzer.cc
//
// makegood::redis::ParseRedisUrl (--redis / MAKEGOOD_REDIS), direct and
// Sentinel forms. Properties, besides "never crashes":
//   - a refused URL leaves the options untouched (INVALID_ARGUMENT);
//   - an accepted one gives what makegood::redis::HiredisClient::Start needs:
//   direct mode
//   a
//     host without spaces and a port 1-65535; Sentinel mode a master name
//     without ? space , @ : and at least one sentinel, each with a host and a
//     port 1-65535, and no direct host; db 0-1000; the other fields (timeouts,
//     connections) keep their values;
//   - round trip: the options written back as a URL parse to the same
//     options (unless a credential contains "?sentinel_password=", which the
//     format cannot carry, as redis_client.h says);
//   - makegood::redis::DescribeRedisTarget (logged) does not depend on the
//   credentials.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/redis/hiredis_client.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using makegood::redis::RedisAddress;
using makegood::redis::RedisOptions;

bool SameAddressFields(const makegood::redis::RedisOptions& a,
                       const makegood::redis::RedisOptions& b) {
  return a.host == b.host && a.port == b.port && a.db == b.db &&
         a.username == b.username && a.password == b.password &&
         a.sentinels == b.sentinels && a.sentinel_master == b.sentinel_master &&
         a.sentinel_password == b.sentinel_password &&
         a.cluster_nodes == b.cluster_nodes;
}

bool SameOtherFields(const makegood::redis::RedisOptions& a,
                     const makegood::redis::RedisOptions& b) {
  return a.connections == b.connections &&
         a.command_timeout == b.command_timeout &&
         a.connect_timeout == b.connect_timeout &&
         a.max_outstanding == b.max_outstanding &&
         a.sentinel_timeout == b.sentinel_timeout &&
         a.sentinel_check_interval == b.sentinel_check_interval;
}

makegood::redis::RedisOptions Start() {
  makegood::redis::RedisOptions options;
  options.host = "previous-host";
  options.port = 7000;
  options.db = 3;
  options.username = "previous-user";
  options.password = "previous-password";
  options.sentinels = {{"previous-sentinel", 26380}};
  options.sentinel_master = "previous-master";
  options.sentinel_password = "previous-sentinel-password";
  options.cluster_nodes = {{"previous-node", 7001}};
  options.connections = 5;
  options.command_timeout = absl::Milliseconds(1234);
  return options;
}

bool GoodPort(int port) { return port >= 1 && port <= 65535; }

std::string ToUrl(const makegood::redis::RedisOptions& o) {
  std::string credentials;
  if (!o.username.empty() || !o.password.empty()) {
    credentials = absl::StrCat(o.username, ":", o.password, "@");
  }
  if (!o.cluster_nodes.empty()) {
    return absl::StrCat(
        "redis-cluster://", credentials,
        absl::StrJoin(o.cluster_nodes, ",",
                      [](std::string* out, const RedisAddress& a) {
                        out->append(makegood::redis::FormatRedisAddress(a));
                      }));
  }
  if (o.sentinels.empty()) {
    return absl::StrCat("redis://", credentials,
                        makegood::redis::FormatRedisAddress({o.host, o.port}),
                        "/", o.db);
  }
  std::string url = absl::StrCat(
      "redis-sentinel://", credentials,
      absl::StrJoin(
          o.sentinels, ",",
          [](std::string* out, const makegood::redis::RedisAddress& a) {
            out->append(makegood::redis::FormatRedisAddress(a));
          }),
      "/", o.sentinel_master, "/", o.db);
  if (!o.sentinel_password.empty()) {
    absl::StrAppend(&url, "?sentinel_password=", o.sentinel_password);
  }
  return url;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view url(reinterpret_cast<const char*>(data), size);
  const makegood::redis::RedisOptions before = Start();
  makegood::redis::RedisOptions options = before;
  absl::Status status = makegood::redis::ParseRedisUrl(url, &options);
  if (!status.ok()) {
    FUZZ_CHECK(status.code() == absl::StatusCode::kInvalidArgument) << status;
    FUZZ_CHECK(SameAddressFields(options, before) &&
               SameOtherFields(options, before))
        << "a refused URL changed the options";
    return 0;
  }
  FUZZ_CHECK(SameOtherFields(options, before));
  FUZZ_CHECK(options.db >= 0 && options.db <= 1000) << options.db;
  FUZZ_CHECK(options.sentinels.empty() || options.cluster_nodes.empty());
  if (!options.cluster_nodes.empty()) {
    FUZZ_CHECK(absl::StartsWith(url, "redis-cluster://"));
    FUZZ_CHECK(options.host.empty() && options.port == 0);
    FUZZ_CHECK(options.db == 0) << options.db;
    FUZZ_CHECK(options.sentinel_master.empty());
    for (const makegood::redis::RedisAddress& n : options.cluster_nodes) {
      FUZZ_CHECK(!n.host.empty() && !absl::StrContains(n.host, ' '));
      FUZZ_CHECK(GoodPort(n.port)) << n.port;
    }
  } else if (options.sentinels.empty()) {
    FUZZ_CHECK(absl::StartsWith(url, "redis://"));
    FUZZ_CHECK(options.sentinel_master.empty());
    FUZZ_CHECK(!options.host.empty() && !absl::StrContains(options.host, ' '));
    FUZZ_CHECK(GoodPort(options.port)) << options.port;
  } else {
    FUZZ_CHECK(absl::StartsWith(url, "redis-sentinel://"));
    FUZZ_CHECK(options.host.empty() && options.port == 0);
    FUZZ_CHECK(!options.sentinel_master.empty());
    for (char c : options.sentinel_master) {
      FUZZ_CHECK(c != '?' && c != ' ' && c != ',' && c != '@' && c != ':')
          << options.sentinel_master;
    }
    for (const makegood::redis::RedisAddress& s : options.sentinels) {
      FUZZ_CHECK(!s.host.empty() && !absl::StrContains(s.host, ' '));
      FUZZ_CHECK(GoodPort(s.port)) << s.port;
    }
  }

  // Logged descriptions carry no credentials.
  makegood::redis::RedisOptions anonymous = options;
  anonymous.username = "u";
  anonymous.password = "p";
  anonymous.sentinel_password = "s";
  FUZZ_CHECK(makegood::redis::DescribeRedisTarget(options) ==
             makegood::redis::DescribeRedisTarget(anonymous));

  // Round trip.
  constexpr absl::string_view kParam = "?sentinel_password=";
  if (absl::StrContains(options.username, kParam) ||
      absl::StrContains(options.password, kParam)) {
    return 0;
  }
  const std::string again_url = ToUrl(options);
  makegood::redis::RedisOptions again = Start();
  absl::Status again_status = makegood::redis::ParseRedisUrl(again_url, &again);
  FUZZ_CHECK(again_status.ok())
      << "\"" << url << "\" parsed, but its normal form \"" << again_url
      << "\" does not: " << again_status;
  FUZZ_CHECK(SameAddressFields(again, options))
      << "\"" << url << "\" and its normal form \"" << again_url
      << "\" parse differently";
  return 0;
}
