// File: services/tools/admin/main.cc
//
// makegood_admin: the operator's money checks over a deployment's Redis.
//
//   check         verifies the money invariants of every partition and prints
//                 one JSON report on stdout (exit 0 clean, 1 violations):
//                   ledger   each currency's balances sum to 0, and replaying
//                            the ledger stream reproduces the balances hash;
//                   orders   money refunds that stand (not FAILED/REVERSED)
//                            never exceed the order total, and the order's
//                            refunded_minor equals its refunds' sum; every
//                            refund is in its order's currency;
//                   payouts  a SUCCEEDED refund was paid exactly once, at the
//                            provider it records (sandbox books, wallet,
//                            coupon; http through the provider's Lookup when
//                            --http_provider_* is given), and no other refund
//                            has a payout it must not have;
//                   events   each refund's event stream counts 1..n without
//                            gaps and ends in the refund's state.
//                 Also reported, not violations: refunds ACCEPTED/SETTLING
//                 for longer than --stale_after, NEEDS_ATTENTION refunds, and
//                 per partition the outbox backlog, pending entries and dead
//                 letters; orders per currency, and with --policy=FILE the
//                 orders in currencies that policy does not serve.
//   reconcile     for refunds SETTLING or NEEDS_ATTENTION, asks their
//                 provider what happened (Lookup: the same provider code the
//                 worker uses) and prints the finding per refund; with --fix a
//                 found outcome is recorded through settle_finish.lua, as the
//                 worker would, and a NEEDS_ATTENTION refund the provider
//                 never saw (or that was never sent) is re-driven. An unknown
//                 answer is never guessed.
//   dead-letters  prints every partition's dead-letter entries, one JSON line
//                 each.
//   attention     lists the NEEDS_ATTENTION refunds (every partition's
//                 attention index), oldest first, with their age.
//   index-open-orders
//                 puts every unrated order inside its rating window (the
//                 --policy's) into its partition's open orders
//                 (open_orders_index.h).
//   redrive       sends one NEEDS_ATTENTION refund back to settlement
//                 (redrive_refund.lua, as RefundService.RedriveRefund): the
//                 worker looks it up at its provider and pays only if the
//                 provider never saw it. Audited as operator:<--operator>.
// Exit codes: 0 clean / done, 1 violations (check) or refunds left for an
// operator (reconcile), 2 usage, connection or Redis errors (nothing could be
// concluded).
//
// Consistency on a live system: every object is read in one MULTI/EXEC block
// (a refund with its events, payouts and wallet fields; an order with its
// refunds; a partition's balances with the id of its last ledger entry, the
// stream then replayed up to that id), so a worker settling meanwhile never
// shows up as a false violation. Keys are found with SCAN (never KEYS), one
// pass per kind over the whole keyspace with MATCH "mg:{p*}:refund:*"
// (braces are literal in a pattern) and the partition read off each key: a
// pass per partition would walk the keyspace once per partition.
//
// Redis Cluster: every command works the same given a redis-cluster:// URL
// (BlockingRedis): a block keeps to one partition's keys (one hash slot) and
// runs on that slot's primary, and SCAN walks every primary.
//
// Example:
//   makegood_admin check --redis=redis://127.0.0.1:6379/0 | jq .violations
//   makegood_admin reconcile --redis=redis://127.0.0.1:6379/0 --fix
//   makegood_admin dead-letters --redis=redis://127.0.0.1:6379/0
//   makegood_admin check --redis=redis-cluster://10.0.0.1:6379,10.0.0.2:6379
//
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"
#include "services/core/log.h"
#include "services/core/status_macros.h"
#include "services/redis/redis_options.h"
#include "services/redis/redis_reply.h"
#include "services/store/check_schema_script.h"
#include "services/store/key_schema.h"
#include "services/tools/admin/attention.h"
#include "services/tools/admin/blocking_redis.h"
#include "services/tools/admin/dead_letters.h"
#include "services/tools/admin/migrate_tags.h"
#include "services/tools/admin/money_check.h"
#include "services/tools/admin/open_orders_index.h"
#include "services/tools/admin/options.h"
#include "services/tools/admin/providers.h"
#include "services/tools/admin/reconcile.h"

namespace makegood::admin {
namespace {

using redis::RedisReply;

// --partitions, else what mg:meta records, else 64; a flag contradicting
// mg:meta is refused (every key would be looked for in the wrong place).
absl::StatusOr<store::KeySchema> Partitions(BlockingRedis& redis,
                                            const Options& options) {
  MAKEGOOD_ASSIGN_OR_RETURN(
      RedisReply meta,
      redis.Run({"HGET", store::KeySchema::MetaKey(), "partitions"}));
  int recorded = 0;
  if (meta.is_text() && !absl::SimpleAtoi(meta.str, &recorded)) {
    return absl::FailedPreconditionError(
        absl::StrCat("mg:meta partitions is \"", meta.str, "\""));
  }
  // Data of another schema (e.g. version 1's plain partition tags) would
  // look like an empty deployment: refused, as the server refuses it.
  MAKEGOOD_ASSIGN_OR_RETURN(
      RedisReply version,
      redis.Run({"HGET", store::KeySchema::MetaKey(), "schema_version"}));
  int64_t recorded_version = 0;
  if (version.is_text() && (!absl::SimpleAtoi(version.str, &recorded_version) ||
                            recorded_version != store::kSchemaVersion)) {
    return store::CheckRecordedSchema(
        {.partitions = recorded, .schema_version = recorded_version}, recorded);
  }
  if (options.partitions != 0 && recorded != 0 &&
      options.partitions != recorded) {
    return absl::FailedPreconditionError(
        absl::StrCat("--partitions=", options.partitions,
                     " but this deployment records ", recorded, " in mg:meta"));
  }
  return store::KeySchema::Create(options.partitions != 0 ? options.partitions
                                  : recorded != 0         ? recorded
                                                          : 64);
}

int Fail(const absl::Status& status) {
  std::cerr << "makegood_admin: " << status.message() << "\n";
  FlushLogs();
  return kError;
}

int Main(const std::vector<std::string>& args) {
  absl::StatusOr<Options> options = ParseArgs(args);
  if (!options.ok()) return Usage(options.status().message());
  // The report goes to stdout; only trouble goes to stderr.
  SetMinLogLevel(LogLevel::kWarning);

  redis::RedisOptions redis_options;
  if (absl::Status url =
          redis::ParseRedisUrl(options->redis_url, &redis_options);
      !url.ok()) {
    return Usage(absl::StrCat("--redis: ", url.message()));
  }
  absl::StatusOr<std::unique_ptr<BlockingRedis>> redis =
      BlockingRedis::Connect(redis_options);
  if (!redis.ok()) return Fail(redis.status());
  if (options->command == "migrate-tags") {  // Before the schema check.
    absl::StatusOr<MigrateTagsResult> migrated = MigrateTags(**redis);
    if (!migrated.ok()) return Fail(migrated.status());
    std::cout << nlohmann::json{{"renamed", migrated->renamed},
                                {"already_done", migrated->already_done}}
                     .dump()
              << "\n";
    FlushLogs();
    return kOk;
  }
  absl::StatusOr<store::KeySchema> keys = Partitions(**redis, *options);
  if (!keys.ok()) return Fail(keys.status());

  if (options->command == "dead-letters") {
    absl::Status listed = ListDeadLetters(**redis, *keys);
    return listed.ok() ? kOk : Fail(listed);
  }
  if (options->command == "index-open-orders") {
    absl::StatusOr<nlohmann::ordered_json> indexed =
        IndexOpenOrders(**redis, *keys, *options);
    if (!indexed.ok()) return Fail(indexed.status());
    std::cout << indexed->dump() << "\n";
    FlushLogs();
    return kOk;
  }
  if (options->command == "attention") {
    absl::StatusOr<bool> any = ListAttention(**redis, *keys, *options);
    if (!any.ok()) return Fail(any.status());
    FlushLogs();
    return *any ? kFound : kOk;
  }
  if (options->command == "redrive") {
    const int code = Redrive(**redis, *keys, *options);
    FlushLogs();
    return code;
  }
  absl::StatusOr<Providers> providers = MakeProviders(**redis, *keys, *options);
  if (!providers.ok()) return Fail(providers.status());

  if (options->command == "reconcile") {
    absl::StatusOr<bool> left = Reconcile(**redis, *keys, *options, *providers);
    if (!left.ok()) return Fail(left.status());
    FlushLogs();
    return *left ? kFound : kOk;
  }
  absl::StatusOr<MoneyCheckResult> check =
      CheckMoney(**redis, *keys, *options, *providers);
  if (!check.ok()) return Fail(check.status());
  std::cout << check->report.dump(options->pretty ? 2 : -1) << "\n";
  FlushLogs();
  return check->clean ? kOk : kFound;
}

}  // namespace
}  // namespace makegood::admin

int main(int argc, char** argv) {
  return makegood::admin::Main(std::vector<std::string>(argv + 1, argv + argc));
}
