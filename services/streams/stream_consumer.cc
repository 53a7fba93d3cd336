#include "services/streams/stream_consumer.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "services/core/log.h"
#include "services/redis/redis_client_factory.h"
#include "services/streams/stream_read.h"

namespace makegood::streams {

using redis::RedisReply;

namespace {

std::string InFlightKey(const StreamEntry& entry) {
  return absl::StrCat(entry.stream, "/", entry.id);
}

}  // namespace

StreamConsumer::StreamConsumer(redis::RedisClient& redis, const Clock& clock,
                               ConsumerOptions options,
                               ClientFactory blocking_client, Handler handler,
                               Handler on_dead_letter)
    : redis_(redis),
      clock_(clock),
      options_(std::move(options)),
      factory_(std::move(blocking_client)),
      handler_(std::move(handler)),
      on_dead_letter_(std::move(on_dead_letter)) {}

StreamConsumer::~StreamConsumer() { Stop(absl::ZeroDuration()); }

absl::Status StreamConsumer::Open() {
  const std::string& n = options_.name;
  if (options_.consumer.empty() || options_.group.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, ": consumer and group must not be empty"));
  }
  if (options_.streams.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(n, ": no streams"));
  }
  if (options_.block <= absl::ZeroDuration() ||
      options_.retry_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, ": block must be > 0 and retry_after >= 0"));
  }
  if (options_.read_count < 1 || options_.reclaim_count < 1 ||
      options_.max_in_flight < 1 || options_.max_deliveries < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        n,
        ": read_count, reclaim_count and max_in_flight must be >= 1, "
        "max_deliveries >= 0"));
  }
  if (!options_.members_key.empty() &&
      options_.member_ttl < absl::Milliseconds(30)) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, ": member_ttl must be >= 30ms"));
  }
  if ((options_.max_deliveries > 0 || options_.on_backlog) &&
      options_.dead_letter_streams.size() != options_.streams.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat(n, ": one dead_letter_stream per stream needed"));
  }
  if (blocking_ != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat(n, ": already open"));
  }
  auto blocking = factory_();
  if (!blocking.ok()) return blocking.status();
  blocking_ = *std::move(blocking);
  if (!options_.members_key.empty()) {
    membership_ = std::make_unique<Membership>(
        *blocking_, options_.members_key, options_.consumer,
        static_cast<int>(options_.streams.size()), options_.member_ttl);
    absl::MutexLock lock(&mu_);
    owned_.assign(options_.streams.size(), false);
  }
  pending_after_.assign(options_.streams.size(), "0");
  pending_done_.assign(options_.streams.size(), false);
  unread_.assign(options_.streams.size(), true);
  if (options_.notifications) {
    auto notes = options_.notifications(options_.streams);
    if (notes.ok()) {
      notes_ = *std::move(notes);
      notes_->Watch(owned());
    } else {  // Reads poll instead (ReadNew).
      Log(LogLevel::kWarning,
          absl::StrCat(options_.name, "_notifications_failed"),
          {{"error", notes.status().ToString()}});
    }
  }
  return absl::OkStatus();
}

absl::Status StreamConsumer::Start() {
  if (blocking_ == nullptr) {
    if (absl::Status opened = Open(); !opened.ok()) return opened;
  }
  if (thread_.joinable()) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.name, ": already started"));
  }
  thread_ = std::thread([this] {
    while (!stopping_.load()) Poll();
  });
  return absl::OkStatus();
}

void StreamConsumer::Stop(absl::Duration grace) {
  if (stopping_.exchange(true)) return;
  if (notes_ != nullptr) notes_->Interrupt();
  if (thread_.joinable()) thread_.join();
  if (membership_ != nullptr) {
    {
      absl::MutexLock lock(&mu_);
      owned_.assign(options_.streams.size(), false);
    }
    // The others take this consumer's share at their next beat.
    if (absl::Status left = membership_->Leave(); !left.ok()) {
      Log(LogLevel::kWarning, absl::StrCat(options_.name, "_leave_failed"),
          {{"consumer", options_.consumer}, {"error", left.ToString()}});
    }
  }
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return in_flight_.empty();
  };
  mu_.AwaitWithTimeout(absl::Condition(&idle), grace);
}

ConsumerStats StreamConsumer::stats() const {
  absl::MutexLock lock(&mu_);
  return stats_;
}

std::vector<bool> StreamConsumer::owned() const {
  if (membership_ == nullptr) {
    return std::vector<bool>(options_.streams.size(), true);
  }
  absl::MutexLock lock(&mu_);
  return owned_;
}

bool StreamConsumer::Owns(size_t stream) const {
  return membership_ == nullptr || membership_->owned()[stream];
}

void StreamConsumer::BeatIfDue() {
  if (membership_ == nullptr || MonotonicNow() < next_beat_) return;
  const std::vector<bool> before = membership_->owned();
  absl::Status beat = membership_->Beat();
  next_beat_ = MonotonicNow() + membership_->ttl() / 3;
  if (!beat.ok()) {
    Log(LogLevel::kWarning, absl::StrCat(options_.name, "_beat_failed"),
        {{"consumer", options_.consumer}, {"error", beat.ToString()}});
    return;
  }
  if (membership_->owned() == before) return;
  {
    absl::MutexLock lock(&mu_);
    owned_ = membership_->owned();
  }
  if (notes_ != nullptr) notes_->Watch(membership_->owned());
  const int64_t owned = std::count(membership_->owned().begin(),
                                   membership_->owned().end(), true);
  Log(LogLevel::kInfo, absl::StrCat(options_.name, "_streams_owned"),
      {{"consumer", options_.consumer},
       {"owned", owned},
       {"streams", static_cast<int64_t>(options_.streams.size())},
       {"members", absl::StrJoin(membership_->live(), ",")}});
}

absl::Duration StreamConsumer::MonotonicNow() const {
  if (options_.monotonic_now) return options_.monotonic_now();
  return absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

void StreamConsumer::Pause(absl::Duration d) {
  if (options_.sleep) {
    options_.sleep(d);
    return;
  }
  // Short slices so Stop() is never held up.
  for (absl::Duration slept; slept < d && !stopping_.load();
       slept += absl::Milliseconds(50)) {
    absl::SleepFor(std::min(d - slept, absl::Milliseconds(50)));
  }
}

void StreamConsumer::Poll() {
  if (stopping_.load()) return;
  if (blocking_->ready_connections() == 0) {
    Pause(absl::Milliseconds(50));
    return;
  }
  if (!groups_ready_) {
    groups_ready_ = EnsureGroups();
    if (!groups_ready_) {
      Pause(options_.group_retry);
      return;
    }
  }
  BeatIfDue();
  if (!own_pending_read_) {
    // On failure it is tried again next pass, from where it stopped; the
    // pass goes on, so reclaiming works even where this read cannot (a
    // read over several streams is refused across Redis Cluster slots).
    own_pending_read_ = ReadOwnPending();
  }
  if (options_.on_backlog && MonotonicNow() >= next_backlog_) {
    ReportBacklog();
    next_backlog_ = MonotonicNow() + options_.backlog_interval;
  }
  if (MonotonicNow() >= next_reclaim_) {
    Reclaim();
    next_reclaim_ = MonotonicNow() +
                    std::max(options_.retry_after / 2, absl::Milliseconds(50));
  }
  {
    absl::MutexLock lock(&mu_);
    auto room = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return in_flight_.size() < static_cast<size_t>(options_.max_in_flight);
    };
    if (!mu_.AwaitWithTimeout(absl::Condition(&room),
                              absl::Milliseconds(100))) {
      return;
    }
  }
  ReadNew();
}

void StreamConsumer::NoteError(const absl::Status& status) {
  // The streams or the group vanished (e.g. Redis restarted empty): create
  // them again.
  if (absl::StrContains(status.message(), "NOGROUP")) {
    groups_ready_ = false;
    own_pending_read_ = false;
    pending_after_.assign(options_.streams.size(), "0");
    pending_done_.assign(options_.streams.size(), false);
  }
}

bool StreamConsumer::EnsureGroups() {
  bool ready = true;
  for (const std::string& key : options_.streams) {
    auto reply = blocking_->CommandSync(
        {"XGROUP", "CREATE", key, options_.group, "0", "MKSTREAM"});
    if (!reply.ok() &&
        !absl::StrContains(reply.status().message(), "BUSYGROUP")) {
      Log(LogLevel::kWarning,
          absl::StrCat(options_.name, "_group_create_failed"),
          {{"stream", key}, {"error", reply.status().ToString()}});
      ready = false;
    }
  }
  return ready;
}

bool StreamConsumer::ReadOwnPending() {
  // Per stream, the id after which to read this consumer's pending entries;
  // a stream is done when nothing follows. Moving past entries whose
  // handling fails keeps this finite: those are retried by Reclaim.
  const std::vector<std::string>& streams = options_.streams;
  while (!stopping_.load()) {
    StreamRead read;
    read.head = {"XREADGROUP",      "GROUP", options_.group,
                 options_.consumer, "COUNT", absl::StrCat(options_.read_count)};
    std::vector<size_t> asked;
    for (size_t s = 0; s < streams.size(); ++s) {
      if (!pending_done_[s]) {
        asked.push_back(s);
        read.streams.push_back(streams[s]);
        read.ids.push_back(pending_after_[s]);
      }
    }
    if (asked.empty()) return true;
    StreamReadResult result = ReadStreams(*blocking_, read);
    if (!result.status.ok()) {
      // Pending entries stay pending: nothing is lost by reading them again.
      NoteError(result.status);
      return false;
    }
    for (size_t s : asked) pending_done_[s] = true;
    for (StreamEntry& entry : result.entries) {
      entry.stream = static_cast<int>(asked[static_cast<size_t>(entry.stream)]);
      const auto s = static_cast<size_t>(entry.stream);
      pending_done_[s] = false;
      pending_after_[s] = entry.id;  // Ascending within a stream.
    }
    for (StreamEntry& entry : result.entries) Dispatch(std::move(entry));
  }
  return false;
}

void StreamConsumer::Reclaim() {
  const std::string min_idle =
      absl::StrCat(absl::ToInt64Milliseconds(options_.retry_after));
  const std::vector<std::string>& streams = options_.streams;
  for (size_t s = 0; s < streams.size() && !stopping_.load(); ++s) {
    if (!Owns(s)) continue;  // Its owner takes over what is stale there.
    std::string cursor = "0-0";
    do {
      auto reply = blocking_->CommandSync(
          {"XAUTOCLAIM", streams[s], options_.group, options_.consumer,
           min_idle, cursor, "COUNT", absl::StrCat(options_.reclaim_count)});
      // [next cursor, [[id, [k, v, ...]], ...], deleted ids]. Redis drops
      // deleted (trimmed) entries from the pending list itself.
      if (!reply.ok()) {
        NoteError(reply.status());
        break;
      }
      if (reply->elements.size() < 2) break;
      cursor = reply->elements[0].str;
      for (RedisReply& e : reply->elements[1].elements) {
        if (e.elements.size() < 2) continue;
        StreamEntry entry;
        entry.stream = static_cast<int>(s);
        entry.id = std::move(e.elements[0].str);
        entry.fields = std::move(e.elements[1]);
        entry.reclaimed = true;
        if (options_.max_deliveries > 0) {
          // How often it was delivered, this claim included. Unknown (a
          // failed XPENDING) counts as 1: dead-lettered on a later claim.
          auto pending =
              blocking_->CommandSync({"XPENDING", streams[s], options_.group,
                                      entry.id, entry.id, "1"});
          if (pending.ok() && !pending->elements.empty() &&
              pending->elements[0].elements.size() >= 4) {
            entry.deliveries = pending->elements[0].elements[3].integer;
          }
        }
        {
          absl::MutexLock lock(&mu_);
          ++stats_.reclaimed;
        }
        // Handed out before the next entry's XPENDING round trip, so the
        // entries of a claim are begun in stream order.
        Dispatch(std::move(entry));
      }
    } while (cursor != "0-0" && !cursor.empty() && !stopping_.load());
  }
}

void StreamConsumer::ReadNew() {
  size_t room;
  {
    absl::MutexLock lock(&mu_);
    room = options_.max_in_flight -
           std::min<size_t>(in_flight_.size(), options_.max_in_flight);
  }
  if (room == 0) return;
  // By notifications: only the streams that may have something new, without
  // blocking, then a wait for a notification; else one blocking read.
  const bool by_notes = ReadByNotifications(*blocking_, notes_.get());
  // The streams this consumer owns (by notifications: those that may
  // have something new), and their indexes in options_.streams.
  std::vector<std::string> streams;
  std::vector<int> index;
  bool owns_any = false;
  for (size_t s = 0; s < options_.streams.size(); ++s) {
    if (!Owns(s)) continue;
    owns_any = true;
    if (by_notes && !unread_[s]) continue;
    streams.push_back(options_.streams[s]);
    index.push_back(static_cast<int>(s));
  }
  if (!owns_any) {
    // Nothing to read until a beat gives this consumer a share.
    Pause(std::min(options_.block, options_.member_ttl / 3));
    return;
  }
  if (streams.empty()) {
    WaitForNotifications();
    return;
  }
  StreamRead read{
      .head = {"XREADGROUP", "GROUP", options_.group, options_.consumer,
               "COUNT",
               absl::StrCat(std::min<size_t>(room, options_.read_count))},
      .streams = std::move(streams),
      .ids = std::vector<std::string>(index.size(), ">"),
      .block = by_notes ? absl::ZeroDuration() : options_.block};
  StreamReadResult result = ReadStreams(*blocking_, read);
  if (by_notes && result.status.ok()) {
    // Read to the end unless entries came (more may follow); after a
    // failure every stream read is read again.
    for (int s : index) unread_[static_cast<size_t>(s)] = false;
  }
  const bool read_any = !result.entries.empty();
  for (StreamEntry& entry : result.entries) {
    entry.stream = index[static_cast<size_t>(entry.stream)];
    unread_[static_cast<size_t>(entry.stream)] = true;
    Dispatch(std::move(entry));
  }
  if (!result.status.ok()) {
    NoteError(result.status);
    Pause(absl::Milliseconds(50));
    return;
  }
  if (blocking_->one_slot_per_command() && notes_ == nullptr) {
    // Reads did not block (stream_read.h) and nothing says when entries
    // come: wait before the next read, longer the longer nothing comes
    // (10 ms, doubling, at most `block`).
    idle_wait_ = read_any ? absl::ZeroDuration()
                          : std::clamp(idle_wait_ * 2, absl::Milliseconds(10),
                                       options_.block);
    if (idle_wait_ > absl::ZeroDuration()) Pause(idle_wait_);
  }
}

void StreamConsumer::WaitForNotifications() {
  // Every owned stream was read to its end. Wait (at most `block`, as a
  // blocking read would, so the pass goes on) for one to get an entry.
  // Read them all anyway every kQuietRead in case a notification was lost,
  // and after every wait while notifications cannot be trusted (a node
  // without them, a subscriber down).
  constexpr absl::Duration kQuietRead = absl::Seconds(5);
  for (int s : notes_->Wait(options_.block)) {
    unread_[static_cast<size_t>(s)] = true;
  }
  if (!notes_->enabled() || MonotonicNow() >= next_full_read_) {
    unread_.assign(options_.streams.size(), true);
    next_full_read_ = MonotonicNow() + kQuietRead;
  }
}

void StreamConsumer::ReportBacklog() {
  int64_t entries = 0, dead = 0;
  for (size_t s = 0; s < options_.streams.size(); ++s) {
    auto length = blocking_->CommandSync({"XLEN", options_.streams[s]});
    auto dead_length =
        blocking_->CommandSync({"XLEN", options_.dead_letter_streams[s]});
    if (!length.ok() || !dead_length.ok()) return;  // Next time.
    entries += length->integer;
    dead += dead_length->integer;
  }
  options_.on_backlog(entries, dead);
}

void StreamConsumer::Dispatch(StreamEntry entry) {
  std::string key = InFlightKey(entry);
  const bool dead =
      options_.max_deliveries > 0 && entry.deliveries > options_.max_deliveries;
  {
    absl::MutexLock lock(&mu_);
    auto ready = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      return in_flight_.size() < static_cast<size_t>(options_.max_in_flight) ||
             in_flight_.contains(key) || stopping_.load();
    };
    while (!mu_.AwaitWithTimeout(absl::Condition(&ready),
                                 absl::Milliseconds(100))) {
    }
    // Being handled here already, or stopping: left pending.
    if (stopping_.load() || !in_flight_.insert(key).second) return;
    if (dead) {
      ++stats_.dead_lettered;
    } else {
      ++stats_.delivered;
    }
  }
  Done done = [this, key = std::move(key)] {
    absl::MutexLock lock(&mu_);
    in_flight_.erase(key);
  };
  if (!dead) {
    handler_(std::move(entry), std::move(done));
  } else if (on_dead_letter_) {
    on_dead_letter_(std::move(entry), std::move(done));
  } else {
    DeadLetter(std::move(entry), std::move(done));
  }
}

void StreamConsumer::DeadLetter(StreamEntry entry, Done done) {
  const size_t s = static_cast<size_t>(entry.stream);
  std::vector<std::string> argv = {
      "XADD",
      options_.dead_letter_streams[s],
      "*",
      "entry_id",
      entry.id,
      "deliveries",
      absl::StrCat(entry.deliveries),
      "dead_at_ms",
      absl::StrCat(absl::ToUnixMillis(clock_.Now()))};
  for (const RedisReply& f : entry.fields.elements) argv.push_back(f.str);
  Log(LogLevel::kWarning, absl::StrCat(options_.name, "_dead_letter"),
      {{"stream", options_.streams[s]},
       {"entry_id", entry.id},
       {"deliveries", entry.deliveries}});
  redis_.Command(
      std::move(argv), [this, entry = std::move(entry), done = std::move(done)](
                           absl::StatusOr<RedisReply> added) mutable {
        if (!added.ok()) {
          done();  // Still pending: dead-lettered on a later claim.
          return;
        }
        const std::string& stream = options_.streams[entry.stream];
        redis_.Command({"XACK", stream, options_.group, entry.id},
                       [this, stream, id = entry.id, done = std::move(done)](
                           absl::StatusOr<RedisReply> acked) mutable {
                         if (acked.ok()) {
                           redis_.Command({"XDEL", stream, id},
                                          [](absl::StatusOr<RedisReply>) {});
                         }
                         done();
                       });
      });
}

void StreamConsumer::Ack(const StreamEntry& entry,
                         absl::AnyInvocable<void(absl::Status)> done) {
  redis_.Command(
      {"XACK", options_.streams[entry.stream], options_.group, entry.id},
      [done = std::move(done)](absl::StatusOr<RedisReply> reply) mutable {
        done(reply.status());
      });
}

decltype(ConsumerOptions::notifications) NotificationsOf(
    redis::RedisOptions options) {
  return [options](const std::vector<std::string>& streams) {
    return redis::KeyspaceNotifications::Start(options, streams, {"xadd"});
  };
}

StreamConsumer::ClientFactory BlockingReadClient(redis::RedisOptions options,
                                                 absl::Duration block) {
  options.connections = 1;
  options.command_timeout = block + absl::Seconds(2);
  return [options]() { return redis::StartRedisClient(options); };
}

}  // namespace makegood::streams
