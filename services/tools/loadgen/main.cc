// File: services/tools/loadgen/main.cc
//
// makegood_loadgen: drives a running makegood over the gRPC callback client
// API and prints one JSON line of results on stdout (progress goes to
// stderr). scripts/bench.sh runs it; docs/PERFORMANCE.md explains the figures.
//
// Modes (--mode):
//   fresh   RatingService.SubmitRating, a new idempotency key on every call;
//   replay  SubmitRating re-sending keys submitted before (first --replay_keys
//           ratings, then those keys round-robin); answers must say replayed;
//   nowork  grpc.health.v1.Health/Check, answered from memory by the same
//           server binary: the gRPC ceiling of this machine;
//   settle  settlement latency: SubmitRating on a never-rated order (one
//           premium member and one order each, paid by --instrument) that
//           moves money, then RefundService.WatchRefund on the refund id at
//           once, until the refund's final state. Measures the time from the
//           rating's reply to the first message saying SUCCEEDED (and from
//           the rating's scheduled send to it). Needs --rate (open loop).
// Load shapes:
//   --rate=0  closed loop: --concurrency calls always in flight, as fast as
//             the server answers (maximum throughput);
//   --rate=N  open loop: call i is due at start + i/N whether or not earlier
//             calls have answered, and its latency is measured from that due
//             time, so a server that falls behind cannot hide the queueing
//             (no coordinated omission).
// Percentiles are exact: every measured latency is kept in a vector, which is
// sorted once at the end (nearest-rank method).
//
// Example:
//   makegood_loadgen --target=127.0.0.1:50051 --mode=fresh --setup
//
// Files: flags (every flag, --help), dataset (what is sent), connections
// (channels and stubs), workload / rating_workloads / settle_workload (the
// calls), runner (open and closed loop, statistics), call_stats (clock,
// codes, percentiles), setup (--setup and replay priming).

#include <sys/prctl.h>

#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "services/tools/loadgen/call_stats.h"
#include "services/tools/loadgen/connections.h"
#include "services/tools/loadgen/dataset.h"
#include "services/tools/loadgen/flags.h"
#include "services/tools/loadgen/order_workload.h"
#include "services/tools/loadgen/rating_workloads.h"
#include "services/tools/loadgen/runner.h"
#include "services/tools/loadgen/settle_workload.h"
#include "services/tools/loadgen/setup.h"

namespace makegood::loadgen {
namespace {

namespace v1 = ::makegood::v1;

int Fail(const std::string& message) {
  std::cerr << "makegood_loadgen: " << message << "\n";
  return 2;
}

int Main(int argc, char** argv) {
  if (WantsHelp(argc, argv)) {
    std::cout << HelpText();
    return 0;
  }
  absl::ParseCommandLine(argc, argv);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  const double rate = absl::GetFlag(FLAGS_rate);
  const int members = absl::GetFlag(FLAGS_members);
  const int orders_per_member = absl::GetFlag(FLAGS_orders_per_member);
  const absl::Duration duration = absl::GetFlag(FLAGS_duration);
  const absl::Duration warmup = absl::GetFlag(FLAGS_warmup);
  const absl::Duration timeout = absl::GetFlag(FLAGS_timeout);
  if (mode != "fresh" && mode != "replay" && mode != "nowork" &&
      mode != "settle" && mode != "order") {
    return Fail("--mode must be fresh, replay, nowork, settle or order");
  }
  if (rate < 0 || !std::isfinite(rate)) return Fail("--rate must be >= 0");
  const std::string instrument_flag = absl::GetFlag(FLAGS_instrument);
  if (instrument_flag != "wallet" && instrument_flag != "card") {
    return Fail("--instrument must be wallet or card");
  }
  const v1::Instrument instrument = instrument_flag == "wallet"
                                        ? v1::INSTRUMENT_WALLET
                                        : v1::INSTRUMENT_ORIGINAL_PAYMENT;
  int64_t settle_orders = absl::GetFlag(FLAGS_settle_orders);
  if (mode == "settle") {
    if (rate <= 0 && duration > absl::ZeroDuration()) {
      return Fail("--mode=settle needs --rate > 0 (open loop)");
    }
    if (settle_orders == 0) {
      settle_orders = 1 + static_cast<int64_t>(std::ceil(
                              rate * absl::ToDoubleSeconds(warmup + duration)));
    }
    if (settle_orders < 1 || settle_orders > 2'000'000) {
      return Fail("--settle_orders must be 1-2000000 (or 0: automatic)");
    }
    if (absl::GetFlag(FLAGS_settle_timeout) <= absl::ZeroDuration()) {
      return Fail("--settle_timeout must be > 0");
    }
  }
  if (absl::GetFlag(FLAGS_concurrency) < 1) {
    return Fail("--concurrency must be >= 1");
  }
  if (absl::GetFlag(FLAGS_max_in_flight) < 1) {
    return Fail("--max_in_flight must be >= 1");
  }
  if (absl::GetFlag(FLAGS_channels) < 1 || absl::GetFlag(FLAGS_channels) > 64) {
    return Fail("--channels must be 1-64");
  }
  if (absl::GetFlag(FLAGS_setup_concurrency) < 1) {
    return Fail("--setup_concurrency must be >= 1");
  }
  if (members < 1 || orders_per_member < 1 ||
      static_cast<int64_t>(members) * orders_per_member > 2'000'000) {
    return Fail(
        "--members and --orders_per_member must be >= 1, and their product "
        "at most 2000000");
  }
  if (absl::GetFlag(FLAGS_replay_keys) < 1) {
    return Fail("--replay_keys must be >= 1");
  }
  if (duration < absl::ZeroDuration() || warmup < absl::ZeroDuration() ||
      timeout <= absl::ZeroDuration()) {
    return Fail("--duration and --warmup must be >= 0, --timeout > 0");
  }
  std::vector<std::pair<std::string, std::string>> metadata;
  for (const std::string& entry : absl::GetFlag(FLAGS_metadata)) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Fail(absl::StrCat("--metadata: \"", entry, "\" is not KEY=VALUE"));
    }
    metadata.emplace_back(entry.substr(0, eq), entry.substr(eq + 1));
  }
  // Wake up on time for open-loop schedules (the default slack is 50 us).
  prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);

  Connections connections(absl::GetFlag(FLAGS_target),
                          absl::GetFlag(FLAGS_channels), std::move(metadata));
  if (!WaitServing(connections, absl::GetFlag(FLAGS_wait_serving))) {
    return Fail(absl::StrCat(absl::GetFlag(FLAGS_target),
                             " is not answering Health/Check SERVING"));
  }
  const std::string prefix = absl::GetFlag(FLAGS_id_prefix);
  const uint64_t seed = absl::GetFlag(FLAGS_seed);
  Dataset dataset(prefix, seed, members, orders_per_member);
  if (mode == "settle") {
    // One premium member per order, so no member's budget, trust or rate
    // limit is touched twice; ids apart from the other modes'.
    dataset = Dataset(absl::StrCat(prefix, "-s", seed), seed,
                      static_cast<int>(settle_orders), 1);
    dataset.set_tier("premium");
    dataset.set_payment_method(instrument == v1::INSTRUMENT_WALLET
                                   ? v1::PAYMENT_METHOD_WALLET
                                   : v1::PAYMENT_METHOD_CARD);
  }

  std::vector<std::string> extra_json;
  if (absl::GetFlag(FLAGS_setup)) {
    std::string json;
    bool ok = Setup(connections, dataset,
                    absl::GetFlag(FLAGS_setup_concurrency), timeout, json);
    extra_json.push_back(json);
    if (!ok) {
      std::cout << "{\"mode\":\"" << mode << "\"," << json << "}" << std::endl;
      return 2;
    }
  }

  std::unique_ptr<Workload> workload;
  SettleWorkload* settle = nullptr;
  if (mode == "settle") {
    std::random_device random;
    uint64_t nonce = (uint64_t{random()} << 32) | random();
    auto settle_workload = std::make_unique<SettleWorkload>(
        connections, timeout, absl::GetFlag(FLAGS_settle_timeout), dataset,
        absl::StrCat(prefix, "-s", absl::Hex(nonce), "-"), instrument);
    settle = settle_workload.get();
    workload = std::move(settle_workload);
  } else if (mode == "nowork") {
    workload = std::make_unique<NoWorkWorkload>(connections, timeout);
  } else if (mode == "order") {
    std::random_device random;
    uint64_t nonce = (uint64_t{random()} << 32) | random();
    workload = std::make_unique<OrderWorkload>(
        connections, timeout, dataset,
        absl::StrCat(prefix, "-n", absl::Hex(nonce), "-"));
  } else if (mode == "fresh") {
    // A per-process nonce keeps keys fresh across runs on the same Redis.
    std::random_device random;
    uint64_t nonce = (uint64_t{random()} << 32) | random();
    workload = std::make_unique<FreshWorkload>(
        connections, timeout, dataset,
        absl::StrCat(prefix, "-f", absl::Hex(nonce), "-"));
  } else {
    std::string json;
    std::vector<v1::SubmitRatingRequest> requests =
        ReplayRequests(connections, dataset, absl::GetFlag(FLAGS_replay_keys),
                       absl::GetFlag(FLAGS_replay_prime),
                       absl::StrCat(prefix, "-r", seed, "-"),
                       absl::GetFlag(FLAGS_setup_concurrency), timeout, json);
    if (!json.empty()) extra_json.push_back(json);
    workload = std::make_unique<ReplayWorkload>(connections, timeout,
                                                std::move(requests));
  }

  std::string head = absl::StrFormat(
      "{\"mode\":\"%s\",\"target\":\"%s\",\"offered_qps\":%.0f,"
      "\"concurrency\":%d,\"channels\":%d,\"warmup_s\":%.3f,"
      "\"duration_s\":%.3f",
      mode, absl::GetFlag(FLAGS_target), rate,
      rate > 0 ? 0 : absl::GetFlag(FLAGS_concurrency),
      absl::GetFlag(FLAGS_channels), absl::ToDoubleSeconds(warmup),
      absl::ToDoubleSeconds(duration));
  if (settle != nullptr) {
    absl::StrAppendFormat(&head, ",\"instrument\":\"%s\",\"settle_orders\":%d",
                          instrument_flag, settle_orders);
  }
  for (const std::string& json : extra_json) absl::StrAppend(&head, ",", json);
  if (duration == absl::ZeroDuration() || absl::GetFlag(FLAGS_setup_only)) {
    std::cout << head << "}" << std::endl;
    return 0;
  }

  std::cerr << "loadgen: " << mode
            << (settle != nullptr ? absl::StrCat(" (", instrument_flag, ")")
                                  : "")
            << " for " << absl::FormatDuration(warmup) << " warmup + "
            << absl::FormatDuration(duration)
            << (rate > 0 ? absl::StrFormat(" at %.0f calls/s", rate)
                         : absl::StrFormat(" closed loop, %d in flight",
                                           absl::GetFlag(FLAGS_concurrency)))
            << "\n";
  RunOptions options;
  options.rate = rate;
  options.concurrency = absl::GetFlag(FLAGS_concurrency);
  options.max_in_flight = absl::GetFlag(FLAGS_max_in_flight);
  options.warmup = warmup;
  options.duration = duration;
  Runner runner(*workload, options);
  RunStats stats = runner.Run();

  int64_t calls = 0;
  for (int64_t count : stats.codes) calls += count;
  int64_t failed = calls - stats.codes[grpc::OK] + stats.unexpected;
  int64_t succeeded = static_cast<int64_t>(stats.latencies_ns.size());
  double error_ratio =
      calls > 0 ? static_cast<double>(failed) / static_cast<double>(calls) : 1;
  const double max_error_ratio = absl::GetFlag(FLAGS_max_error_ratio);

  std::string out = head;
  absl::StrAppendFormat(
      &out,
      ",\"calls\":%d,\"ok\":%d,\"unexpected\":%d,\"failed\":%d,"
      "\"error_ratio\":%.6f,\"max_error_ratio\":%g,"
      "\"window_s\":%.3f,\"achieved_qps\":%.1f,\"ok_qps\":%.1f,"
      "\"latency_us\":%s,"
      "\"latency_method\":\"exact nearest-rank over a sorted vector of every "
      "successful measured call%s\"",
      calls, succeeded, stats.unexpected, failed, error_ratio, max_error_ratio,
      stats.window_seconds, static_cast<double>(calls) / stats.window_seconds,
      static_cast<double>(succeeded) / stats.window_seconds,
      LatencyJson(stats.latencies_ns),
      settle != nullptr
          ? ", from the rating's scheduled send time to the WatchRefund "
            "message saying SUCCEEDED"
          : (rate > 0 ? ", from the scheduled send time" : ""));
  if (rate > 0) {
    absl::StrAppend(&out, ",\"send_lag_us\":", LatencyJson(stats.send_lag_ns));
  }
  absl::StrAppend(&out, ",\"codes\":", CodesJson(stats.codes),
                  ",\"total_calls\":", stats.total_calls);
  if (settle != nullptr) {
    absl::StrAppend(
        &out, ",",
        settle->SummaryJson(stats.measure_from_ns, stats.measure_until_ns));
    std::string problem = settle->FirstProblem();
    if (!problem.empty()) {
      std::cerr << "loadgen: settle: first problem: " << problem << "\n";
    }
  }
  absl::StrAppend(&out, "}");
  std::cout << out << std::endl;
  if (calls == 0 || error_ratio > max_error_ratio) {
    std::cerr << absl::StrFormat(
        "loadgen: %d of %d measured calls failed (%.2f%% > %.2f%%)\n", failed,
        calls, 100 * error_ratio, 100 * max_error_ratio);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace makegood::loadgen

int main(int argc, char** argv) { return makegood::loadgen::Main(argc, argv); }
