#include "services/tools/loadgen/flags.h"

#include <algorithm>
#include <string_view>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_format.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "makegood's gRPC address, HOST:PORT.");
ABSL_FLAG(std::string, mode, "nowork",
          "fresh: SubmitRating with a new idempotency key on every call; "
          "replay: SubmitRating re-sending already submitted keys "
          "round-robin (answers must say replayed: true); nowork: "
          "grpc.health.v1.Health/Check, answered from memory (the gRPC "
          "ceiling of the same binary); settle: SubmitRating on a fresh "
          "order that moves money, then WatchRefund until the refund is "
          "final (time from the reply to SUCCEEDED; needs --rate); order: "
          "RecordDelivery of a new order for each member in turn (a "
          "reorder for retention after trouble).");
ABSL_FLAG(double, rate, 0,
          "Offered load in calls/s: open loop, latency measured from each "
          "call's scheduled send time. 0 = maximum throughput: closed loop "
          "with --concurrency calls in flight.");
ABSL_FLAG(int, concurrency, 64,
          "Closed loop (--rate=0): calls kept in flight.");
ABSL_FLAG(int, max_in_flight, 20000,
          "Open loop: cap on calls in flight; at the cap sending waits, and "
          "the wait counts in the latency of the late calls.");
ABSL_FLAG(absl::Duration, duration, absl::Seconds(10),
          "Measured run time, after the warmup. 0 = only --setup and replay "
          "priming, no run.");
ABSL_FLAG(absl::Duration, warmup, absl::Seconds(2),
          "Load before the measured run; calls scheduled in it are excluded "
          "from every figure except total_calls.");
ABSL_FLAG(absl::Duration, timeout, absl::Seconds(5), "Deadline of each call.");
ABSL_FLAG(int, channels, 1,
          "gRPC channels, each its own HTTP/2 connection; calls are spread "
          "over them round-robin.");
ABSL_FLAG(absl::Duration, wait_serving, absl::Seconds(15),
          "At start, how long to wait for Health/Check to answer SERVING.");
ABSL_FLAG(bool, setup, false,
          "Before the run, create --members members (UpsertMember) and "
          "--orders_per_member delivered orders each (RecordDelivery), with "
          "--setup_concurrency calls in flight. Any failure stops the run.");
ABSL_FLAG(bool, setup_only, false,
          "Stop after --setup and replay priming, like --duration=0s, but "
          "with --rate, --warmup and --duration still sizing the settle "
          "mode's orders (so a later run with the same flags, without "
          "--setup, rates them).");
ABSL_FLAG(int, members, 200,
          "Members the ratings are spread over (created by --setup).");
ABSL_FLAG(int, orders_per_member, 10,
          "Orders per member the ratings are spread over (created by "
          "--setup). Ratings take (member, order) pairs round-robin.");
ABSL_FLAG(int, setup_concurrency, 64,
          "Calls in flight during --setup and replay priming.");
ABSL_FLAG(int, replay_keys, 1000,
          "replay: distinct idempotency keys, submitted first and then "
          "re-sent round-robin.");
ABSL_FLAG(bool, replay_prime, true,
          "replay: submit the --replay_keys ratings before the run. false = "
          "an earlier run with the same --seed, --id_prefix, --members, "
          "--orders_per_member and --replay_keys submitted them.");
ABSL_FLAG(uint64_t, seed, 1,
          "Seed of every random choice (order contents, ratings).");
ABSL_FLAG(std::string, id_prefix, "lg",
          "Prefix of member ids, order ids and idempotency keys.");
ABSL_FLAG(std::vector<std::string>, metadata, {},
          "Extra metadata on every makegood.v1 call, KEY=VALUE[,KEY=VALUE] "
          "(e.g. caller credentials).");
ABSL_FLAG(std::string, instrument, "wallet",
          "settle: how the rated orders were paid, so how refunds settle: "
          "wallet (PAYMENT_METHOD_WALLET, credited in Redis) or card "
          "(PAYMENT_METHOD_CARD, paid through the server's --card_provider).");
ABSL_FLAG(int64_t, settle_orders, 0,
          "settle: premium members, one delivered order each, that the "
          "ratings use (the i-th rating rates order i; each is rated once). "
          "0 = rate x (warmup + duration), one per call. --setup creates "
          "them; ids come from --id_prefix and --seed, so rerunning against "
          "the same Redis needs a new --id_prefix (an order already refunded "
          "moves no money the second time).");
ABSL_FLAG(absl::Duration, settle_timeout, absl::Seconds(30),
          "settle: deadline of each WatchRefund stream; a refund not final "
          "by then counts as DEADLINE_EXCEEDED.");
ABSL_FLAG(double, max_error_ratio, 0.01,
          "Exit 1 if more than this fraction of the measured calls failed: "
          "a non-OK status, or an OK answer that contradicts the mode (a "
          "replay not marked replayed, a fresh key marked replayed, a health "
          "check not SERVING).");

namespace makegood::loadgen {

bool WantsHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--help" || arg == "-help" || arg == "-h" ||
        arg == "--helpfull") {
      return true;
    }
  }
  return false;
}

// The usage text: the file comment's summary plus this file's flags.
std::string HelpText() {
  std::string text =
      "makegood_loadgen: load generator for makegood (gRPC callback client).\n"
      "\n"
      "Usage: makegood_loadgen --target=HOST:PORT --mode=fresh|replay|nowork\n"
      "           [--rate=N | --concurrency=C] [--setup] [flags]\n"
      "       makegood_loadgen --target=HOST:PORT --mode=settle --rate=N\n"
      "           --instrument=wallet|card [--setup] [flags]\n"
      "\n"
      "Prints one JSON line on stdout: mode, offered rate, achieved QPS,\n"
      "p50/p90/p99/p99.9 latency in microseconds (exact nearest-rank\n"
      "percentiles over a sorted vector of every successful measured call;\n"
      "open loop measures from each call's scheduled send time), and counts\n"
      "per gRPC status code; settle adds a \"settle\" object (time from\n"
      "SubmitRating's reply to SUCCEEDED on WatchRefund, and more).\n"
      "Exit status: 0 ok, 1 too many errors (--max_error_ratio), 2 bad\n"
      "flags, server not serving or setup failed.\n"
      "\n"
      "Flags:\n";
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "tools/loadgen/flags.cc")) {
      flags.push_back(flag);
    }
  }
  std::sort(flags.begin(), flags.end(),
            [](absl::CommandLineFlag* a, absl::CommandLineFlag* b) {
              return a->Name() < b->Name();
            });
  for (absl::CommandLineFlag* flag : flags) {
    absl::StrAppendFormat(
        &text, "  --%s\n      %s\n      default: %s\n", flag->Name(),
        flag->Help(),
        flag->DefaultValue().empty() ? "(none)" : flag->DefaultValue());
  }
  return text;
}

}  // namespace makegood::loadgen
