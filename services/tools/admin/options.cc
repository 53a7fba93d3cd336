#include "services/tools/admin/options.h"

#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "services/core/text.h"
#include "services/store/key_schema.h"

namespace makegood::admin {
namespace {

constexpr char kUsage[] =
    R"(usage: makegood_admin COMMAND --redis=redis://HOST:PORT[/DB] [flags]
       makegood_admin COMMAND --redis=redis-cluster://HOST:PORT[,...] [flags]

commands:
  check         verify the money invariants; JSON report on stdout;
                exit 0 clean, 1 violations, 2 error
  reconcile     ask providers about SETTLING / NEEDS_ATTENTION refunds;
                with --fix record what they answered; exit 0 when nothing
                is left for an operator, 1 otherwise, 2 error
  dead-letters  list the dead-letter entries, one JSON line each
  attention     list the NEEDS_ATTENTION refunds, oldest first, with their
                age, one JSON line each and a summary; exit 0 when there
                are none, 1 otherwise, 2 error
  redrive       send one NEEDS_ATTENTION refund back to settlement (the
                worker looks it up at its provider and pays only if the
                provider never saw it): --refund_id, --operator, --reason;
                exit 0 re-driven (or already in settlement), 1 refused
                (unknown, or SUCCEEDED/FAILED/REVERSED), 2 error
  migrate-tags  move a schema version 1 deployment's keys (plain
                partition tags {p<N>}) under the balanced tags and record
                schema_version 2; every server stopped; re-runnable;
                exit 0 done, 2 error
  index-open-orders
                put every unrated order inside its rating window (the
                --policy's, in the order's currency) into its partition's
                open orders, which a policy reload counts before it drops
                a currency (orders recorded before issue 13 are missing
                from it); re-runnable; exit 0 done, 2 error

flags:
  --redis=URL                     redis://[[user]:password@]host[:port][/db]
                                  or, for a Redis Cluster (every command
                                  works the same there),
                                  redis-cluster://[user:password@]host:port
                                  [,host:port...] (seed nodes)
  --partitions=N                  default: mg:meta's, else 64
  --stale_after=DURATION          check: ACCEPTED/SETTLING older than this
                                  are reported (default 60s)
  --fix                           reconcile: record found outcomes and
                                  re-drive what no provider has seen
  --fallback=wallet|none          reconcile: what a declined card refund
                                  becomes, as the server's
                                  --settlement_fallback (default wallet)
  --http_provider_url=URL         the http provider, to look up its refunds
  --http_provider_api_key_file=F  (without both, http refunds are reported
  --http_provider_ca=F             as unchecked)
  --pretty                        check: indent the JSON report
  --policy=FILE                   check: report orders in currencies this
                                  policy (the active one) does not serve;
                                  index-open-orders: its rating windows
  --refund_id=ID                  redrive: the refund
  --operator=ID                   redrive: who (audited as operator:<ID>)
  --reason=CODE                   redrive: why, [a-z0-9_-]{1,64}
                                  (default operator_redrive)
  --limit=N                       attention: list at most N (default 1000)
)";

}  // namespace

int Usage(absl::string_view why) {
  std::cerr << "makegood_admin: " << why << "\n\n" << kUsage;
  return kError;
}

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args) {
  Options o;
  if (args.empty()) return absl::InvalidArgumentError("missing command");
  o.command = args[0];
  if (o.command != "check" && o.command != "reconcile" &&
      o.command != "dead-letters" && o.command != "attention" &&
      o.command != "redrive" && o.command != "migrate-tags" &&
      o.command != "index-open-orders") {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown command \"", o.command, "\""));
  }
  for (size_t i = 1; i < args.size(); ++i) {
    absl::string_view arg = args[i];
    if (arg == "--fix") {
      o.fix = true;
      continue;
    }
    if (arg == "--pretty") {
      o.pretty = true;
      continue;
    }
    if (!absl::ConsumePrefix(&arg, "--") || !absl::StrContains(arg, '=')) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown argument \"", args[i], "\""));
    }
    const size_t eq = arg.find('=');
    absl::string_view name = arg.substr(0, eq);
    std::string value(arg.substr(eq + 1));
    if (name == "redis") {
      o.redis_url = value;
    } else if (name == "partitions") {
      if (!absl::SimpleAtoi(value, &o.partitions) || o.partitions < 1 ||
          o.partitions > store::KeySchema::kMaxPartitions) {
        return absl::InvalidArgumentError(absl::StrCat(
            "--partitions: must be 1-", store::KeySchema::kMaxPartitions));
      }
    } else if (name == "stale_after") {
      if (!absl::ParseDuration(value, &o.stale_after) ||
          o.stale_after < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            "--stale_after: needs a duration such as 60s");
      }
    } else if (name == "fallback") {
      if (value != "wallet" && value != "none") {
        return absl::InvalidArgumentError("--fallback: must be wallet or none");
      }
      o.fallback = value == "none" ? "" : value;
    } else if (name == "policy") {
      o.policy_path = value;
    } else if (name == "refund_id") {
      o.refund_id = value;
    } else if (name == "operator") {
      if (!IsValidId(value)) {
        return absl::InvalidArgumentError("--operator: not a valid id");
      }
      o.operator_id = value;
    } else if (name == "reason") {
      if (!IsLowerToken(value, 64)) {
        return absl::InvalidArgumentError(
            "--reason: must be 1-64 characters of [a-z0-9_-]");
      }
      o.reason = value;
    } else if (name == "limit") {
      if (!absl::SimpleAtoi(value, &o.limit) || o.limit < 1) {
        return absl::InvalidArgumentError("--limit: must be at least 1");
      }
    } else if (name == "http_provider_url") {
      o.http_url = value;
    } else if (name == "http_provider_api_key_file") {
      o.http_api_key_file = value;
    } else if (name == "http_provider_ca") {
      o.http_ca = value;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown flag \"--", name, "\""));
    }
  }
  if (o.redis_url.empty()) {
    return absl::InvalidArgumentError("--redis is required");
  }
  if (o.command == "redrive" &&
      (o.refund_id.empty() || o.operator_id.empty())) {
    return absl::InvalidArgumentError(
        "redrive needs --refund_id and --operator");
  }
  if (o.http_url.empty() != o.http_api_key_file.empty()) {
    return absl::InvalidArgumentError(
        "--http_provider_url and --http_provider_api_key_file go together");
  }
  return o;
}

}  // namespace makegood::admin
