// File: services/tools/admin.cc
//
// makegood_admin: the operator's money checks over a deployment's Redis.
//
//   check         verifies the money invariants of every partition and prints
//                 one JSON report on stdout (exit 0 clean, 1 violations):
//                   ledger   each currency's balances sum to 0, and replaying
//                            the ledger stream reproduces the balances hash;
//                   orders   money refunds that stand (not FAILED/REVERSED)
//                            never exceed the order total, and the order's
//                            refunded_minor equals its refunds' sum;
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
//                 letters.
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
// Example:
//   makegood_admin check --redis=redis://127.0.0.1:6379/0 | jq .violations
//   makegood_admin reconcile --redis=redis://127.0.0.1:6379/0 --fix
//   makegood_admin dead-letters --redis=redis://127.0.0.1:6379/0
//
// Thread-safety: a single-threaded program; provider and Redis callbacks only
// hand results back to the main thread.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "services/core/clock.h"
#include "services/core/log.h"
#include "services/core/secret_file.h"
#include "services/core/status_macros.h"
#include "services/core/text.h"
#include "services/redis/hiredis_client.h"
#include "services/redis/redis_reply.h"
#include "services/settlement/http/http_provider.h"
#include "services/settlement/provider.h"
#include "services/settlement/sandbox_provider.h"
#include "services/settlement/wallet_provider.h"
#include "services/store/key_schema.h"
#include "services/store/lua/scripts.h"
#include "services/store/refund_store.h"

namespace makegood::admin {
namespace {

using Json = nlohmann::ordered_json;
using redis::RedisReply;
using Argv = std::vector<std::string>;

constexpr int kOk = 0;
constexpr int kFound = 1;  // Violations, or refunds left for an operator.
constexpr int kError = 2;

// Keys read per SCAN call and objects read per pipelined batch.
constexpr int kScanCount = 1000;
constexpr size_t kBatch = 200;
// Entries listed in the report's attention lists (their counts are exact).
constexpr size_t kMaxListed = 1000;
// The consumer group of the settlement workers (WorkerOptions::group).
constexpr char kGroup[] = "settlement";
constexpr char kActor[] = "operator:reconcile";

constexpr char kUsage[] =
    R"(usage: makegood_admin COMMAND --redis=redis://HOST:PORT[/DB] [flags]

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

flags:
  --redis=URL                     redis://[[user]:password@]host[:port][/db]
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
  --refund_id=ID                  redrive: the refund
  --operator=ID                   redrive: who (audited as operator:<ID>)
  --reason=CODE                   redrive: why, [a-z0-9_-]{1,64}
                                  (default operator_redrive)
  --limit=N                       attention: list at most N (default 1000)
)";

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
};

int Usage(absl::string_view why) {
  std::cerr << "makegood_admin: " << why << "\n\n" << kUsage;
  return kError;
}

// Parses argv; on a usage error returns the message.
absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args) {
  Options o;
  if (args.empty()) return absl::InvalidArgumentError("missing command");
  o.command = args[0];
  if (o.command != "check" && o.command != "reconcile" &&
      o.command != "dead-letters" && o.command != "attention" &&
      o.command != "redrive") {
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

// ---------------------------------------------------------------------------
// Redis, blocking: one connection, so pipelined commands and MULTI/EXEC
// blocks are answered in the order they were sent.

class Redis {
 public:
  static absl::StatusOr<std::unique_ptr<Redis>> Connect(
      redis::RedisOptions options) {
    options.connections = 1;
    // Large hashes and stream pages are read whole.
    options.command_timeout = absl::Seconds(30);
    options.connect_timeout = absl::Seconds(3);
    MAKEGOOD_ASSIGN_OR_RETURN(auto client,
                              redis::HiredisClient::Start(options));
    const absl::Time deadline = absl::Now() + options.connect_timeout;
    while (client->ready_connections() == 0 && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(10));
    }
    if (client->ready_connections() == 0) {
      return absl::UnavailableError(absl::StrCat("cannot connect to redis at ",
                                                 client->options().host, ":",
                                                 client->options().port));
    }
    auto redis = std::unique_ptr<Redis>(new Redis(std::move(client)));
    // PING proves the connection (and AUTH) works, not just the socket.
    MAKEGOOD_RETURN_IF_ERROR(redis->Run({"PING"}).status());
    return redis;
  }

  redis::RedisClient& client() { return *client_; }

  absl::StatusOr<RedisReply> Run(Argv argv) {
    return client_->CommandSync(std::move(argv));
  }

  // Sends every command before waiting for any answer: one round trip.
  std::vector<absl::StatusOr<RedisReply>> Pipeline(std::vector<Argv> commands) {
    struct State {
      absl::Mutex mu;
      size_t left ABSL_GUARDED_BY(mu) = 0;
      std::vector<absl::StatusOr<RedisReply>> replies ABSL_GUARDED_BY(mu);
    };
    // Shared with the callbacks, so the last one may finish unlocking after
    // this function returned.
    auto state = std::make_shared<State>();
    {
      absl::MutexLock lock(&state->mu);
      state->left = commands.size();
      state->replies.assign(commands.size(),
                            absl::UnknownError("no reply from redis"));
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      client_->Command(std::move(commands[i]),
                       [state, i](absl::StatusOr<RedisReply> reply) {
                         absl::MutexLock lock(&state->mu);
                         state->replies[i] = std::move(reply);
                         --state->left;
                       });
    }
    absl::MutexLock lock(&state->mu);
    state->mu.Await(absl::Condition(
        +[](size_t* left) { return *left == 0; }, &state->left));
    return std::move(state->replies);
  }

  // Each block runs as MULTI ... EXEC (all blocks pipelined), so a block's
  // replies describe one instant. Any error fails the whole call.
  absl::StatusOr<std::vector<std::vector<RedisReply>>> Snapshots(
      std::vector<std::vector<Argv>> blocks) {
    std::vector<Argv> flat;
    std::vector<size_t> exec_at;
    for (std::vector<Argv>& block : blocks) {
      flat.push_back({"MULTI"});
      for (Argv& command : block) flat.push_back(std::move(command));
      flat.push_back({"EXEC"});
      exec_at.push_back(flat.size() - 1);
    }
    std::vector<absl::StatusOr<RedisReply>> replies = Pipeline(std::move(flat));
    for (const auto& reply : replies) {
      if (!reply.ok()) return reply.status();
    }
    std::vector<std::vector<RedisReply>> out;
    out.reserve(exec_at.size());
    for (size_t at : exec_at) {
      RedisReply& exec = *replies[at];
      if (exec.type != RedisReply::Type::kArray) {
        return absl::InternalError("redis: EXEC answered no array");
      }
      for (const RedisReply& r : exec.elements) {
        if (r.type == RedisReply::Type::kError) {
          return absl::InternalError(absl::StrCat("redis: ", r.str));
        }
      }
      out.push_back(std::move(exec.elements));
    }
    return out;
  }

  absl::StatusOr<RedisReply> Eval(const redis::LuaScript& script,
                                  std::vector<std::string> keys,
                                  std::vector<std::string> args) {
    auto state = std::make_shared<
        std::pair<absl::Notification, absl::StatusOr<RedisReply>>>();
    client_->Eval(script, std::move(keys), std::move(args),
                  [state](absl::StatusOr<RedisReply> reply) {
                    state->second = std::move(reply);
                    state->first.Notify();
                  });
    state->first.WaitForNotification();
    return state->second;
  }

  // Calls `batch` with the keys matching `pattern` (of type `type`), each
  // key once (SCAN may repeat keys while Redis rehashes).
  absl::Status Scan(
      const std::string& pattern, const std::string& type,
      absl::FunctionRef<absl::Status(std::vector<std::string>)> batch) {
    absl::flat_hash_set<std::string> seen;
    std::string cursor = "0";
    do {
      MAKEGOOD_ASSIGN_OR_RETURN(RedisReply reply,
                                Run({"SCAN", cursor, "MATCH", pattern, "COUNT",
                                     absl::StrCat(kScanCount), "TYPE", type}));
      MAKEGOOD_ASSIGN_OR_RETURN(const auto* parts,
                                redis::ReplyArray(reply, 2, "SCAN"));
      MAKEGOOD_ASSIGN_OR_RETURN(cursor, redis::ReplyText((*parts)[0], "SCAN"));
      std::vector<std::string> keys;
      for (const RedisReply& key : (*parts)[1].elements) {
        if (seen.insert(key.str).second) keys.push_back(key.str);
      }
      if (!keys.empty()) MAKEGOOD_RETURN_IF_ERROR(batch(std::move(keys)));
    } while (cursor != "0");
    return absl::OkStatus();
  }

 private:
  explicit Redis(std::unique_ptr<redis::RedisClient> client)
      : client_(std::move(client)) {}

  std::unique_ptr<redis::RedisClient> client_;
};

// ---------------------------------------------------------------------------
// Reply helpers.

std::map<std::string, std::string> Fields(const RedisReply& flat) {
  std::map<std::string, std::string> out;
  for (size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    out[flat.elements[i].str] = flat.elements[i + 1].str;
  }
  return out;
}

// A field of an HMGET reply: nullopt when absent.
std::optional<std::string> At(const RedisReply& hmget, size_t i) {
  if (i >= hmget.elements.size() || hmget.elements[i].is_nil()) {
    return std::nullopt;
  }
  return hmget.elements[i].str;
}

std::optional<int64_t> Int(const std::optional<std::string>& text) {
  int64_t v = 0;
  if (!text.has_value() || !absl::SimpleAtoi(*text, &v)) return std::nullopt;
  return v;
}

// "mg:{p7}:refund:rf_1" -> 7 and "mg:{p7}:"; false if not a partition key.
bool SplitPartition(absl::string_view key, int* partition,
                    std::string* prefix) {
  if (!absl::ConsumePrefix(&key, "mg:{p")) return false;
  const size_t close = key.find("}:");
  if (close == absl::string_view::npos ||
      !absl::SimpleAtoi(key.substr(0, close), partition)) {
    return false;
  }
  *prefix = absl::StrCat("mg:{p", *partition, "}:");
  return true;
}

// The currency an account is kept in: the part after its last ':'.
std::string CurrencyOf(absl::string_view account) {
  const size_t colon = account.rfind(':');
  return colon == absl::string_view::npos
             ? std::string()
             : std::string(account.substr(colon + 1));
}

// Asks `provider` about every request at once and waits for all answers.
std::vector<settlement::PayoutResult> LookupAll(
    settlement::PaymentProvider& provider,
    const std::vector<settlement::PayoutRequest>& requests) {
  struct State {
    explicit State(int n) : left(n) {}
    absl::BlockingCounter left;
    std::vector<settlement::PayoutResult> results;
  };
  if (requests.empty()) return {};
  auto state = std::make_shared<State>(static_cast<int>(requests.size()));
  state->results.resize(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    provider.Lookup(requests[i], [state, i](settlement::PayoutResult r) {
      state->results[i] = std::move(r);
      state->left.DecrementCount();
    });
  }
  state->left.Wait();
  return std::move(state->results);
}

bool IsFinalPaid(absl::string_view state) {
  return state == "SUCCEEDED" || state == "REVERSED";
}

// The refund hash fields the tools read, in HMGET order.
const std::vector<std::string>& RefundFields() {
  static const auto* fields = new std::vector<std::string>{
      "state",        "amount_minor",  "currency", "instrument",
      "member_id",    "order_id",      "provider", "provider_ref",
      "payment_ref",  "updated_at_ms", "seq",      "state_reason",
      "created_at_ms"};
  return *fields;
}

struct Refund {
  std::string id;
  std::string key;
  std::string prefix;
  int partition = 0;
  std::optional<std::string> state;
  std::optional<int64_t> amount;
  std::string currency, instrument, member_id, order_id, provider, provider_ref,
      payment_ref, state_reason;
  int64_t updated_at_ms = 0;
  std::optional<int64_t> seq;

  static Refund From(const std::string& key, int partition,
                     const std::string& prefix, const RedisReply& hmget) {
    Refund r;
    r.key = key;
    r.partition = partition;
    r.prefix = prefix;
    r.id = key.substr(prefix.size() + std::string("refund:").size());
    r.state = At(hmget, 0);
    r.amount = Int(At(hmget, 1));
    r.currency = At(hmget, 2).value_or("");
    r.instrument = At(hmget, 3).value_or("");
    r.member_id = At(hmget, 4).value_or("");
    r.order_id = At(hmget, 5).value_or("");
    r.provider = At(hmget, 6).value_or("");
    r.provider_ref = At(hmget, 7).value_or("");
    r.payment_ref = At(hmget, 8).value_or("");
    r.updated_at_ms = Int(At(hmget, 9)).value_or(0);
    r.seq = Int(At(hmget, 10));
    r.state_reason = At(hmget, 11).value_or("");
    return r;
  }

  settlement::PayoutRequest Request() const {
    settlement::PayoutRequest q;
    q.refund_id = id;
    q.member_id = member_id;
    q.order_id = order_id;
    q.amount_minor = amount.value_or(0);
    q.currency = currency;
    q.payment_reference = payment_ref;
    return q;
  }

  std::string EventsKey() const { return key + ":events"; }
  std::string SandboxKey() const { return prefix + "psp:sandbox"; }
  std::string WalletKey() const { return prefix + "wallet:" + member_id; }
};

Argv Hmget(const std::string& key, const std::vector<std::string>& fields) {
  Argv argv = {"HMGET", key};
  argv.insert(argv.end(), fields.begin(), fields.end());
  return argv;
}

// Reads the member id of each refund key (it never changes once written),
// which names the wallet key the snapshot then reads.
absl::StatusOr<std::vector<std::string>> MemberIds(
    Redis& redis, const std::vector<std::string>& refund_keys) {
  std::vector<Argv> commands;
  for (const std::string& key : refund_keys) {
    commands.push_back({"HGET", key, "member_id"});
  }
  std::vector<std::string> out;
  for (auto& reply : redis.Pipeline(std::move(commands))) {
    if (!reply.ok()) return reply.status();
    out.push_back(reply->is_text() ? reply->str : "");
  }
  return out;
}

// The refund keys of one SCAN page, with their partitions.
struct RefundKey {
  std::string key;
  int partition = 0;
  std::string prefix;
};

std::vector<RefundKey> RefundKeys(const std::vector<std::string>& keys,
                                  int partitions) {
  std::vector<RefundKey> out;
  for (const std::string& key : keys) {
    RefundKey k;
    if (absl::EndsWith(key, ":events") ||
        !SplitPartition(key, &k.partition, &k.prefix) ||
        k.partition >= partitions) {
      continue;
    }
    k.key = key;
    out.push_back(std::move(k));
  }
  return out;
}

// The card, wallet and coupon providers, as the worker has them.
struct Providers {
  std::unique_ptr<settlement::PaymentProvider> sandbox, wallet, coupon, http;

  settlement::PaymentProvider* Find(absl::string_view name) const {
    if (name == "sandbox") return sandbox.get();
    if (name == "wallet") return wallet.get();
    if (name == "coupon") return coupon.get();
    if (name == "http") return http.get();
    return nullptr;
  }
};

absl::StatusOr<Providers> MakeProviders(Redis& redis,
                                        const store::KeySchema& keys,
                                        const Options& options) {
  Providers p;
  // Lookups only: latency and faults do not apply to what the books say.
  p.sandbox = std::make_unique<settlement::SandboxProvider>(
      redis.client(), keys, settlement::SandboxOptions{});
  p.wallet = std::make_unique<settlement::WalletProvider>(
      redis.client(), keys, settlement::WalletProvider::Kind::kWallet);
  p.coupon = std::make_unique<settlement::WalletProvider>(
      redis.client(), keys, settlement::WalletProvider::Kind::kCoupon);
  if (!options.http_url.empty()) {
    settlement::HttpProviderOptions http;
    http.base_url = options.http_url;
    MAKEGOOD_ASSIGN_OR_RETURN(http.api_key,
                              ReadSecretFile(options.http_api_key_file));
    http.ca_file = options.http_ca;
    MAKEGOOD_ASSIGN_OR_RETURN(
        p.http, settlement::HttpProvider::Create(std::move(http)));
  }
  return p;
}

// ---------------------------------------------------------------------------
// RefundStore calls, waited for: the tool shares the server's code for the
// attention list and re-drives.

template <typename T>
absl::StatusOr<T> Wait(
    absl::FunctionRef<void(absl::AnyInvocable<void(absl::StatusOr<T>)>)> call) {
  auto state =
      std::make_shared<std::pair<absl::Notification, absl::StatusOr<T>>>();
  call([state](absl::StatusOr<T> result) {
    state->second = std::move(result);
    state->first.Notify();
  });
  state->first.WaitForNotification();
  return std::move(state->second);
}

absl::StatusOr<store::RefundStore::RedriveOutcome> RedriveSync(
    Redis& redis, const store::KeySchema& keys, int partition,
    const std::string& refund_id, const std::string& actor,
    const std::string& reason) {
  store::RefundStore refunds(redis.client(), keys);
  return Wait<store::RefundStore::RedriveOutcome>(
      [&](absl::AnyInvocable<void(
              absl::StatusOr<store::RefundStore::RedriveOutcome>)>
              done) {
        refunds.Redrive(partition, refund_id, actor, reason, RealClock().Now(),
                        std::move(done));
      });
}

// ---------------------------------------------------------------------------
// check

class MoneyCheck {
 public:
  MoneyCheck(Redis& redis, const store::KeySchema& keys, const Options& options,
             const Providers& providers)
      : redis_(redis),
        keys_(keys),
        options_(options),
        providers_(providers),
        now_ms_(absl::ToUnixMillis(RealClock().Now())) {}

  absl::Status Run() {
    for (int p = 0; p < keys_.partitions(); ++p) {
      MAKEGOOD_RETURN_IF_ERROR(CheckLedger(p));
    }
    MAKEGOOD_RETURN_IF_ERROR(redis_.Scan(
        "mg:{p*}:order:*", "hash",
        [this](std::vector<std::string> keys) { return CheckOrders(keys); }));
    MAKEGOOD_RETURN_IF_ERROR(redis_.Scan(
        "mg:{p*}:refund:*", "hash", [this](std::vector<std::string> keys) {
          return CheckRefunds(RefundKeys(keys, keys_.partitions()));
        }));
    CheckHttpPayouts();
    return CheckOutbox();
  }

  bool clean() const { return violations_.empty(); }

  Json Report() const {
    Json counts = {{"ledger_entries", ledger_entries_},
                   {"ledger_accounts", ledger_accounts_},
                   {"orders", orders_},
                   {"refunds", refunds_},
                   {"refunds_by_state", Json(refunds_by_state_)},
                   {"payouts_verified", payouts_verified_},
                   {"http_unchecked", http_unchecked_count_},
                   {"orders_changing", orders_changing_},
                   {"violations", violations_.size()}};
    Json by_partition = Json::array();
    int64_t backlog = 0, pending = 0, dead = 0;
    for (const Json& p : outbox_) {
      backlog += p["backlog"].get<int64_t>();
      pending += p["pending"].get<int64_t>();
      dead += p["dead_letters"].get<int64_t>();
      if (p["backlog"] != 0 || p["pending"] != 0 || p["dead_letters"] != 0) {
        by_partition.push_back(p);
      }
    }
    return Json{
        {"command", "check"},
        {"ok", clean()},
        {"partitions", keys_.partitions()},
        {"at_ms", now_ms_},
        {"counts", counts},
        {"violations", violations_},
        {"attention",
         {{"stale_after_ms", absl::ToInt64Milliseconds(options_.stale_after)},
          {"stale_count", stale_count_},
          {"stale", stale_},
          {"needs_attention_count", attention_count_},
          {"needs_attention", attention_},
          {"http_unchecked", http_unchecked_}}},
        {"outbox",
         {{"backlog", backlog},
          {"pending", pending},
          {"dead_letters", dead},
          {"by_partition", by_partition}}}};
  }

 private:
  void Violation(Json v) { violations_.push_back(std::move(v)); }

  static void List(Json& list, Json item) {
    if (list.size() < kMaxListed) list.push_back(std::move(item));
  }

  // 1. The ledger of partition `p`: Σ per currency is 0 and the stream
  // replays to the balances.
  absl::Status CheckLedger(int p) {
    const std::string prefix = keys_.PartitionPrefix(p);
    const std::string balances_key = prefix + "ledger:balances";
    const std::string ledger_key = prefix + "ledger";
    MAKEGOOD_ASSIGN_OR_RETURN(
        auto snapshot, redis_.Snapshots({{{"HGETALL", balances_key},
                                          {"XREVRANGE", ledger_key, "+", "-",
                                           "COUNT", "1"}}}));
    const std::map<std::string, std::string> balances = Fields(snapshot[0][0]);
    const RedisReply& last = snapshot[0][1];
    std::map<std::string, int64_t> replayed;
    txns_.clear();
    if (!last.elements.empty() && !last.elements[0].elements.empty()) {
      const std::string until = last.elements[0].elements[0].str;
      std::string from = "-";
      while (true) {
        MAKEGOOD_ASSIGN_OR_RETURN(
            RedisReply page,
            redis_.Run({"XRANGE", ledger_key, from, until, "COUNT", "1000"}));
        for (const RedisReply& entry : page.elements) {
          if (entry.elements.size() < 2) continue;
          ++ledger_entries_;
          Replay(p, ledger_key, entry.elements[0].str,
                 Fields(entry.elements[1]), replayed);
        }
        if (page.elements.size() < 1000) break;
        from = absl::StrCat("(", page.elements.back().elements[0].str);
      }
    }
    CheckTxnAccounts(p, ledger_key);
    std::map<std::string, int64_t> sums;  // By currency.
    for (const auto& [account, text] : balances) {
      ++ledger_accounts_;
      int64_t balance = 0;
      if (!absl::SimpleAtoi(text, &balance)) {
        Violation({{"check", "ledger_balance_malformed"},
                   {"partition", p},
                   {"account", account},
                   {"value", text},
                   {"keys", {balances_key}}});
        continue;
      }
      sums[CurrencyOf(account)] += balance;
      auto found = replayed.find(account);
      const int64_t expected = found == replayed.end() ? 0 : found->second;
      if (balance != expected) {
        Violation({{"check", "ledger_replay"},
                   {"partition", p},
                   {"account", account},
                   {"balance", balance},
                   {"replayed", expected},
                   {"keys", {balances_key, ledger_key}}});
      }
    }
    for (const auto& [account, value] : replayed) {
      if (!balances.contains(account) && value != 0) {
        Violation({{"check", "ledger_replay"},
                   {"partition", p},
                   {"account", account},
                   {"balance", nullptr},
                   {"replayed", value},
                   {"keys", {balances_key, ledger_key}}});
      }
    }
    for (const auto& [currency, sum] : sums) {
      if (sum != 0) {
        Violation({{"check", "ledger_balance_sum"},
                   {"partition", p},
                   {"currency", currency},
                   {"sum", sum},
                   {"keys", {balances_key}}});
      }
    }
    return absl::OkStatus();
  }

  void Replay(int p, const std::string& ledger_key, const std::string& id,
              const std::map<std::string, std::string>& e,
              std::map<std::string, int64_t>& replayed) {
    auto get = [&e](const char* f) {
      auto it = e.find(f);
      return it == e.end() ? std::string() : it->second;
    };
    int64_t amount = 0;
    const std::string debit = get("debit"), credit = get("credit"),
                      currency = get("currency");
    if (debit.empty() || credit.empty() ||
        !absl::SimpleAtoi(get("amount_minor"), &amount) ||
        CurrencyOf(debit) != currency || CurrencyOf(credit) != currency) {
      Violation({{"check", "ledger_entry_malformed"},
                 {"partition", p},
                 {"entry_id", id},
                 {"txn", get("txn")},
                 {"keys", {ledger_key}}});
      return;
    }
    replayed[debit] += amount;
    replayed[credit] -= amount;
    Txn& txn = txns_[get("txn")];
    const std::string kind = get("kind");
    if (kind == "refund_accepted" || kind == "goodwill_granted") {
      txn.accepted += amount;
    }
    auto note = [&txn](const std::string& account, int64_t signed_amount) {
      if (absl::StartsWith(account, "expense:")) {
        txn.expense.insert(account);
        txn.expense_net += signed_amount;
      } else if (absl::StartsWith(account, "payable:")) {
        txn.payable.insert(account);
        txn.payable_net += signed_amount;
      }
    };
    note(debit, amount);
    note(credit, -amount);
  }

  // Per refund (a ledger txn): every posting after the acceptance — settled,
  // failed, reversed — uses the accepted posting's expense and payable
  // accounts, so each txn names one of each; and what it leaves on them is
  // what a refund can leave: the expense booked (paid or on its way) or
  // undone (failed, reversed), the payable owed (not settled yet) or not.
  // A reversal to another account (goodwill reversed to expense:refunds, a
  // wallet fallback reversed to expense:refunds:wallet) sums to zero overall
  // and only shows here.
  void CheckTxnAccounts(int p, const std::string& ledger_key) {
    for (const auto& [id, t] : txns_) {
      std::string problem;
      if (t.expense.size() > 1 || t.payable.size() > 1) {
        std::vector<std::string> accounts(t.expense.begin(), t.expense.end());
        accounts.insert(accounts.end(), t.payable.begin(), t.payable.end());
        std::sort(accounts.begin(), accounts.end());
        problem = absl::StrCat(
            "postings use more than one expense or payable account (",
            absl::StrJoin(accounts, ", "),
            "): every posting must use the accepted posting's accounts");
      } else if ((t.expense_net != 0 && t.expense_net != t.accepted) ||
                 (t.payable_net != 0 && t.payable_net != -t.accepted)) {
        problem = absl::StrCat(
            "postings leave ", t.expense_net, " on the expense and ",
            t.payable_net, " on the payable of an acceptance of ", t.accepted);
      }
      if (!problem.empty()) {
        Violation({{"check", "ledger_txn_accounts"},
                   {"partition", p},
                   {"txn", id},
                   {"problem", problem},
                   {"keys", {ledger_key}}});
      }
    }
    txns_.clear();
  }

  // 2. Orders: money refunds that stand fit the total and match the order's
  // refunded_minor.
  absl::Status CheckOrders(const std::vector<std::string>& keys) {
    for (size_t at = 0; at < keys.size(); at += kBatch) {
      std::vector<std::string> batch(
          keys.begin() + at, keys.begin() + std::min(keys.size(), at + kBatch));
      // The refund ids are read first, then everything again in one block;
      // an order whose refunds changed in between is read again.
      for (int attempt = 0; !batch.empty(); ++attempt) {
        if (attempt == 5) {
          orders_changing_ += static_cast<int64_t>(batch.size());
          break;
        }
        std::vector<Argv> ranges;
        for (const std::string& key : batch) {
          ranges.push_back({"ZRANGE", IndexKey(key), "0", "-1"});
        }
        std::vector<std::vector<std::string>> ids;
        for (auto& reply : redis_.Pipeline(std::move(ranges))) {
          if (!reply.ok()) return reply.status();
          std::vector<std::string> list;
          for (const RedisReply& id : reply->elements) list.push_back(id.str);
          ids.push_back(std::move(list));
        }
        std::vector<std::vector<Argv>> blocks;
        for (size_t i = 0; i < batch.size(); ++i) {
          std::vector<Argv> block = {
              {"HMGET", batch[i], "total_minor", "refunded_minor", "currency"},
              {"ZRANGE", IndexKey(batch[i]), "0", "-1"}};
          for (const std::string& id : ids[i]) {
            block.push_back({"HMGET", RefundKeyOf(batch[i], id), "state",
                             "amount_minor", "instrument"});
          }
          blocks.push_back(std::move(block));
        }
        MAKEGOOD_ASSIGN_OR_RETURN(auto snapshots,
                                  redis_.Snapshots(std::move(blocks)));
        std::vector<std::string> changed;
        for (size_t i = 0; i < batch.size(); ++i) {
          const auto& s = snapshots[i];
          std::vector<std::string> now_ids;
          for (const RedisReply& id : s[1].elements) now_ids.push_back(id.str);
          if (now_ids != ids[i]) {
            changed.push_back(batch[i]);
            continue;
          }
          CheckOrder(batch[i], s[0], ids[i],
                     std::vector<RedisReply>(s.begin() + 2, s.end()));
        }
        batch = std::move(changed);
      }
    }
    return absl::OkStatus();
  }

  static std::string IndexKey(const std::string& order_key) {
    int p = 0;
    std::string prefix;
    SplitPartition(order_key, &p, &prefix);
    return absl::StrCat(prefix, "refunds:o:",
                        order_key.substr(prefix.size() + 6));  // "order:"
  }

  static std::string RefundKeyOf(const std::string& order_key,
                                 const std::string& refund_id) {
    int p = 0;
    std::string prefix;
    SplitPartition(order_key, &p, &prefix);
    return absl::StrCat(prefix, "refund:", refund_id);
  }

  void CheckOrder(const std::string& key, const RedisReply& order,
                  const std::vector<std::string>& ids,
                  const std::vector<RedisReply>& refunds) {
    int p = 0;
    std::string prefix;
    if (!SplitPartition(key, &p, &prefix) || p >= keys_.partitions()) return;
    ++orders_;
    const std::string order_id = key.substr(prefix.size() + 6);
    const std::optional<int64_t> total = Int(At(order, 0));
    const int64_t refunded = Int(At(order, 1)).value_or(0);
    Json keys = {key, IndexKey(key)};
    // Money that stands (paid or on its way), and what the order's counter
    // must hold: that plus reversed refunds, whose reversal (an abusive
    // claim, mark_abusive.lua) takes the money back without giving the
    // order its remainder again.
    int64_t standing = 0, reserved = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      const RedisReply& r = refunds[i];
      const std::string refund_key = RefundKeyOf(key, ids[i]);
      const std::optional<std::string> state = At(r, 0);
      const std::optional<int64_t> amount = Int(At(r, 1));
      const std::string instrument = At(r, 2).value_or("");
      if (!state.has_value() || !amount.has_value()) {
        Violation({{"check", "order_refund_missing"},
                   {"partition", p},
                   {"order_id", order_id},
                   {"refund_id", ids[i]},
                   {"keys", {IndexKey(key), refund_key}}});
        continue;
      }
      if (instrument != "original_payment" && instrument != "wallet") continue;
      keys.push_back(refund_key);
      if (*state == "FAILED") continue;
      reserved += *amount;
      if (*state != "REVERSED") standing += *amount;
    }
    if (!total.has_value()) {
      Violation({{"check", "order_malformed"},
                 {"partition", p},
                 {"order_id", order_id},
                 {"field", "total_minor"},
                 {"keys", {key}}});
      return;
    }
    if (standing > *total || refunded > *total) {
      Violation({{"check", "order_over_refunded"},
                 {"partition", p},
                 {"order_id", order_id},
                 {"total_minor", *total},
                 {"refunded_minor", refunded},
                 {"refunds_minor", standing},
                 {"keys", keys}});
    }
    if (refunded != reserved) {
      Violation({{"check", "order_refunded_mismatch"},
                 {"partition", p},
                 {"order_id", order_id},
                 {"refunded_minor", refunded},
                 {"refunds_minor", reserved},
                 {"keys", keys}});
    }
  }

  // 3 and 4. Each refund: its payouts and its events, read in one block.
  absl::Status CheckRefunds(const std::vector<RefundKey>& found) {
    for (size_t at = 0; at < found.size(); at += kBatch) {
      std::vector<RefundKey> batch(
          found.begin() + at,
          found.begin() + std::min(found.size(), at + kBatch));
      std::vector<std::string> keys;
      for (const RefundKey& k : batch) keys.push_back(k.key);
      MAKEGOOD_ASSIGN_OR_RETURN(std::vector<std::string> members,
                                MemberIds(redis_, keys));
      std::vector<std::vector<Argv>> blocks;
      for (size_t i = 0; i < batch.size(); ++i) {
        const RefundKey& k = batch[i];
        const std::string id = k.key.substr(k.prefix.size() + 7);  // "refund:"
        blocks.push_back(
            {Hmget(k.key, RefundFields()),
             {"XRANGE", k.key + ":events", "-", "+"},
             {"HMGET", k.prefix + "psp:sandbox", "paid:" + id, "ref:" + id},
             {"HMGET", k.prefix + "wallet:" + members[i], "tx:" + id,
              "coupon:" + id, "reversed:" + id},
             {"ZSCORE", k.prefix + "attention", id}});
      }
      MAKEGOOD_ASSIGN_OR_RETURN(auto snapshots,
                                redis_.Snapshots(std::move(blocks)));
      for (size_t i = 0; i < batch.size(); ++i) {
        const auto& s = snapshots[i];
        Refund r = Refund::From(batch[i].key, batch[i].partition,
                                batch[i].prefix, s[0]);
        CheckRefund(r, s[1], s[2], s[3], s[4]);
      }
    }
    return absl::OkStatus();
  }

  void CheckRefund(const Refund& r, const RedisReply& events,
                   const RedisReply& sandbox, const RedisReply& wallet,
                   const RedisReply& attention_score) {
    ++refunds_;
    if (!r.state.has_value() || !r.amount.has_value() || r.member_id.empty()) {
      Violation({{"check", "refund_malformed"},
                 {"partition", r.partition},
                 {"refund_id", r.id},
                 {"keys", {r.key}}});
      return;
    }
    const std::string& state = *r.state;
    ++refunds_by_state_[state];
    CheckEvents(r, events);
    CheckPayouts(r, sandbox, wallet);

    if ((state == "ACCEPTED" || state == "SETTLING") &&
        now_ms_ - r.updated_at_ms >
            absl::ToInt64Milliseconds(options_.stale_after)) {
      ++stale_count_;
      List(stale_, {{"partition", r.partition},
                    {"refund_id", r.id},
                    {"state", state},
                    {"age_ms", now_ms_ - r.updated_at_ms},
                    {"key", r.key}});
    }
    if (state == "NEEDS_ATTENTION") {
      ++attention_count_;
      List(attention_, {{"partition", r.partition},
                        {"refund_id", r.id},
                        {"provider", r.provider},
                        {"reason", r.state_reason},
                        {"age_ms", now_ms_ - r.updated_at_ms},
                        {"key", r.key}});
      if (attention_score.is_nil()) {
        // Operators list these from the index (ListRefundsNeedingAttention,
        // makegood_admin attention): one missing is one nobody sees.
        // `reconcile --fix` indexes it again.
        Violation({{"check", "attention_index"},
                   {"partition", r.partition},
                   {"refund_id", r.id},
                   {"problem",
                    "NEEDS_ATTENTION refund missing from the attention index"},
                   {"keys", {r.key, r.prefix + "attention"}}});
      }
    }
  }

  void CheckEvents(const Refund& r, const RedisReply& events) {
    std::string problem;
    int64_t n = 0;
    std::string last_to;
    for (const RedisReply& entry : events.elements) {
      if (entry.elements.size() < 2) continue;
      auto e = Fields(entry.elements[1]);
      int64_t seq = 0;
      if (!absl::SimpleAtoi(e["seq"], &seq) || seq != n + 1) {
        problem = absl::StrCat("event ", entry.elements[0].str, " has seq \"",
                               e["seq"], "\", expected ", n + 1);
        break;
      }
      n = seq;
      last_to = e["to"];
    }
    if (problem.empty() && n == 0) problem = "no events";
    if (problem.empty() && last_to != *r.state) {
      problem =
          absl::StrCat("last event goes to ", last_to, ", state is ", *r.state);
    }
    if (problem.empty() && r.seq != n) {
      problem = absl::StrCat("refund seq is ",
                             r.seq.has_value() ? absl::StrCat(*r.seq) : "none",
                             ", events count ", n);
    }
    if (!problem.empty()) {
      Violation({{"check", "refund_events"},
                 {"partition", r.partition},
                 {"refund_id", r.id},
                 {"state", *r.state},
                 {"problem", problem},
                 {"keys", {r.key, r.EventsKey()}}});
    }
  }

  // How many payouts a place (sandbox books, wallet credit, coupon) may hold
  // for a refund.
  enum class Expect { kNone, kAtMostOne, kOne };

  // Exactly one payout for a paid refund, at its provider; none elsewhere.
  void CheckPayouts(const Refund& r, const RedisReply& sandbox,
                    const RedisReply& wallet) {
    const std::string& state = *r.state;
    const int64_t amount = *r.amount;
    const bool paid_state = IsFinalPaid(state);
    const bool in_flight = state == "SETTLING" || state == "NEEDS_ATTENTION";
    // At the refund's own provider: one payout once paid, perhaps one while
    // in flight (paid, answer not recorded yet), none before or after a
    // failure. A reversed coupon is taken back (its field deleted).
    Expect own = paid_state  ? Expect::kOne
                 : in_flight ? Expect::kAtMostOne
                             : Expect::kNone;
    if (state == "REVERSED" && r.provider == "coupon") own = Expect::kNone;
    auto expect = [&](absl::string_view provider) {
      return r.provider == provider ? own : Expect::kNone;
    };

    std::vector<std::string> problems;
    Json keys = {r.key};
    auto need = [&problems](bool ok, std::string problem) {
      if (!ok) problems.push_back(std::move(problem));
    };
    auto shown = [](const std::optional<std::string>& v) {
      return v.has_value() ? absl::StrCat("\"", *v, "\"") : "absent";
    };

    // Sandbox books: paid:<id> counts payouts, ref:<id> holds the answer.
    const std::optional<std::string> paid_text = At(sandbox, 0);
    const int64_t paid =
        paid_text.has_value() ? Int(paid_text).value_or(-1) : 0;
    const std::optional<std::string> books_ref = At(sandbox, 1);
    const Expect sandbox_expect = expect("sandbox");
    if (paid != 0 || sandbox_expect != Expect::kNone) {
      keys.push_back(r.SandboxKey());
    }
    const std::string paid_problem = absl::StrCat(
        "sandbox paid:", r.id, " is ", shown(paid_text), " for a ", state, " ",
        r.provider.empty() ? "unsent" : r.provider, " refund");
    switch (sandbox_expect) {
      case Expect::kNone:
        need(paid == 0, paid_problem);
        break;
      case Expect::kAtMostOne:
        need(paid == 0 || paid == 1, paid_problem);
        break;
      case Expect::kOne:
        need(paid == 1, paid_problem);
        need(paid != 1 || books_ref == absl::StrCat("ok:", r.provider_ref),
             absl::StrCat("sandbox ref:", r.id, " is ", shown(books_ref),
                          ", the refund's provider_ref \"", r.provider_ref,
                          "\""));
        break;
    }

    // Wallet credit (tx:<id>) and coupon (coupon:<id>) in the member's
    // wallet hash.
    const std::optional<std::string> tx = At(wallet, 0);
    const std::optional<std::string> coupon = At(wallet, 1);
    if (tx.has_value() || coupon.has_value() || r.provider == "wallet" ||
        r.provider == "coupon") {
      keys.push_back(r.WalletKey());
    }
    const std::string amount_text = absl::StrCat(amount);
    const std::pair<std::string, std::optional<std::string>> places[] = {
        {"wallet", tx}, {"coupon", coupon}};
    for (const auto& [place, value] : places) {
      const std::string problem =
          absl::StrCat(place == "wallet" ? "wallet tx:" : "coupon:", r.id,
                       " is ", shown(value), " for a ", state, " ",
                       r.provider.empty() ? "unsent" : r.provider,
                       " refund of ", amount_text);
      switch (expect(place)) {
        case Expect::kNone:
          need(!value.has_value(), problem);
          break;
        case Expect::kAtMostOne:
          need(!value.has_value() || value == amount_text, problem);
          break;
        case Expect::kOne:
          need(value == amount_text, problem);
          break;
      }
    }
    if (state == "REVERSED" && r.provider == "wallet") {
      need(At(wallet, 2).has_value(),
           absl::StrCat("wallet has no reversed:", r.id,
                        " for a REVERSED refund"));
    }

    if (r.provider == "http") {
      // The http provider's own books are asked after the scan.
      if (paid_state || !in_flight) http_checks_.push_back({r, paid_state});
    } else if (paid_state) {
      if (r.provider == "sandbox" || r.provider == "wallet" ||
          r.provider == "coupon") {
        ++payouts_verified_;
      } else {
        problems.push_back(absl::StrCat("paid refund with unknown provider \"",
                                        r.provider, "\""));
      }
    }
    if (!problems.empty()) {
      Violation({{"check", "payout"},
                 {"partition", r.partition},
                 {"refund_id", r.id},
                 {"state", state},
                 {"provider", r.provider},
                 {"amount_minor", amount},
                 {"problem", absl::StrJoin(problems, "; ")},
                 {"keys", keys}});
    }
  }

  struct HttpCheck {
    Refund refund;
    bool must_be_paid;
  };

  void CheckHttpPayouts() {
    if (http_checks_.empty()) return;
    settlement::PaymentProvider* http = providers_.Find("http");
    if (http == nullptr) {
      for (const HttpCheck& c : http_checks_) {
        ++http_unchecked_count_;
        List(http_unchecked_, c.refund.id);
      }
      return;
    }
    std::vector<settlement::PayoutRequest> requests;
    for (const HttpCheck& c : http_checks_) {
      requests.push_back(c.refund.Request());
    }
    std::vector<settlement::PayoutResult> results = LookupAll(*http, requests);
    for (size_t i = 0; i < results.size(); ++i) {
      const Refund& r = http_checks_[i].refund;
      const settlement::PayoutResult& found = results[i];
      if (found.outcome == settlement::PayoutOutcome::kUnknown) {
        ++http_unchecked_count_;
        List(http_unchecked_, r.id);
        continue;
      }
      const bool paid = found.outcome == settlement::PayoutOutcome::kSucceeded;
      if (http_checks_[i].must_be_paid) ++payouts_verified_;
      std::string problem;
      if (http_checks_[i].must_be_paid && !paid) {
        problem = absl::StrCat("http provider answers ",
                               settlement::PayoutOutcomeName(found.outcome));
      } else if (http_checks_[i].must_be_paid &&
                 found.provider_reference != r.provider_ref) {
        problem =
            absl::StrCat("http provider reference \"", found.provider_reference,
                         "\", refund says \"", r.provider_ref, "\"");
      } else if (!http_checks_[i].must_be_paid && paid) {
        problem = absl::StrCat("http provider paid a ", *r.state, " refund");
      }
      if (!problem.empty()) {
        Violation({{"check", "payout"},
                   {"partition", r.partition},
                   {"refund_id", r.id},
                   {"state", *r.state},
                   {"provider", r.provider},
                   {"amount_minor", *r.amount},
                   {"problem", problem},
                   {"keys", {r.key}}});
      }
    }
  }

  // 5. Outbox backlog, pending entries and dead letters per partition.
  absl::Status CheckOutbox() {
    std::vector<Argv> commands;
    for (int p = 0; p < keys_.partitions(); ++p) {
      const std::string prefix = keys_.PartitionPrefix(p);
      commands.push_back({"XLEN", prefix + "outbox"});
      commands.push_back({"XLEN", prefix + "outbox:dead"});
      commands.push_back({"XPENDING", prefix + "outbox", kGroup});
    }
    std::vector<absl::StatusOr<RedisReply>> replies =
        redis_.Pipeline(std::move(commands));
    for (int p = 0; p < keys_.partitions(); ++p) {
      const auto& backlog = replies[3 * p];
      const auto& dead = replies[3 * p + 1];
      const auto& pending = replies[3 * p + 2];
      if (!backlog.ok()) return backlog.status();
      if (!dead.ok()) return dead.status();
      int64_t pending_count = 0;
      if (pending.ok()) {
        if (!pending->elements.empty()) {
          pending_count = pending->elements[0].integer;
        }
      } else if (!absl::StrContains(pending.status().message(), "NOGROUP")) {
        return pending.status();  // No group yet: nothing pending.
      }
      outbox_.push_back({{"partition", p},
                         {"backlog", backlog->integer},
                         {"pending", pending_count},
                         {"dead_letters", dead->integer}});
    }
    return absl::OkStatus();
  }

  Redis& redis_;
  const store::KeySchema& keys_;
  const Options& options_;
  const Providers& providers_;
  const int64_t now_ms_;

  // Per ledger txn (refund id) of the partition being replayed.
  struct Txn {
    absl::flat_hash_set<std::string> expense, payable;
    int64_t expense_net = 0, payable_net = 0, accepted = 0;
  };
  absl::flat_hash_map<std::string, Txn> txns_;
  Json violations_ = Json::array();
  Json stale_ = Json::array();
  Json attention_ = Json::array();
  Json http_unchecked_ = Json::array();
  std::vector<Json> outbox_;
  std::vector<HttpCheck> http_checks_;
  std::map<std::string, int64_t> refunds_by_state_;
  int64_t ledger_entries_ = 0, ledger_accounts_ = 0, orders_ = 0, refunds_ = 0,
          payouts_verified_ = 0, http_unchecked_count_ = 0,
          orders_changing_ = 0, stale_count_ = 0, attention_count_ = 0;
};

// ---------------------------------------------------------------------------
// reconcile

class Reconciler {
 public:
  Reconciler(Redis& redis, const store::KeySchema& keys, const Options& options,
             const Providers& providers)
      : redis_(redis), keys_(keys), options_(options), providers_(providers) {}

  absl::Status Run() {
    MAKEGOOD_RETURN_IF_ERROR(redis_.Scan(
        "mg:{p*}:refund:*", "hash", [this](std::vector<std::string> keys) {
          return Batch(RefundKeys(keys, keys_.partitions()));
        }));
    Json summary = {{"summary",
                     {{"examined", examined_},
                      {"findings", Json(findings_)},
                      {"recorded", recorded_},
                      {"redriven", redriven_},
                      {"left_for_operator", left_},
                      {"fix", options_.fix}}}};
    std::cout << summary.dump() << "\n";
    return absl::OkStatus();
  }

  // Whether any refund still needs an operator.
  bool left() const { return left_ > 0; }

 private:
  absl::Status Batch(const std::vector<RefundKey>& found) {
    std::vector<Argv> reads;
    for (const RefundKey& k : found) {
      reads.push_back(Hmget(k.key, RefundFields()));
    }
    std::vector<absl::StatusOr<RedisReply>> replies =
        redis_.Pipeline(std::move(reads));
    // Grouped by provider, so each provider is asked about all at once.
    std::map<std::string, std::vector<Refund>> by_provider;
    for (size_t i = 0; i < found.size(); ++i) {
      if (!replies[i].ok()) return replies[i].status();
      Refund r = Refund::From(found[i].key, found[i].partition, found[i].prefix,
                              *replies[i]);
      if (r.state != "SETTLING" && r.state != "NEEDS_ATTENTION") continue;
      ++examined_;
      if (r.provider.empty()) {
        // Dead-lettered before any worker took it: no provider was asked,
        // so nothing can have been paid. --fix sends it (re-drive).
        MAKEGOOD_RETURN_IF_ERROR(Resend(r, "never_sent", {}));
        continue;
      }
      if (providers_.Find(r.provider) == nullptr) {
        Report(r, "unchecked", {}, "none", "", /*resolved=*/false);
        continue;
      }
      by_provider[r.provider].push_back(std::move(r));
    }
    for (auto& [name, refunds] : by_provider) {
      std::vector<settlement::PayoutRequest> requests;
      for (const Refund& r : refunds) requests.push_back(r.Request());
      std::vector<settlement::PayoutResult> results =
          LookupAll(*providers_.Find(name), requests);
      for (size_t i = 0; i < refunds.size(); ++i) {
        MAKEGOOD_RETURN_IF_ERROR(Settle(refunds[i], results[i]));
      }
    }
    return absl::OkStatus();
  }

  absl::Status Settle(const Refund& r, const settlement::PayoutResult& found) {
    using settlement::PayoutOutcome;
    const std::string finding =
        found.outcome == PayoutOutcome::kSucceeded  ? "succeeded"
        : found.outcome == PayoutOutcome::kDeclined ? "declined"
        : found.outcome == PayoutOutcome::kNotFound ? "not_found"
                                                    : "unknown";
    if (found.outcome == PayoutOutcome::kNotFound &&
        r.state == "NEEDS_ATTENTION") {
      // The provider never saw it: --fix re-sends it (re-drive; the worker
      // looks it up again before paying).
      return Resend(r, finding, found);
    }
    if (found.outcome != PayoutOutcome::kSucceeded &&
        found.outcome != PayoutOutcome::kDeclined) {
      // Never guessed: the worker resumes a SETTLING refund (and pays only
      // what the provider never saw); an unknown answer stays with
      // operators.
      Report(r, finding, found, "none", "", /*resolved=*/false);
      return absl::OkStatus();
    }
    if (!options_.fix) {
      Report(r, finding, found, "would_record", "", /*resolved=*/false);
      return absl::OkStatus();
    }
    const std::string now = absl::StrCat(absl::ToUnixMillis(RealClock().Now()));
    const std::string reason = absl::StrCat(
        "reconciled:", found.reason.empty() ? finding : found.reason);
    std::vector<std::string> refund_keys = {
        r.key, r.EventsKey(), r.prefix + "refund_feed", r.prefix + "attention"};
    if (r.state == "NEEDS_ATTENTION") {
      MAKEGOOD_ASSIGN_OR_RETURN(
          RedisReply reopened, redis_.Eval(store::scripts::kReconcileRefund,
                                           refund_keys, {now, kActor, reason}));
      const std::string tag =
          reopened.elements.empty() ? "" : reopened.elements[0].str;
      if (tag != "REOPENED") {
        // SKIPPED: someone else moved it meanwhile (its new state speaks for
        // itself).
        Report(r, finding, found, "none", tag, tag == "SKIPPED");
        return absl::OkStatus();
      }
    }
    std::vector<std::string> keys = {r.key,
                                     r.EventsKey(),
                                     r.prefix + "refund_feed",
                                     r.prefix + "outbox",
                                     r.prefix + "ledger",
                                     r.prefix + "ledger:balances",
                                     keys_.OrderKey(r.member_id, r.order_id),
                                     r.WalletKey(),
                                     r.prefix + "fu:notifications",
                                     r.prefix + "outbox:dead",
                                     r.prefix + "fu:tasks",
                                     r.prefix + "attention"};
    // No outbox entry is acknowledged (""): a worker still holding one finds
    // the refund final and acknowledges it then.
    std::vector<std::string> args = {
        now,
        found.outcome == PayoutOutcome::kSucceeded ? "succeeded" : "declined",
        found.provider_reference,
        reason,
        "",
        kGroup,
        options_.fallback,
        kActor,
        "0",
        ""};
    MAKEGOOD_ASSIGN_OR_RETURN(RedisReply finished,
                              redis_.Eval(store::scripts::kSettleFinish,
                                          std::move(keys), std::move(args)));
    const auto& e = finished.elements;
    const std::string tag = e.empty() ? "" : e[0].str;
    const std::string state = e.size() >= 2 ? e[1].str : "";
    if (tag == "DONE") ++recorded_;
    // ALREADY: final meanwhile (a worker finished it first).
    Report(r, finding, found, tag == "DONE" ? "recorded" : "none",
           state.empty() ? tag : state, tag == "DONE" || tag == "ALREADY");
    return absl::OkStatus();
  }

  // A NEEDS_ATTENTION refund no provider has seen: with --fix it is
  // re-driven (redrive_refund.lua, as RefundService.RedriveRefund does), so
  // a worker sends it — after looking it up once more.
  absl::Status Resend(const Refund& r, const std::string& finding,
                      const settlement::PayoutResult& found) {
    if (!options_.fix) {
      Report(r, finding, found, "would_redrive", "", /*resolved=*/false);
      return absl::OkStatus();
    }
    MAKEGOOD_ASSIGN_OR_RETURN(
        store::RefundStore::RedriveOutcome outcome,
        RedriveSync(redis_, keys_, r.partition, r.id, kActor, finding));
    const bool redriven =
        outcome == store::RefundStore::RedriveOutcome::kRedriven;
    if (redriven) ++redriven_;
    Report(r, finding, found, redriven ? "redriven" : "none", "ACCEPTED",
           /*resolved=*/true);
    return absl::OkStatus();
  }

  // Prints one JSON line about `r`; unless `resolved`, the refund counts as
  // left for an operator.
  void Report(const Refund& r, const std::string& finding,
              const settlement::PayoutResult& found, const std::string& action,
              const std::string& new_state, bool resolved) {
    ++findings_[finding];
    if (!resolved) ++left_;
    if (!resolved && options_.fix && r.state == "NEEDS_ATTENTION") {
      // Left for an operator: make sure operators see it (a refund set
      // aside before the attention index existed is not in it).
      (void)redis_.Run({"ZADD", r.prefix + "attention", "NX",
                        absl::StrCat(r.updated_at_ms), r.id});
    }
    Json line = {{"partition", r.partition},
                 {"refund_id", r.id},
                 {"state", r.state.value_or("")},
                 {"provider", r.provider},
                 {"amount_minor", r.amount.value_or(0)},
                 {"currency", r.currency},
                 {"finding", finding},
                 {"provider_reference", found.provider_reference},
                 {"reason", found.reason},
                 {"action", action}};
    if (!new_state.empty()) line["new_state"] = new_state;
    std::cout << line.dump() << "\n";
  }

  Redis& redis_;
  const store::KeySchema& keys_;
  const Options& options_;
  const Providers& providers_;
  int64_t examined_ = 0, recorded_ = 0, redriven_ = 0, left_ = 0;
  std::map<std::string, int64_t> findings_;
};

// ---------------------------------------------------------------------------
// dead-letters

absl::Status ListDeadLetters(Redis& redis, const store::KeySchema& keys) {
  for (int p = 0; p < keys.partitions(); ++p) {
    const std::string key = keys.PartitionPrefix(p) + "outbox:dead";
    std::string from = "-";
    while (true) {
      MAKEGOOD_ASSIGN_OR_RETURN(
          RedisReply page,
          redis.Run({"XRANGE", key, from, "+", "COUNT", "500"}));
      for (const RedisReply& entry : page.elements) {
        if (entry.elements.size() < 2) continue;
        Json line = {{"partition", p}, {"id", entry.elements[0].str}};
        for (const auto& [field, value] : Fields(entry.elements[1])) {
          line[field] = value;
        }
        std::cout << line.dump() << "\n";
      }
      if (page.elements.size() < 500) break;
      from = absl::StrCat("(", page.elements.back().elements[0].str);
    }
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------
// attention, redrive

// The partition named in a refund id "rf_<partition>_<24 hex>" (the format of
// rating/rating_ids.h), if well-formed for `partitions`.
std::optional<int> RefundIdPartition(absl::string_view id, int partitions) {
  int partition = 0;
  if (!absl::ConsumePrefix(&id, "rf_")) return std::nullopt;
  const size_t sep = id.find('_');
  if (sep == absl::string_view::npos ||
      !absl::SimpleAtoi(id.substr(0, sep), &partition) || partition < 0 ||
      partition >= partitions) {
    return std::nullopt;
  }
  absl::string_view hex = id.substr(sep + 1);
  if (hex.size() != 24) return std::nullopt;
  for (char c : hex) {
    if (!absl::ascii_isxdigit(c)) return std::nullopt;
  }
  return partition;
}

// Lists the NEEDS_ATTENTION refunds (the attention index every partition
// keeps, as RefundService.ListRefundsNeedingAttention); whether any.
absl::StatusOr<bool> ListAttention(Redis& redis, const store::KeySchema& keys,
                                   const Options& options) {
  store::RefundStore refunds(redis.client(), keys);
  const int64_t now_ms = absl::ToUnixMillis(RealClock().Now());
  std::string cursor_ms = "-inf", cursor_id;
  int64_t listed = 0, total = 0;
  while (listed < options.limit) {
    const int page_size =
        static_cast<int>(std::min<int64_t>(options.limit - listed, 500));
    MAKEGOOD_ASSIGN_OR_RETURN(
        store::AttentionPage page,
        Wait<store::AttentionPage>(
            [&](absl::AnyInvocable<void(absl::StatusOr<store::AttentionPage>)>
                    done) {
              refunds.ListNeedingAttention(cursor_ms, cursor_id, page_size,
                                           std::move(done));
            }));
    total = page.total;
    for (const store::AttentionRefund& a : page.refunds) {
      ++listed;
      const v1::Refund& r = a.refund;
      Json line = {
          {"refund_id", r.refund_id()},
          {"partition",
           RefundIdPartition(r.refund_id(), keys.partitions()).value_or(-1)},
          {"state", v1::RefundState_Name(r.state())},
          {"reason", r.state_reason()},
          {"provider", a.provider},
          {"attempts", a.attempts},
          {"amount_minor", r.amount_minor()},
          {"currency", r.currency()},
          {"since_ms", a.since_ms},
          {"age_ms", std::max<int64_t>(0, now_ms - a.since_ms)}};
      std::cout << line.dump() << "\n";
    }
    if (page.next_id.empty()) break;
    cursor_ms = page.next_ms;
    cursor_id = page.next_id;
  }
  Json summary = {
      {"summary", {{"needs_attention", total}, {"listed", listed}}}};
  std::cout << summary.dump() << "\n";
  return total > 0;
}

// Re-drives one refund; exit code.
int Redrive(Redis& redis, const store::KeySchema& keys,
            const Options& options) {
  std::optional<int> partition =
      RefundIdPartition(options.refund_id, keys.partitions());
  if (!partition.has_value()) {
    std::cerr << "makegood_admin: --refund_id: \"" << options.refund_id
              << "\" is not a refund id of this deployment "
                 "(rf_<partition>_<24 hex digits>)\n";
    return kError;
  }
  absl::StatusOr<store::RefundStore::RedriveOutcome> outcome = RedriveSync(
      redis, keys, *partition, options.refund_id,
      absl::StrCat("operator:", options.operator_id), options.reason);
  if (absl::IsNotFound(outcome.status()) ||
      absl::IsFailedPrecondition(outcome.status())) {
    std::cerr << "makegood_admin: " << outcome.status().message() << "\n";
    return kFound;
  }
  if (!outcome.ok()) {
    std::cerr << "makegood_admin: " << outcome.status().message() << "\n";
    return kError;
  }
  const bool redriven =
      *outcome == store::RefundStore::RedriveOutcome::kRedriven;
  Json line = {{"refund_id", options.refund_id},
               {"outcome", redriven ? "redriven" : "in_progress"}};
  std::cout << line.dump() << "\n";
  return kOk;
}

// ---------------------------------------------------------------------------

// --partitions, else what mg:meta records, else 64; a flag contradicting
// mg:meta is refused (every key would be looked for in the wrong place).
absl::StatusOr<store::KeySchema> Partitions(Redis& redis,
                                            const Options& options) {
  MAKEGOOD_ASSIGN_OR_RETURN(
      RedisReply meta,
      redis.Run({"HGET", store::KeySchema::MetaKey(), "partitions"}));
  int recorded = 0;
  if (meta.is_text() && !absl::SimpleAtoi(meta.str, &recorded)) {
    return absl::FailedPreconditionError(
        absl::StrCat("mg:meta partitions is \"", meta.str, "\""));
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
  absl::StatusOr<std::unique_ptr<Redis>> redis = Redis::Connect(redis_options);
  if (!redis.ok()) return Fail(redis.status());
  absl::StatusOr<store::KeySchema> keys = Partitions(**redis, *options);
  if (!keys.ok()) return Fail(keys.status());

  if (options->command == "dead-letters") {
    absl::Status listed = ListDeadLetters(**redis, *keys);
    return listed.ok() ? kOk : Fail(listed);
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
    Reconciler reconciler(**redis, *keys, *options, *providers);
    absl::Status done = reconciler.Run();
    if (!done.ok()) return Fail(done);
    FlushLogs();
    return reconciler.left() ? kFound : kOk;
  }
  MoneyCheck check(**redis, *keys, *options, *providers);
  absl::Status done = check.Run();
  if (!done.ok()) return Fail(done);
  std::cout << check.Report().dump(options->pretty ? 2 : -1) << "\n";
  FlushLogs();
  return check.clean() ? kOk : kFound;
}

}  // namespace
}  // namespace makegood::admin

int main(int argc, char** argv) {
  return makegood::admin::Main(std::vector<std::string>(argv + 1, argv + argc));
}
