// File: services/redis/keyspace_notifications.cc
#include "services/redis/keyspace_notifications.h"

#include <hiredis/hiredis.h>
#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <random>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "services/core/log.h"
#include "services/redis/hiredis_conversion.h"
#include "services/redis/slot_map.h"

namespace makegood::redis {
namespace {

timeval TimevalOf(absl::Duration d) {
  return absl::ToTimeval(std::max(d, absl::Milliseconds(1)));
}

// One command on a blocking context; an error reply is a Status.
absl::StatusOr<RedisReply> Call(redisContext* ctx,
                                const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  auto* reply = static_cast<redisReply*>(redisCommandArgv(
      ctx, static_cast<int>(args.size()), argv.data(), lengths.data()));
  if (reply == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("redis: ", ctx->err != 0 ? ctx->errstr : "no reply"));
  }
  RedisReply owned = ConvertReply(*reply);
  freeReplyObject(reply);
  if (owned.type == RedisReply::Type::kError) {
    return ErrorReplyToStatus(owned.str);
  }
  return owned;
}

// Queues `args` and writes everything queued; false when the connection
// failed.
bool Send(redisContext* ctx, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const std::string& arg : args) {
    argv.push_back(arg.data());
    lengths.push_back(arg.size());
  }
  if (redisAppendCommandArgv(ctx, static_cast<int>(args.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    return false;
  }
  int done = 0;
  while (done == 0) {
    if (redisBufferWrite(ctx, &done) != REDIS_OK) return false;
  }
  return true;
}

struct ContextFree {
  void operator()(redisContext* ctx) const { redisFree(ctx); }
};
using Context = std::unique_ptr<redisContext, ContextFree>;

}  // namespace

struct KeyspaceNotifications::Subscriber {
  RedisAddress node;
  Context ctx;
  bool notifying = false;
};

absl::StatusOr<std::unique_ptr<KeyspaceNotifications>>
KeyspaceNotifications::Start(RedisOptions options,
                             std::vector<std::string> keys,
                             std::vector<std::string> events,
                             absl::Duration refresh) {
  if (keys.empty() || events.empty()) {
    return absl::InvalidArgumentError(
        "keyspace notifications: no keys or no events to watch");
  }
  std::unique_ptr<KeyspaceNotifications> notes(new KeyspaceNotifications(
      std::move(options), std::move(keys), std::move(events), refresh));
  notes->thread_ = std::thread([n = notes.get()] { n->Run(); });
  return notes;
}

KeyspaceNotifications::KeyspaceNotifications(RedisOptions options,
                                             std::vector<std::string> keys,
                                             std::vector<std::string> events,
                                             absl::Duration refresh)
    : options_(std::move(options)),
      keys_(std::move(keys)),
      events_(std::move(events)),
      refresh_(refresh),
      channel_prefix_(absl::StrCat("__keyspace@", options_.db, "__:")),
      subscribed_(keys_.size(), false),
      watched_(keys_.size(), false),
      touched_(keys_.size(), false) {
  for (size_t i = 0; i < keys_.size(); ++i) {
    index_.emplace(keys_[i], static_cast<int>(i));
  }
}

KeyspaceNotifications::~KeyspaceNotifications() {
  stopping_.store(true);
  Interrupt();
  if (thread_.joinable()) thread_.join();
}

void KeyspaceNotifications::Watch(std::vector<bool> watched) {
  watched.resize(keys_.size(), false);
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (watched[i] && !watched_[i]) {
      touched_[i] = true;
      any_touched_ = true;
    }
  }
  watched_ = std::move(watched);
  watch_changed_ = true;
}

std::vector<int> KeyspaceNotifications::Wait(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return any_touched_ || interrupted_;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  std::vector<int> touched;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (touched_[i] && watched_[i]) touched.push_back(static_cast<int>(i));
    touched_[i] = false;
  }
  any_touched_ = false;
  return touched;
}

void KeyspaceNotifications::Interrupt() {
  absl::MutexLock lock(&mu_);
  interrupted_ = true;
}

void KeyspaceNotifications::TouchAllWatched() {
  absl::MutexLock lock(&mu_);
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (watched_[i]) {
      touched_[i] = true;
      any_touched_ = true;
    }
  }
}

absl::StatusOr<std::vector<RedisAddress>>
KeyspaceNotifications::AskPrimaries() {
  if (options_.cluster_nodes.empty() && !options_.sentinels.empty()) {
    // Sentinel: the primary the sentinels name now (asked again every
    // `refresh` and when the subscriber drops, so it follows a failover).
    absl::Status last = absl::UnavailableError("no sentinel named a primary");
    for (const RedisAddress& sentinel : options_.sentinels) {
      if (stopping_.load()) break;
      Context ctx(
          redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port,
                                  TimevalOf(options_.sentinel_timeout)));
      if (ctx == nullptr || ctx->err != 0) continue;
      redisSetTimeout(ctx.get(), TimevalOf(options_.sentinel_timeout));
      if (!options_.sentinel_password.empty()) {
        if (auto ok = Call(ctx.get(), {"AUTH", options_.sentinel_password});
            !ok.ok()) {
          last = ok.status();
          continue;
        }
      }
      auto reply = Call(ctx.get(), {"SENTINEL", "get-master-addr-by-name",
                                    options_.sentinel_master});
      int port = 0;
      if (!reply.ok()) {
        last = reply.status();
      } else if (reply->elements.size() == 2 &&
                 absl::SimpleAtoi(reply->elements[1].str, &port)) {
        return std::vector<RedisAddress>{
            RedisAddress{.host = reply->elements[0].str, .port = port}};
      }
    }
    return last;
  }
  if (options_.cluster_nodes.empty()) {  // One Redis: itself.
    return std::vector<RedisAddress>{
        RedisAddress{.host = options_.host, .port = options_.port}};
  }
  absl::Status last = absl::UnavailableError("no cluster node answered");
  std::vector<RedisAddress> nodes = options_.cluster_nodes;
  std::shuffle(nodes.begin(), nodes.end(),
               std::minstd_rand(std::random_device{}()));
  for (const RedisAddress& node : nodes) {
    if (stopping_.load()) break;  // Each connect may take connect_timeout.
    Context ctx(redisConnectWithTimeout(node.host.c_str(), node.port,
                                        TimevalOf(options_.connect_timeout)));
    if (ctx == nullptr || ctx->err != 0) continue;
    redisSetTimeout(ctx.get(), TimevalOf(options_.command_timeout));
    if (!options_.password.empty()) {
      std::vector<std::string> auth = {"AUTH"};
      if (!options_.username.empty()) auth.push_back(options_.username);
      auth.push_back(options_.password);
      if (auto ok = Call(ctx.get(), auth); !ok.ok()) {
        last = ok.status();
        continue;
      }
    }
    auto reply = Call(ctx.get(), {"CLUSTER", "SLOTS"});
    if (!reply.ok()) {
      last = reply.status();
      continue;
    }
    auto ranges = ParseClusterSlots(*reply, node);
    if (!ranges.ok()) {
      last = ranges.status();
      continue;
    }
    std::vector<RedisAddress> primaries;
    for (const SlotRange& range : *ranges) {
      if (std::find(primaries.begin(), primaries.end(), range.primary) ==
          primaries.end()) {
        primaries.push_back(range.primary);
      }
    }
    if (!primaries.empty()) return primaries;
  }
  return last;
}

std::unique_ptr<KeyspaceNotifications::Subscriber>
KeyspaceNotifications::Subscribe(const RedisAddress& node,
                                 const std::vector<bool>& watched) {
  auto sub = std::make_unique<Subscriber>();
  sub->node = node;
  sub->ctx.reset(redisConnectWithTimeout(node.host.c_str(), node.port,
                                         TimevalOf(options_.connect_timeout)));
  if (sub->ctx == nullptr || sub->ctx->err != 0) return nullptr;
  redisSetTimeout(sub->ctx.get(), TimevalOf(options_.command_timeout));
  if (!options_.password.empty()) {
    std::vector<std::string> auth = {"AUTH"};
    if (!options_.username.empty()) auth.push_back(options_.username);
    auth.push_back(options_.password);
    if (!Call(sub->ctx.get(), auth).ok()) return nullptr;
  }
  // K with t (stream events) or A (every class) sends what is watched.
  auto config =
      Call(sub->ctx.get(), {"CONFIG", "GET", "notify-keyspace-events"});
  if (config.ok() && config->elements.size() == 2) {
    const std::string& flags = config->elements[1].str;
    sub->notifying =
        absl::StrContains(flags, "K") &&
        (absl::StrContains(flags, "t") || absl::StrContains(flags, "A"));
  }
  std::vector<std::string> subscribe = {"SUBSCRIBE"};
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (watched[i]) subscribe.push_back(channel_prefix_ + keys_[i]);
  }
  if (subscribe.size() > 1 && !Send(sub->ctx.get(), subscribe)) return nullptr;
  return sub;
}

bool KeyspaceNotifications::Receive(Subscriber& sub) {
  if (redisBufferRead(sub.ctx.get()) != REDIS_OK) return false;
  void* raw = nullptr;
  while (redisGetReplyFromReader(sub.ctx.get(), &raw) == REDIS_OK &&
         raw != nullptr) {
    RedisReply reply = ConvertReply(*static_cast<redisReply*>(raw));
    freeReplyObject(raw);
    raw = nullptr;
    // ["message", "__keyspace@0__:<key>", "<event>"]; the rest are
    // (un)subscribe confirmations.
    if (reply.elements.size() != 3 || reply.elements[0].str != "message") {
      continue;
    }
    const std::string& channel = reply.elements[1].str;
    if (!absl::StartsWith(channel, channel_prefix_)) continue;
    if (std::find(events_.begin(), events_.end(), reply.elements[2].str) ==
        events_.end()) {
      continue;
    }
    auto found = index_.find(channel.substr(channel_prefix_.size()));
    if (found == index_.end()) continue;
    absl::MutexLock lock(&mu_);
    const auto i = static_cast<size_t>(found->second);
    if (watched_[i]) {
      touched_[i] = true;
      any_touched_ = true;
    }
  }
  return true;
}

void KeyspaceNotifications::ApplyWatch(
    std::vector<std::unique_ptr<Subscriber>>& subs) {
  std::vector<bool> watched;
  {
    absl::MutexLock lock(&mu_);
    if (!watch_changed_) return;
    watch_changed_ = false;
    watched = watched_;
  }
  std::vector<std::string> subscribe = {"SUBSCRIBE"};
  std::vector<std::string> unsubscribe = {"UNSUBSCRIBE"};
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (watched[i] && !subscribed_[i]) {
      subscribe.push_back(channel_prefix_ + keys_[i]);
    } else if (!watched[i] && subscribed_[i]) {
      unsubscribe.push_back(channel_prefix_ + keys_[i]);
    }
  }
  subscribed_ = watched;
  for (auto& sub : subs) {
    if (sub == nullptr) continue;
    const bool sent =
        (subscribe.size() == 1 || Send(sub->ctx.get(), subscribe)) &&
        (unsubscribe.size() == 1 || Send(sub->ctx.get(), unsubscribe));
    if (!sent) sub.reset();  // Subscribed again, whole, on the next pass.
  }
}

void KeyspaceNotifications::Run() {
  std::vector<std::unique_ptr<Subscriber>> subs;
  absl::Time next_refresh = absl::InfinitePast();
  bool warned_off = false, warned_unreachable = false;
  while (!stopping_.load()) {
    ApplyWatch(subs);
    subs.erase(std::remove(subs.begin(), subs.end(), nullptr), subs.end());
    if (absl::Now() >= next_refresh) {
      auto primaries = AskPrimaries();
      if (!primaries.ok()) {
        if (!warned_unreachable) {
          Log(LogLevel::kWarning, "keyspace_notifications_no_cluster",
              {{"error", primaries.status().ToString()}});
          warned_unreachable = true;
        }
        next_refresh = absl::Now() + absl::Milliseconds(500);
      } else {
        warned_unreachable = false;
        next_refresh = absl::Now() + refresh_;
        // Drop subscribers to nodes no longer primary; subscribe to new
        // primaries (everything they hold counts as touched).
        subs.erase(std::remove_if(
                       subs.begin(), subs.end(),
                       [&](const std::unique_ptr<Subscriber>& s) {
                         return std::find(primaries->begin(), primaries->end(),
                                          s->node) == primaries->end();
                       }),
                   subs.end());
        bool added = false;
        for (const RedisAddress& node : *primaries) {
          if (stopping_.load()) break;
          const bool known =
              std::any_of(subs.begin(), subs.end(),
                          [&](const auto& s) { return s->node == node; });
          if (known) continue;
          auto sub = Subscribe(node, subscribed_);
          if (sub == nullptr) {
            next_refresh = absl::Now() + absl::Milliseconds(500);
            continue;
          }
          subs.push_back(std::move(sub));
          added = true;
        }
        if (added) TouchAllWatched();
        const bool on = !subs.empty() && subs.size() == primaries->size() &&
                        std::all_of(subs.begin(), subs.end(),
                                    [](const auto& s) { return s->notifying; });
        if (!on && !subs.empty() && !warned_off &&
            std::any_of(subs.begin(), subs.end(),
                        [](const auto& s) { return !s->notifying; })) {
          Log(LogLevel::kWarning, "keyspace_notifications_off",
              {{"detail",
                "a primary's notify-keyspace-events lacks K and t: stream "
                "readers poll instead (set notify-keyspace-events Kt)"}});
          warned_off = true;
        }
        enabled_.store(on);
      }
    }
    subscribers_.store(static_cast<int>(subs.size()));
    std::vector<pollfd> fds;
    for (const auto& sub : subs) {
      fds.push_back(pollfd{.fd = sub->ctx->fd, .events = POLLIN, .revents = 0});
    }
    if (fds.empty()) {
      absl::SleepFor(absl::Milliseconds(50));
      continue;
    }
    if (poll(fds.data(), fds.size(), 50) <= 0) continue;
    bool lost = false;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      if (!Receive(*subs[i])) {
        subs[i].reset();
        lost = true;
      }
    }
    if (lost) {
      enabled_.store(false);
      next_refresh = absl::Now();  // Find the primaries again.
    }
  }
}

}  // namespace makegood::redis
