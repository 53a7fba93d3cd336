// File: services/redis/redis_url.cc
#include <algorithm>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "services/redis/redis_options.h"

namespace makegood::redis {
namespace {

bool AllDigits(absl::string_view text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return c >= '0' && c <= '9';
  });
}

// Parses "host[:port]" or "[ipv6][:port]" into `address`; on failure returns
// what is wrong (for the caller's message).
absl::Status ParseHostPort(absl::string_view text, int default_port,
                           RedisAddress* address) {
  absl::string_view host = text;
  std::optional<absl::string_view> port;
  if (absl::StartsWith(text, "[")) {  // [IPv6]:port
    size_t close = text.find(']');
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError("unclosed [ in host");
    }
    host = text.substr(1, close - 1);
    absl::string_view after = text.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') {
        return absl::InvalidArgumentError("unexpected text after ]");
      }
      port = after.substr(1);
    }
  } else {
    size_t colon = text.find(':');
    if (colon != absl::string_view::npos) {
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
      if (absl::StrContains(*port, ':')) {
        return absl::InvalidArgumentError(
            "an IPv6 host must be written in brackets, e.g. [::1]:6379");
      }
    }
  }
  if (host.empty()) return absl::InvalidArgumentError("host is empty");
  if (absl::StrContains(host, ' ')) {
    return absl::InvalidArgumentError("host contains a space");
  }
  // A host name (letters, digits, '.', '-', '_') or, in brackets, an IPv6
  // address (with ':', and maybe a "%zone"). Nothing else is a host, and
  // other hosts could not be written back as what they were
  // (FormatRedisAddress brackets exactly the hosts with a ':').
  const bool bracketed = absl::StartsWith(text, "[");
  if ((bracketed && !absl::StrContains(host, ':')) ||
      !std::all_of(host.begin(), host.end(), [bracketed](char c) {
        return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' ||
               c == '-' || c == '_' || (bracketed && (c == ':' || c == '%'));
      })) {
    return absl::InvalidArgumentError(
        "host must be a name (A-Z a-z 0-9 . - _) or a bracketed IPv6 "
        "address");
  }
  int number = default_port;
  if (port.has_value() &&
      (!AllDigits(*port) || !absl::SimpleAtoi(*port, &number))) {
    return absl::InvalidArgumentError("port must be a number");
  }
  if (number < 1 || number > 65535) {
    return absl::InvalidArgumentError("port out of range");
  }
  address->host = std::string(host);
  address->port = number;
  return absl::OkStatus();
}

// Takes "[user]:password@" off the front of `rest` (the last '@' ends it, so
// a password may contain '@') into `options`.
absl::Status TakeCredentials(absl::string_view* rest, RedisOptions* options) {
  size_t at = rest->rfind('@');
  if (at == absl::string_view::npos) return absl::OkStatus();
  absl::string_view userinfo = rest->substr(0, at);
  *rest = rest->substr(at + 1);
  size_t colon = userinfo.find(':');
  if (colon == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        "credentials must be user:password or :password");
  }
  options->username = std::string(userinfo.substr(0, colon));
  options->password = std::string(userinfo.substr(colon + 1));
  return absl::OkStatus();
}

// An empty database means 0.
absl::Status ParseDatabase(absl::string_view text, int* db) {
  if (!text.empty() &&
      (!AllDigits(text) || !absl::SimpleAtoi(text, db) || *db > 1000)) {
    return absl::InvalidArgumentError("database must be a number 0-1000");
  }
  return absl::OkStatus();
}

constexpr absl::string_view kDirectScheme = "redis://";
constexpr absl::string_view kSentinelScheme = "redis-sentinel://";
constexpr absl::string_view kDirectForm =
    "redis://[[user]:password@]host[:port][/db]";
constexpr absl::string_view kSentinelForm =
    "redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master"
    "[/db][?sentinel_password=PASSWORD]";
constexpr absl::string_view kClusterScheme = "redis-cluster://";
constexpr absl::string_view kClusterForm =
    "redis-cluster://[[user]:password@]host[:port][,host[:port]...]";
constexpr absl::string_view kSentinelPasswordParam = "?sentinel_password=";

// Address fields of `parsed` from "redis://...", `rest` being after it.
absl::Status ParseDirect(absl::string_view rest, RedisOptions* parsed) {
  if (absl::Status s = TakeCredentials(&rest, parsed); !s.ok()) return s;
  if (size_t slash = rest.find('/'); slash != absl::string_view::npos) {
    absl::string_view db = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
    if (absl::Status s = ParseDatabase(db, &parsed->db); !s.ok()) return s;
  }
  RedisAddress address;
  if (absl::Status s = ParseHostPort(rest, 6379, &address); !s.ok()) return s;
  parsed->host = std::move(address.host);
  parsed->port = address.port;
  return absl::OkStatus();
}

// Address fields of `parsed` from "redis-sentinel://...", `rest` after it.
absl::Status ParseSentinel(absl::string_view rest, RedisOptions* parsed) {
  if (size_t param = rest.find(kSentinelPasswordParam);
      param != absl::string_view::npos) {
    parsed->sentinel_password =
        std::string(rest.substr(param + kSentinelPasswordParam.size()));
    rest = rest.substr(0, param);
  }
  if (absl::Status s = TakeCredentials(&rest, parsed); !s.ok()) return s;
  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return absl::InvalidArgumentError("the master name is missing");
  }
  absl::string_view hosts = rest.substr(0, slash);
  absl::string_view path = rest.substr(slash + 1);
  absl::string_view master = path;
  if (size_t db_slash = path.find('/'); db_slash != absl::string_view::npos) {
    master = path.substr(0, db_slash);
    if (absl::Status s = ParseDatabase(path.substr(db_slash + 1), &parsed->db);
        !s.ok()) {
      return s;
    }
  }
  if (master.empty()) {
    return absl::InvalidArgumentError("the master name is missing");
  }
  if (std::any_of(master.begin(), master.end(), [](char c) {
        return c == '?' || c == ' ' || c == ',' || c == '@' || c == ':';
      })) {
    return absl::InvalidArgumentError(
        "the master name must not contain ? space , @ or : (the only "
        "parameter understood is ?sentinel_password=)");
  }
  parsed->sentinel_master = std::string(master);
  for (absl::string_view host : absl::StrSplit(hosts, ',')) {
    RedisAddress address;
    if (absl::Status s = ParseHostPort(host, 26379, &address); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "sentinel ", parsed->sentinels.size() + 1, ": ", s.message()));
    }
    parsed->sentinels.push_back(std::move(address));
  }
  parsed->host.clear();  // Found through the sentinels.
  parsed->port = 0;
  return absl::OkStatus();
}

// Address fields of `parsed` from "redis-cluster://...", `rest` after it.
absl::Status ParseCluster(absl::string_view rest, RedisOptions* parsed) {
  if (absl::Status s = TakeCredentials(&rest, parsed); !s.ok()) return s;
  if (absl::StrContains(rest, '/')) {
    return absl::InvalidArgumentError(
        "no /db in a cluster URL: Redis Cluster has only db 0");
  }
  if (absl::StrContains(rest, '?')) {
    return absl::InvalidArgumentError("a cluster URL takes no parameters");
  }
  for (absl::string_view host : absl::StrSplit(rest, ',')) {
    RedisAddress address;
    if (absl::Status s = ParseHostPort(host, 6379, &address); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "node ", parsed->cluster_nodes.size() + 1, ": ", s.message()));
    }
    parsed->cluster_nodes.push_back(std::move(address));
  }
  parsed->host.clear();  // Found in the slot map.
  parsed->port = 0;
  return absl::OkStatus();
}

}  // namespace

bool ParsePort(absl::string_view text, int* port) {
  return AllDigits(text) && absl::SimpleAtoi(text, port) && *port >= 1 &&
         *port <= 65535;
}

std::string FormatRedisAddress(const RedisAddress& address) {
  if (absl::StrContains(address.host, ':')) {
    return absl::StrCat("[", address.host, "]:", address.port);
  }
  return absl::StrCat(address.host, ":", address.port);
}

std::string DescribeRedisTarget(const RedisOptions& options) {
  if (!options.cluster_nodes.empty()) {
    return absl::StrCat(
        "cluster ",
        absl::StrJoin(options.cluster_nodes, ",",
                      [](std::string* out, const RedisAddress& address) {
                        out->append(FormatRedisAddress(address));
                      }));
  }
  if (options.sentinels.empty()) {
    return absl::StrCat(FormatRedisAddress({options.host, options.port}), "/",
                        options.db);
  }
  return absl::StrCat(
      "sentinel ", options.sentinel_master, "@",
      absl::StrJoin(options.sentinels, ",",
                    [](std::string* out, const RedisAddress& address) {
                      out->append(FormatRedisAddress(address));
                    }),
      "/", options.db);
}

absl::Status ParseRedisUrl(absl::string_view url, RedisOptions* options) {
  RedisOptions parsed = *options;
  parsed.username.clear();
  parsed.password.clear();
  parsed.db = 0;
  parsed.sentinels.clear();
  parsed.sentinel_master.clear();
  parsed.sentinel_password.clear();
  parsed.cluster_nodes.clear();
  absl::string_view form;
  absl::Status status;
  if (absl::StartsWith(url, kDirectScheme)) {
    form = kDirectForm;
    status = ParseDirect(url.substr(kDirectScheme.size()), &parsed);
  } else if (absl::StartsWith(url, kSentinelScheme)) {
    form = kSentinelForm;
    status = ParseSentinel(url.substr(kSentinelScheme.size()), &parsed);
  } else if (absl::StartsWith(url, kClusterScheme)) {
    form = kClusterForm;
    status = ParseCluster(url.substr(kClusterScheme.size()), &parsed);
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis URL \"", url,
        "\": must start with redis://, redis-sentinel:// or "
        "redis-cluster:// (want ",
        kDirectForm, ", ", kSentinelForm, " or ", kClusterForm, ")"));
  }
  if (!status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "redis URL \"", url, "\": ", status.message(), " (want ", form, ")"));
  }
  *options = std::move(parsed);
  return absl::OkStatus();
}

}  // namespace makegood::redis
