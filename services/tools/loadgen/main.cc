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
//   makegood_loadgen --mode=settle --instrument=wallet --setup --rate=200

#include <sys/prctl.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"
#include "makegood/v1/member_service.grpc.pb.h"
#include "makegood/v1/order_service.grpc.pb.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "makegood/v1/refund_service.grpc.pb.h"

ABSL_FLAG(std::string, target, "127.0.0.1:50051",
          "makegood's gRPC address, HOST:PORT.");
ABSL_FLAG(std::string, mode, "nowork",
          "fresh: SubmitRating with a new idempotency key on every call; "
          "replay: SubmitRating re-sending already submitted keys "
          "round-robin (answers must say replayed: true); nowork: "
          "grpc.health.v1.Health/Check, answered from memory (the gRPC "
          "ceiling of the same binary); settle: SubmitRating on a fresh "
          "order that moves money, then WatchRefund until the refund is "
          "final (time from the reply to SUCCEEDED; needs --rate).");
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
namespace {

namespace v1 = ::makegood::v1;
using HealthStub = ::grpc::health::v1::Health::Stub;
using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

constexpr int kStatusCodes = 17;  // grpc::StatusCode 0 (OK) .. 16.

// gRPC's codes are absl's codes (same numbers, same names).
std::string StatusCodeName(int code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

// Counts per grpc::StatusCode.
using CodeCounts = std::array<int64_t, kStatusCodes>;

int CodeIndex(grpc::StatusCode code) {
  int index = static_cast<int>(code);
  return index >= 0 && index < kStatusCodes ? index
                                            : static_cast<int>(grpc::UNKNOWN);
}

// {"OK":12,"UNIMPLEMENTED":3}: only the codes that occurred.
std::string CodesJson(const CodeCounts& counts) {
  std::vector<std::string> parts;
  for (int code = 0; code < kStatusCodes; ++code) {
    if (counts[code] == 0) continue;
    parts.push_back(
        absl::StrCat("\"", StatusCodeName(code), "\":", counts[code]));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
}

// Monotonic nanoseconds; every latency and schedule is on this clock.
int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void SleepUntilNs(int64_t deadline_ns) {
  int64_t wait = deadline_ns - NowNs();
  if (wait > 0) std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
}

// splitmix64: a tiny, fast, seedable generator. Contents are derived from
// (seed, index) so that --setup and later runs agree without sharing state.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (modulo bias is irrelevant here).
  int Uniform(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t state_;
};

uint64_t Mix(uint64_t seed, uint64_t stream, uint64_t index) {
  Rng rng(seed ^ (stream * 0xd1b54a32d192ed03ULL) ^
          (index * 0x9e3779b97f4a7c15ULL));
  return rng.Next();
}

// The members, orders and ratings of a run: a pure function of the flags, so
// a run without --setup rates the orders an earlier --setup created.
class Dataset {
 public:
  Dataset(std::string prefix, uint64_t seed, int members, int orders_per_member)
      : prefix_(std::move(prefix)),
        seed_(seed),
        members_(members),
        orders_per_member_(orders_per_member) {}

  // Every member of this tier instead of cycling basic/plus/premium, and
  // every order paid this way instead of by card (the settle mode's data).
  void set_tier(std::string tier) { tier_ = std::move(tier); }
  void set_payment_method(v1::PaymentMethod method) {
    payment_method_ = method;
  }

  int members() const { return members_; }
  int64_t orders() const {
    return static_cast<int64_t>(members_) * orders_per_member_;
  }

  std::string MemberId(int member) const {
    return absl::StrCat(prefix_, "-m", member);
  }
  std::string OrderId(int member, int order) const {
    return absl::StrCat(prefix_, "-o", member, "-", order);
  }

  // Tier cycles basic/plus/premium (unless set_tier); members for 1-5
  // years; verified.
  v1::Member MakeMember(int member, absl::Time now) const {
    static constexpr std::array<const char*, 3> kTiers = {"basic", "plus",
                                                          "premium"};
    v1::Member out;
    out.set_member_id(MemberId(member));
    out.set_tier(tier_.empty() ? kTiers[member % kTiers.size()] : tier_);
    absl::Time since = now - absl::Hours(24 * 365 * (1 + member % 5));
    out.mutable_member_since()->set_seconds(absl::ToUnixSeconds(since));
    out.add_flags("verified");
    return out;
  }

  // Delivered an hour ago, EUR, card (unless set_payment_method); 2-4 lines,
  // the first one frozen.
  v1::Order MakeOrder(int member, int order, absl::Time now) const {
    struct Product {
      const char* sku;
      const char* category;
    };
    static constexpr std::array<Product, 5> kProducts = {{
        {"SOURDOUGH-LOAF", "bakery"},
        {"OAT-MILK-1L", "dairy_alt"},
        {"BANANAS-1KG", "produce"},
        {"PASTA-500G", "pantry"},
        {"COFFEE-BEANS-250G", "pantry"},
    }};
    int64_t index = OrderIndex(member, order);
    Rng rng(Mix(seed_, 1, index));
    int lines = LineCount(index);
    v1::Order out;
    out.set_order_id(OrderId(member, order));
    out.set_member_id(MemberId(member));
    out.set_store_id(absl::StrCat("store-", index % 37));
    out.set_courier_id(absl::StrCat("courier-", index % 101));
    out.set_currency("EUR");
    constexpr int64_t kDeliveryFee = 299;
    int64_t total = kDeliveryFee;
    for (int line = 0; line < lines; ++line) {
      v1::OrderLine* l = out.add_lines();
      l->set_line_id(absl::StrCat("l", line + 1));
      if (line == 0) {
        l->set_sku("ICE-CREAM-VANILLA-500ML");
        l->set_category("frozen");
      } else {
        const Product& p = kProducts[rng.Next() % kProducts.size()];
        l->set_sku(p.sku);
        l->set_category(p.category);
      }
      int quantity = rng.Uniform(1, 3);
      l->set_quantity(quantity);
      l->set_amount_minor(static_cast<int64_t>(quantity) *
                          rng.Uniform(199, 899));
      total += l->amount_minor();
    }
    out.set_delivery_fee_minor(kDeliveryFee);
    out.set_total_minor(total);
    out.mutable_delivered_at()->set_seconds(
        absl::ToUnixSeconds(now - absl::Hours(1)));
    out.set_payment_method(payment_method_);
    return out;
  }

  // Rating of (member, order) pair `pair` (round-robin: members first), with
  // no idempotency key. Satisfaction 0-100; unhappy ratings carry reasons and
  // sometimes line ratings of the order's real lines.
  v1::SubmitRatingRequest MakeRating(int64_t pair) const {
    static constexpr std::array<v1::Reason, 7> kReasons = {
        v1::REASON_DAMAGED,      v1::REASON_MISSING_ITEM,
        v1::REASON_WRONG_ITEM,   v1::REASON_LATE,
        v1::REASON_POOR_QUALITY, v1::REASON_COURIER_BEHAVIOUR,
        v1::REASON_OTHER};
    pair %= orders();
    int member = static_cast<int>(pair % members_);
    int order = static_cast<int>(pair / members_);
    Rng rng(Mix(seed_, 2, pair));
    v1::SubmitRatingRequest out;
    out.set_member_id(MemberId(member));
    out.set_order_id(OrderId(member, order));
    int satisfaction = rng.Uniform(0, 100);
    out.set_satisfaction_percent(satisfaction);
    if (satisfaction < 80) {
      out.add_reasons(v1::REASON_MELTED_OR_WARM);
      if (rng.Uniform(0, 1) == 1) {
        out.add_reasons(kReasons[rng.Next() % kReasons.size()]);
      }
    }
    if (satisfaction < 60) {
      v1::LineRating* frozen = out.add_line_ratings();
      frozen->set_line_id("l1");
      frozen->set_satisfaction_percent(rng.Uniform(0, satisfaction));
      frozen->add_reasons(v1::REASON_MELTED_OR_WARM);
      if (rng.Uniform(0, 2) == 0) {
        v1::LineRating* other = out.add_line_ratings();
        int line = rng.Uniform(2, LineCount(OrderIndex(member, order)));
        other->set_line_id(absl::StrCat("l", line));
        other->set_satisfaction_percent(rng.Uniform(0, 100));
        other->add_reasons(v1::REASON_DAMAGED);
      }
    }
    if (satisfaction < 30) out.set_comment("The ice cream arrived melted.");
    return out;
  }

  // settle: a rating of order `pair` that always moves money for a new
  // premium member: 50 %, melted, the frozen line rated 0 % (refunded in
  // full by the melted rule, the rest along the curve; the member's instant
  // budget caps the amount paid at once).
  v1::SubmitRatingRequest MakeSettleRating(int64_t pair) const {
    pair %= orders();
    int member = static_cast<int>(pair % members_);
    int order = static_cast<int>(pair / members_);
    v1::SubmitRatingRequest out;
    out.set_member_id(MemberId(member));
    out.set_order_id(OrderId(member, order));
    out.set_satisfaction_percent(50);
    out.add_reasons(v1::REASON_MELTED_OR_WARM);
    v1::LineRating* frozen = out.add_line_ratings();
    frozen->set_line_id("l1");
    frozen->set_satisfaction_percent(0);
    frozen->add_reasons(v1::REASON_MELTED_OR_WARM);
    return out;
  }

 private:
  int64_t OrderIndex(int member, int order) const {
    return static_cast<int64_t>(member) * orders_per_member_ + order;
  }
  int LineCount(int64_t order_index) const {
    return 2 + static_cast<int>(Mix(seed_, 3, order_index) % 3);
  }

  std::string prefix_;
  uint64_t seed_;
  int members_;
  int orders_per_member_;
  std::string tier_;  // empty: cycle
  v1::PaymentMethod payment_method_ = v1::PAYMENT_METHOD_CARD;
};

// The channels and stubs every call goes through, with --metadata. Built
// once; thread-safe afterwards (stubs and channels are).
class Connections {
 public:
  Connections(const std::string& target, int channels,
              std::vector<std::pair<std::string, std::string>> metadata) {
    metadata_ = std::move(metadata);
    for (int i = 0; i < channels; ++i) {
      grpc::ChannelArguments args;
      // Without a local pool, channels with equal arguments share one
      // connection.
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
      std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
          target, grpc::InsecureChannelCredentials(), args);
      ratings_.push_back(v1::RatingService::NewStub(channel));
      members_.push_back(v1::MemberService::NewStub(channel));
      orders_.push_back(v1::OrderService::NewStub(channel));
      refunds_.push_back(v1::RefundService::NewStub(channel));
      health_.push_back(grpc::health::v1::Health::NewStub(channel));
      channels_.push_back(std::move(channel));
    }
  }

  bool WaitForConnected(absl::Duration wait) {
    auto deadline = absl::ToChronoTime(absl::Now() + wait);
    for (auto& channel : channels_) {
      if (!channel->WaitForConnected(deadline)) return false;
    }
    return true;
  }

  v1::RatingService::Stub& Rating(uint64_t n) {
    return *ratings_[n % ratings_.size()];
  }
  v1::MemberService::Stub& Member(uint64_t n) {
    return *members_[n % members_.size()];
  }
  v1::OrderService::Stub& Order(uint64_t n) {
    return *orders_[n % orders_.size()];
  }
  v1::RefundService::Stub& Refund(uint64_t n) {
    return *refunds_[n % refunds_.size()];
  }
  HealthStub& Health(uint64_t n) { return *health_[n % health_.size()]; }

  // Deadline and --metadata for a makegood.v1 call.
  void Prepare(grpc::ClientContext& context, absl::Duration timeout,
               bool with_metadata) const {
    context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
    if (!with_metadata) return;
    for (const auto& [key, value] : metadata_) context.AddMetadata(key, value);
  }

 private:
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::RatingService::Stub>> ratings_;
  std::vector<std::unique_ptr<v1::MemberService::Stub>> members_;
  std::vector<std::unique_ptr<v1::OrderService::Stub>> orders_;
  std::vector<std::unique_ptr<v1::RefundService::Stub>> refunds_;
  std::vector<std::unique_ptr<HealthStub>> health_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

// Outcome of one call.
struct CallResult {
  grpc::StatusCode code = grpc::OK;
  // OK, but the answer contradicts the mode (see --max_error_ratio).
  bool unexpected = false;
  // When the call's answer that counts arrived, if not when OnDone runs
  // (settle: the SUCCEEDED message, before the stream closes). 0 = now.
  int64_t done_ns = 0;
};

// Receives the end of each call. Implementations are thread-safe.
class CallSink {
 public:
  virtual ~CallSink() = default;
  // `scheduled_ns` is what the call was started with.
  virtual void OnDone(int64_t scheduled_ns, CallResult result) = 0;
};

// One kind of call the runner repeats.
class Workload {
 public:
  virtual ~Workload() = default;
  // Starts call number `n` of the run (0, 1, 2, ...; each once). Calls
  // sink.OnDone(scheduled_ns, ...) exactly once, on a gRPC thread, when the
  // call ends. Thread-safe.
  virtual void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) = 0;
};

// nowork: Health/Check, answered by grpc++'s health service from memory.
class NoWorkWorkload : public Workload {
 public:
  NoWorkWorkload(Connections& connections, absl::Duration timeout)
      : connections_(connections), timeout_(timeout) {}

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    struct Call {
      grpc::ClientContext context;
      HealthCheckResponse response;
    };
    auto* call = new Call;
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/false);
    connections_.Health(n).async()->Check(
        &call->context, &request_, &call->response,
        [call, scheduled_ns, &sink](grpc::Status status) {
          CallResult result{status.error_code(), false};
          result.unexpected = status.ok() && call->response.status() !=
                                                 HealthCheckResponse::SERVING;
          delete call;
          sink.OnDone(scheduled_ns, result);
        });
  }

 private:
  Connections& connections_;
  absl::Duration timeout_;
  const HealthCheckRequest request_;  // service "": the whole server.
};

// fresh: SubmitRating with a key never sent before. Ratings cycle through
// precomputed (member, order) templates; only the key is new per call.
class FreshWorkload : public Workload {
 public:
  FreshWorkload(Connections& connections, absl::Duration timeout,
                const Dataset& dataset, std::string key_prefix)
      : connections_(connections),
        timeout_(timeout),
        key_prefix_(std::move(key_prefix)) {
    templates_.reserve(static_cast<size_t>(dataset.orders()));
    for (int64_t pair = 0; pair < dataset.orders(); ++pair) {
      templates_.push_back(dataset.MakeRating(pair));
    }
  }

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    struct Call {
      grpc::ClientContext context;
      v1::SubmitRatingRequest request;
      v1::SubmitRatingResponse response;
    };
    auto* call = new Call;
    call->request = templates_[n % templates_.size()];
    call->request.set_idempotency_key(absl::StrCat(key_prefix_, n));
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/true);
    connections_.Rating(n).async()->SubmitRating(
        &call->context, &call->request, &call->response,
        [call, scheduled_ns, &sink](grpc::Status status) {
          CallResult result{status.error_code(), false};
          result.unexpected = status.ok() && call->response.replayed();
          delete call;
          sink.OnDone(scheduled_ns, result);
        });
  }

 private:
  Connections& connections_;
  absl::Duration timeout_;
  std::string key_prefix_;
  std::vector<v1::SubmitRatingRequest> templates_;
};

// replay: SubmitRating re-sending requests (same key, same payload) that
// were submitted before; every answer must say replayed.
class ReplayWorkload : public Workload {
 public:
  ReplayWorkload(Connections& connections, absl::Duration timeout,
                 std::vector<v1::SubmitRatingRequest> requests)
      : connections_(connections),
        timeout_(timeout),
        requests_(std::move(requests)) {}

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    struct Call {
      grpc::ClientContext context;
      v1::SubmitRatingResponse response;
    };
    auto* call = new Call;
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/true);
    connections_.Rating(n).async()->SubmitRating(
        &call->context, &requests_[n % requests_.size()], &call->response,
        [call, scheduled_ns, &sink](grpc::Status status) {
          CallResult result{status.error_code(), false};
          result.unexpected = status.ok() && !call->response.replayed();
          delete call;
          sink.OnDone(scheduled_ns, result);
        });
  }

 private:
  Connections& connections_;
  absl::Duration timeout_;
  const std::vector<v1::SubmitRatingRequest> requests_;
};

// What RunBounded saw.
struct BoundedResult {
  CodeCounts codes{};
  std::vector<bool> ok;  // per call
  std::string first_error;
  double seconds = 0;
};
using StartFn =
    std::function<void(int64_t, std::function<void(const grpc::Status&)>)>;

// Runs calls 0..count-1 with at most `concurrency` in flight and waits for
// all of them. `start(i, done)` starts call i and calls done(status) once.
BoundedResult RunBounded(int64_t count, int concurrency, StartFn start) {
  // Shared with the calls' callbacks, so it lives until the last one is done.
  struct State {
    State(int64_t calls, StartFn starter)
        : count(calls), start(std::move(starter)) {
      result.ok.assign(static_cast<size_t>(count), false);
    }
    // Starts the next call, if any: each completion starts one more, so
    // `concurrency` chains run side by side.
    static void Launch(const std::shared_ptr<State>& self) {
      int64_t i = self->next.fetch_add(1);
      if (i >= self->count) return;
      self->start(i, [self, i](const grpc::Status& status) {
        self->Record(i, status);
        Launch(self);
        absl::MutexLock lock(&self->mu);
        ++self->finished;
      });
    }
    void Record(int64_t i, const grpc::Status& status) {
      absl::MutexLock lock(&mu);
      result.codes[CodeIndex(status.error_code())]++;
      result.ok[static_cast<size_t>(i)] = status.ok();
      if (!status.ok() && result.first_error.empty()) {
        result.first_error = absl::StrCat(
            StatusCodeName(CodeIndex(status.error_code())),
            status.error_message().empty() ? "" : ": ", status.error_message());
      }
    }

    const int64_t count;
    const StartFn start;
    std::atomic<int64_t> next{0};
    absl::Mutex mu;
    BoundedResult result ABSL_GUARDED_BY(mu);
    int64_t finished ABSL_GUARDED_BY(mu) = 0;
  };
  auto state = std::make_shared<State>(count, std::move(start));
  int64_t begin = NowNs();
  for (int c = 0; c < concurrency; ++c) State::Launch(state);
  absl::MutexLock lock(&state->mu);
  state->mu.Await(absl::Condition(
      +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
        return s->finished == s->count;
      },
      state.get()));
  BoundedResult result = std::move(state->result);
  result.seconds = static_cast<double>(NowNs() - begin) / 1e9;
  return result;
}

// What the run measured.
struct RunStats {
  CodeCounts codes{};       // measured calls, per status
  int64_t unexpected = 0;   // measured calls OK but contradicting the mode
  int64_t total_calls = 0;  // every finished call, warmup and drain included
  std::vector<int64_t> latencies_ns;  // measured calls that succeeded
  int64_t last_done_ns = 0;           // end of the last measured call
  double window_seconds = 0;          // measured window (>= --duration)
  // Open loop: how late each measured call was sent after its due time (the
  // load generator's own share of the latency).
  std::vector<int64_t> send_lag_ns;
  // Calls scheduled (open loop) or started (closed loop) in
  // [measure_from_ns, measure_until_ns) are measured.
  int64_t measure_from_ns = 0;
  int64_t measure_until_ns = 0;
};

struct RunOptions {
  double rate = 0;  // 0 = closed loop
  int concurrency = 64;
  int max_in_flight = 20000;
  absl::Duration warmup;
  absl::Duration duration;
};

// Drives a Workload closed or open loop and keeps the statistics. A call is
// measured if it was scheduled (open loop) or started (closed loop) inside
// [start + warmup, start + warmup + duration).
class Runner : public CallSink {
 public:
  Runner(Workload& workload, RunOptions options)
      : workload_(workload), options_(options) {}

  RunStats Run() {
    int64_t start = NowNs();
    measure_from_ns_ = start + absl::ToInt64Nanoseconds(options_.warmup);
    measure_until_ns_ =
        measure_from_ns_ + absl::ToInt64Nanoseconds(options_.duration);
    if (options_.rate > 0) {
      RunOpenLoop(start);
    } else {
      // Each completion starts the next call in its slot: the in-flight count
      // stays at --concurrency until the window ends.
      closed_loop_ = true;
      in_flight_.store(options_.concurrency);
      for (int i = 0; i < options_.concurrency; ++i) StartCall(NowNs());
      SleepUntilNs(measure_until_ns_);
    }
    // Calls have deadlines, so every one of them ends.
    while (in_flight_.load() > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    absl::MutexLock lock(&mu_);
    RunStats stats = std::move(stats_);
    int64_t window =
        std::max(measure_until_ns_, stats.last_done_ns) - measure_from_ns_;
    stats.window_seconds = static_cast<double>(window) / 1e9;
    stats.send_lag_ns = std::move(send_lag_ns_);
    stats.measure_from_ns = measure_from_ns_;
    stats.measure_until_ns = measure_until_ns_;
    return stats;
  }

  void OnDone(int64_t scheduled_ns, CallResult result) override {
    int64_t now = NowNs();
    int64_t answered = result.done_ns > 0 ? result.done_ns : now;
    bool measured =
        scheduled_ns >= measure_from_ns_ && scheduled_ns < measure_until_ns_;
    {
      absl::MutexLock lock(&mu_);
      ++stats_.total_calls;
      if (measured) {
        stats_.codes[CodeIndex(result.code)]++;
        if (result.unexpected) {
          ++stats_.unexpected;
        } else if (result.code == grpc::OK) {
          stats_.latencies_ns.push_back(answered - scheduled_ns);
        }
        stats_.last_done_ns = std::max(stats_.last_done_ns, now);
      }
    }
    if (closed_loop_ && now < measure_until_ns_) {
      StartCall(now);  // takes over this call's in-flight slot
    } else {
      in_flight_.fetch_sub(1);
    }
  }

 private:
  void StartCall(int64_t scheduled_ns) {
    workload_.Start(next_.fetch_add(1), scheduled_ns, *this);
  }

  // Call i is due at start + i / rate. When behind (the process was
  // descheduled, or the in-flight cap was hit) every due call is sent at
  // once; its latency still counts from its due time.
  void RunOpenLoop(int64_t start) {
    const double interval_ns = 1e9 / options_.rate;
    for (uint64_t i = 0;; ++i) {
      int64_t due =
          start + static_cast<int64_t>(static_cast<double>(i) * interval_ns);
      if (due >= measure_until_ns_) break;
      SleepUntilNs(due);
      while (in_flight_.load() >= options_.max_in_flight) {
        std::this_thread::sleep_for(std::chrono::microseconds(50));
      }
      in_flight_.fetch_add(1);
      int64_t now = NowNs();
      if (due >= measure_from_ns_) send_lag_ns_.push_back(now - due);
      StartCall(due);
    }
  }

  Workload& workload_;
  const RunOptions options_;
  bool closed_loop_ = false;
  int64_t measure_from_ns_ = 0;
  int64_t measure_until_ns_ = 0;
  std::atomic<uint64_t> next_{0};
  std::atomic<int64_t> in_flight_{0};
  std::vector<int64_t> send_lag_ns_;  // open loop; the sending thread's own
  absl::Mutex mu_;
  RunStats stats_ ABSL_GUARDED_BY(mu_);
};

// Nearest-rank percentile of sorted values, in microseconds.
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

// settle: one call is SubmitRating of a never-rated order (MakeSettleRating)
// and, when the answer moves money, WatchRefund on its refund id, opened from
// the rating's callback and read until the server ends the stream (it does at
// a final state). The call is OK when a message said SUCCEEDED; for the
// runner it is answered when that message arrived. Every call's timestamps
// are kept and summarised after the run over the calls the runner measured.
class SettleWorkload : public Workload {
 public:
  SettleWorkload(Connections& connections, absl::Duration timeout,
                 absl::Duration settle_timeout, const Dataset& dataset,
                 std::string key_prefix, v1::Instrument instrument)
      : connections_(connections),
        timeout_(timeout),
        settle_timeout_(settle_timeout),
        dataset_(dataset),
        key_prefix_(std::move(key_prefix)),
        instrument_(instrument) {}

  void Start(uint64_t n, int64_t scheduled_ns, CallSink& sink) override {
    auto* call = new RatingCall;
    call->n = n;
    call->sink = &sink;
    call->sample.scheduled_ns = scheduled_ns;
    call->request = dataset_.MakeSettleRating(static_cast<int64_t>(n));
    call->request.set_idempotency_key(absl::StrCat(key_prefix_, n));
    connections_.Prepare(call->context, timeout_, /*with_metadata=*/true);
    connections_.Rating(n).async()->SubmitRating(
        &call->context, &call->request, &call->response,
        [this, call](grpc::Status status) { OnRated(call, status); });
  }

  // The "settle" JSON object: counts and latencies of the calls scheduled in
  // [from_ns, until_ns).
  std::string SummaryJson(int64_t from_ns, int64_t until_ns) {
    absl::MutexLock lock(&mu_);
    std::array<int64_t, kOutcomes> outcomes{};
    std::map<std::string, int64_t> first_states, final_states;
    std::vector<int64_t> submit, first_message, settling, succeeded, e2e;
    int64_t ratings = 0, refunds = 0;
    for (const Sample& s : samples_) {
      if (s.scheduled_ns < from_ns || s.scheduled_ns >= until_ns) continue;
      ++ratings;
      outcomes[static_cast<size_t>(s.outcome)]++;
      if (s.outcome == Outcome::kRatingFailed) continue;
      submit.push_back(s.reply_ns - s.scheduled_ns);
      if (s.first_ns == 0 && s.outcome != Outcome::kWatchFailed &&
          s.outcome != Outcome::kWatchEndedEarly) {
        continue;  // Never watched: no refund, replayed, wrong instrument.
      }
      ++refunds;
      if (s.first_ns > 0) {
        first_states[StateName(s.first_state)]++;
        first_message.push_back(s.first_ns - s.reply_ns);
      }
      if (s.final_state != v1::REFUND_STATE_UNSPECIFIED) {
        final_states[StateName(s.final_state)]++;
      }
      if (s.settling_ns > 0) settling.push_back(s.settling_ns - s.reply_ns);
      if (s.succeeded_ns > 0) {
        succeeded.push_back(s.succeeded_ns - s.reply_ns);
        e2e.push_back(s.succeeded_ns - s.scheduled_ns);
      }
    }
    std::vector<std::string> outcome_parts;
    for (size_t i = 0; i < kOutcomes; ++i) {
      if (outcomes[i] == 0) continue;
      outcome_parts.push_back(absl::StrCat(
          "\"", OutcomeName(static_cast<Outcome>(i)), "\":", outcomes[i]));
    }
    auto map_json = [](const std::map<std::string, int64_t>& counts) {
      std::vector<std::string> parts;
      for (const auto& [name, count] : counts) {
        parts.push_back(absl::StrCat("\"", name, "\":", count));
      }
      return absl::StrCat("{", absl::StrJoin(parts, ","), "}");
    };
    int64_t settled = static_cast<int64_t>(succeeded.size());
    return absl::StrCat(
        "\"settle\":{\"instrument\":\"", InstrumentFlag(instrument_),
        "\",\"orders\":", dataset_.orders(), ",\"ratings\":", ratings,
        ",\"refunds\":", refunds, ",\"succeeded\":", settled, ",\"outcomes\":{",
        absl::StrJoin(outcome_parts, ","),
        "},\"first_state\":", map_json(first_states),
        ",\"final_state\":", map_json(final_states),
        ",\"submit_us\":", LatencyJson(submit),
        ",\"reply_to_first_message_us\":", LatencyJson(first_message),
        ",\"reply_to_settling_us\":", LatencyJson(settling),
        ",\"reply_to_succeeded_us\":", LatencyJson(succeeded),
        ",\"e2e_us\":", LatencyJson(e2e), "}");
  }

  // What went wrong first (for stderr): the first failed or moneyless
  // rating, and the first few watches that did not see SUCCEEDED.
  std::string FirstProblem() {
    absl::MutexLock lock(&mu_);
    std::string out = first_problem_;
    for (const std::string& problem : watch_problems_) {
      absl::StrAppend(&out, out.empty() ? "" : "; ", "WatchRefund ", problem);
    }
    return out;
  }

  static const char* InstrumentFlag(v1::Instrument instrument) {
    return instrument == v1::INSTRUMENT_WALLET ? "wallet" : "card";
  }

 private:
  enum class Outcome {
    kSucceeded,          // SUCCEEDED seen on the watch
    kRatingFailed,       // SubmitRating not OK
    kReplayed,           // answered as a replay: the key was not fresh
    kNoRefund,           // OK, but no money moves (no refund id)
    kWrongInstrument,    // a refund, but not by --instrument (not watched)
    kFinalNotSucceeded,  // the refund ended FAILED, NEEDS_ATTENTION, ...
    kWatchFailed,        // the stream failed before a final state
    kWatchEndedEarly,    // the stream ended OK without a final state
  };
  static constexpr size_t kOutcomes = 8;
  static const char* OutcomeName(Outcome outcome) {
    switch (outcome) {
      case Outcome::kSucceeded:
        return "succeeded";
      case Outcome::kRatingFailed:
        return "rating_failed";
      case Outcome::kReplayed:
        return "replayed";
      case Outcome::kNoRefund:
        return "no_refund";
      case Outcome::kWrongInstrument:
        return "wrong_instrument";
      case Outcome::kFinalNotSucceeded:
        return "final_not_succeeded";
      case Outcome::kWatchFailed:
        return "watch_failed";
      case Outcome::kWatchEndedEarly:
        return "watch_ended_early";
    }
    return "unknown";
  }
  static std::string StateName(v1::RefundState state) {
    std::string name = v1::RefundState_Name(state);
    constexpr absl::string_view kPrefix = "REFUND_STATE_";
    return absl::StartsWith(name, kPrefix) ? name.substr(kPrefix.size()) : name;
  }
  static bool IsFinal(v1::RefundState state) {
    return state == v1::REFUND_STATE_SUCCEEDED ||
           state == v1::REFUND_STATE_FAILED ||
           state == v1::REFUND_STATE_NEEDS_ATTENTION ||
           state == v1::REFUND_STATE_REVERSED;
  }

  // Timestamps (NowNs) of one call; 0 = did not happen.
  struct Sample {
    int64_t scheduled_ns = 0;
    int64_t reply_ns = 0;
    int64_t first_ns = 0;      // first WatchRefund message
    int64_t settling_ns = 0;   // first message saying SETTLING
    int64_t succeeded_ns = 0;  // first message saying SUCCEEDED
    Outcome outcome = Outcome::kRatingFailed;
    grpc::StatusCode code = grpc::OK;  // of the call that failed
    v1::RefundState first_state = v1::REFUND_STATE_UNSPECIFIED;
    v1::RefundState final_state = v1::REFUND_STATE_UNSPECIFIED;
  };

  struct RatingCall {
    uint64_t n = 0;
    CallSink* sink = nullptr;
    Sample sample;
    grpc::ClientContext context;
    v1::SubmitRatingRequest request;
    v1::SubmitRatingResponse response;
  };

  // The WatchRefund stream of one call; deletes itself when it ends.
  class Watch : public grpc::ClientReadReactor<v1::WatchRefundResponse> {
   public:
    Watch(SettleWorkload& workload, CallSink& sink, Sample sample)
        : workload_(workload), sink_(sink), sample_(sample) {}

    void Begin(uint64_t n, const std::string& refund_id) {
      request_.set_refund_id(refund_id);
      workload_.connections_.Prepare(context_, workload_.settle_timeout_,
                                     /*with_metadata=*/true);
      workload_.connections_.Refund(n).async()->WatchRefund(&context_,
                                                            &request_, this);
      StartRead(&response_);
      StartCall();
    }

    void OnReadDone(bool ok) override {
      if (!ok) return;  // The stream ended: OnDone follows.
      int64_t now = NowNs();
      v1::RefundState state = response_.refund().state();
      ++messages_;
      last_state_ = state;
      if (sample_.first_ns == 0) {
        sample_.first_ns = now;
        sample_.first_state = state;
      }
      if (state == v1::REFUND_STATE_SETTLING && sample_.settling_ns == 0) {
        sample_.settling_ns = now;
      }
      if (state == v1::REFUND_STATE_SUCCEEDED && sample_.succeeded_ns == 0) {
        sample_.succeeded_ns = now;
      }
      if (IsFinal(state) &&
          sample_.final_state == v1::REFUND_STATE_UNSPECIFIED) {
        sample_.final_state = state;
      }
      StartRead(&response_);  // Until the server ends the stream.
    }

    void OnDone(const grpc::Status& status) override {
      if (sample_.succeeded_ns > 0) {
        sample_.outcome = Outcome::kSucceeded;
      } else if (sample_.final_state != v1::REFUND_STATE_UNSPECIFIED) {
        sample_.outcome = Outcome::kFinalNotSucceeded;
      } else if (!status.ok()) {
        sample_.outcome = Outcome::kWatchFailed;
        sample_.code = status.error_code();
      } else {
        sample_.outcome = Outcome::kWatchEndedEarly;
      }
      if (sample_.outcome != Outcome::kSucceeded) {
        workload_.NoteWatchProblem(absl::StrCat(
            request_.refund_id(), ": ",
            StatusCodeName(CodeIndex(status.error_code())), " after ",
            messages_, " message(s), last state ", StateName(last_state_)));
      }
      workload_.Record(sample_, sink_);
      delete this;
    }

   private:
    SettleWorkload& workload_;
    CallSink& sink_;
    Sample sample_;
    grpc::ClientContext context_;
    v1::WatchRefundRequest request_;
    v1::WatchRefundResponse response_;
    int messages_ = 0;
    v1::RefundState last_state_ = v1::REFUND_STATE_UNSPECIFIED;
  };

  // SubmitRating's callback: watches the refund at once, if there is one.
  void OnRated(RatingCall* call, const grpc::Status& status) {
    Sample sample = call->sample;
    sample.reply_ns = NowNs();
    CallSink& sink = *call->sink;
    const v1::SubmitRatingResponse& response = call->response;
    const v1::Refund& refund = response.decision().refund();
    if (!status.ok()) {
      sample.outcome = Outcome::kRatingFailed;
      sample.code = status.error_code();
      NoteProblem(absl::StrCat(
          "SubmitRating: ", StatusCodeName(CodeIndex(status.error_code())),
          ": ", status.error_message()));
    } else if (response.replayed()) {
      sample.outcome = Outcome::kReplayed;
      NoteProblem("SubmitRating answered replayed: true");
    } else if (refund.refund_id().empty()) {
      sample.outcome = Outcome::kNoRefund;
      NoteProblem(absl::StrCat("no refund: outcome ",
                               v1::Outcome_Name(response.decision().outcome()),
                               ": ", response.decision().explanation()));
    } else if (refund.instrument() != instrument_) {
      sample.outcome = Outcome::kWrongInstrument;
      NoteProblem(absl::StrCat("refund by ",
                               v1::Instrument_Name(refund.instrument()),
                               ", not ", v1::Instrument_Name(instrument_)));
    } else {
      auto* watch = new Watch(*this, sink, sample);
      uint64_t n = call->n;
      std::string refund_id = refund.refund_id();
      delete call;
      watch->Begin(n, refund_id);
      return;
    }
    delete call;
    Record(sample, sink);
  }

  void NoteProblem(std::string problem) {
    absl::MutexLock lock(&mu_);
    if (first_problem_.empty()) first_problem_ = std::move(problem);
  }

  // The first few refunds whose watch did not see SUCCEEDED, for stderr.
  void NoteWatchProblem(std::string problem) {
    absl::MutexLock lock(&mu_);
    if (watch_problems_.size() < 3)
      watch_problems_.push_back(std::move(problem));
  }

  // Keeps the sample and tells the runner the call ended.
  void Record(const Sample& sample, CallSink& sink) {
    {
      absl::MutexLock lock(&mu_);
      samples_.push_back(sample);
    }
    CallResult result;
    switch (sample.outcome) {
      case Outcome::kSucceeded:
        result.done_ns = sample.succeeded_ns;
        break;
      case Outcome::kRatingFailed:
      case Outcome::kWatchFailed:
        result.code = sample.code;
        break;
      default:
        result.unexpected = true;
        break;
    }
    sink.OnDone(sample.scheduled_ns, result);
  }

  Connections& connections_;
  const absl::Duration timeout_;
  const absl::Duration settle_timeout_;
  const Dataset& dataset_;
  const std::string key_prefix_;
  const v1::Instrument instrument_;
  absl::Mutex mu_;
  std::vector<Sample> samples_ ABSL_GUARDED_BY(mu_);
  std::string first_problem_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> watch_problems_ ABSL_GUARDED_BY(mu_);
};

// --setup: members, then their orders.
bool Setup(Connections& connections, const Dataset& dataset, int concurrency,
           absl::Duration timeout, std::string& json) {
  absl::Time now = absl::Now();
  std::cerr << "loadgen: setup: " << dataset.members() << " members, "
            << dataset.orders() << " orders\n";
  BoundedResult members = RunBounded(
      dataset.members(), concurrency,
      [&](int64_t i, std::function<void(const grpc::Status&)> done) {
        struct Call {
          grpc::ClientContext context;
          v1::UpsertMemberRequest request;
          v1::UpsertMemberResponse response;
        };
        auto* call = new Call;
        *call->request.mutable_member() =
            dataset.MakeMember(static_cast<int>(i), now);
        connections.Prepare(call->context, timeout, /*with_metadata=*/true);
        connections.Member(static_cast<uint64_t>(i))
            .async()
            ->UpsertMember(&call->context, &call->request, &call->response,
                           [call, done](grpc::Status status) {
                             delete call;
                             done(status);
                           });
      });
  json = absl::StrCat("\"setup\":{\"members\":", dataset.members(),
                      ",\"member_codes\":", CodesJson(members.codes));
  if (members.codes[grpc::OK] != dataset.members()) {
    std::cerr << "loadgen: setup: UpsertMember failed: " << members.first_error
              << "\n";
    absl::StrAppend(&json, "}");
    return false;
  }
  int orders_per_member =
      static_cast<int>(dataset.orders() / dataset.members());
  BoundedResult orders = RunBounded(
      dataset.orders(), concurrency,
      [&](int64_t i, std::function<void(const grpc::Status&)> done) {
        struct Call {
          grpc::ClientContext context;
          v1::RecordDeliveryRequest request;
          v1::RecordDeliveryResponse response;
        };
        auto* call = new Call;
        *call->request.mutable_order() =
            dataset.MakeOrder(static_cast<int>(i / orders_per_member),
                              static_cast<int>(i % orders_per_member), now);
        connections.Prepare(call->context, timeout, /*with_metadata=*/true);
        connections.Order(static_cast<uint64_t>(i))
            .async()
            ->RecordDelivery(&call->context, &call->request, &call->response,
                             [call, done](grpc::Status status) {
                               delete call;
                               done(status);
                             });
      });
  absl::StrAppendFormat(&json,
                        ",\"orders\":%d,\"order_codes\":%s,"
                        "\"seconds\":%.2f}",
                        dataset.orders(), CodesJson(orders.codes),
                        members.seconds + orders.seconds);
  if (orders.codes[grpc::OK] != dataset.orders()) {
    std::cerr << "loadgen: setup: RecordDelivery failed: " << orders.first_error
              << "\n";
    return false;
  }
  std::cerr << absl::StrFormat("loadgen: setup done in %.1f s\n",
                               members.seconds + orders.seconds);
  return true;
}

// Replay requests: key i carries the rating of pair i. With `prime` they are
// submitted first; the keys that failed are left out of the replay (unless
// all failed, so that a server without SubmitRating shows as errors).
std::vector<v1::SubmitRatingRequest> ReplayRequests(
    Connections& connections, const Dataset& dataset, int keys, bool prime,
    const std::string& key_prefix, int concurrency, absl::Duration timeout,
    std::string& json) {
  std::vector<v1::SubmitRatingRequest> requests;
  requests.reserve(static_cast<size_t>(keys));
  for (int i = 0; i < keys; ++i) {
    requests.push_back(dataset.MakeRating(i));
    requests.back().set_idempotency_key(absl::StrCat(key_prefix, i));
  }
  if (!prime) return requests;
  BoundedResult primed = RunBounded(
      keys, concurrency,
      [&](int64_t i, std::function<void(const grpc::Status&)> done) {
        struct Call {
          grpc::ClientContext context;
          v1::SubmitRatingResponse response;
        };
        auto* call = new Call;
        connections.Prepare(call->context, timeout, /*with_metadata=*/true);
        connections.Rating(static_cast<uint64_t>(i))
            .async()
            ->SubmitRating(&call->context, &requests[static_cast<size_t>(i)],
                           &call->response, [call, done](grpc::Status status) {
                             delete call;
                             done(status);
                           });
      });
  absl::StrAppendFormat(&json,
                        "\"prime\":{\"keys\":%d,\"codes\":%s,"
                        "\"seconds\":%.2f}",
                        keys, CodesJson(primed.codes), primed.seconds);
  if (primed.codes[grpc::OK] == 0) {
    std::cerr << "loadgen: priming: no rating was accepted ("
              << primed.first_error << "); replaying anyway\n";
    return requests;
  }
  if (primed.codes[grpc::OK] < keys) {
    std::cerr << "loadgen: priming: " << keys - primed.codes[grpc::OK] << " of "
              << keys << " ratings failed (" << primed.first_error
              << "); replaying the others\n";
  }
  std::vector<v1::SubmitRatingRequest> accepted;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (primed.ok[i]) accepted.push_back(std::move(requests[i]));
  }
  return accepted;
}

// Polls Health/Check until SERVING.
bool WaitServing(Connections& connections, absl::Duration wait) {
  absl::Time give_up = absl::Now() + wait;
  if (!connections.WaitForConnected(wait)) return false;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    HealthCheckResponse response;
    grpc::Status status =
        connections.Health(0).Check(&context, HealthCheckRequest(), &response);
    if (status.ok() && response.status() == HealthCheckResponse::SERVING) {
      return true;
    }
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

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
    if (absl::EndsWith(flag->Filename(), "tools/loadgen.cc")) {
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
      mode != "settle") {
    return Fail("--mode must be fresh, replay, nowork or settle");
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
