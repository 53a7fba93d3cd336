// File: services/redis/keyspace_notifications.h
//
// KeyspaceNotifications: which of a set of keys Redis (one server, the
// primary Sentinel names, or a Cluster) says were touched, from its keyspace
// notifications (notify-keyspace-events with K, and t or A, on every node). It
// lets a reader of many streams wait without a command per stream, and then
// read only the streams that got entries. On a cluster a blocking read cannot
// span slots (../shared/CLUSTER.md), so the stream readers read slot by slot
// without blocking and wait here between reads (streams/stream_read.h). On
// one Redis a blocking read over every stream would do, but each one costs
// Redis about 5 us per stream, idle or not (docs/PERFORMANCE.md), so readers
// wait here too whenever the server has notifications on, and block only
// when it has not.
//
// Each node publishes the events of its own keys only, so there is one
// subscriber connection per primary (one Redis: the server itself; under
// Sentinel: the primary the sentinels name, asked again like a cluster's),
// subscribed to
// "__keyspace@0__:<key>" for every watched key (plain SUBSCRIBE: channels
// are not keys, so any node takes any channel). The primaries come from
// CLUSTER SLOTS, asked again every `refresh` and whenever a subscriber is
// lost; subscribers to nodes no longer primary are dropped. Messages name
// the key and the event; a key counts as touched on one of `events`.
//
// Notifications are fire and forget: while a subscriber is down, events are
// lost. So whenever a subscriber (re)subscribes, and whenever a key starts
// being watched, every watched key counts as touched: the reader reads them
// all once. A node whose notify-keyspace-events lacks the events (or that
// refuses CONFIG GET) makes enabled() false: the reader then cannot trust
// silence and must poll (it logs why, once).
//
// Example:
//   auto notes = KeyspaceNotifications::Start(options, streams, {"xadd"});
//   (*notes)->Watch(owned);
//   for (int s : (*notes)->Wait(absl::Milliseconds(500))) Read(s);
//
// Written here because hiredis 0.14 has no cluster support and Debian has
// no cluster pub/sub client; it uses hiredis's blocking API on a thread of
// its own (poll() over the subscribers' sockets).
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/redis/redis_options.h"

namespace makegood::redis {

class KeyspaceNotifications {
 public:
  // Starts the subscriber thread; watches no key until Watch. One Redis
  // (host, port, db), Sentinel (sentinels, sentinel_master) or a cluster
  // (cluster_nodes); INVALID_ARGUMENT with no keys or events. Does not wait
  // for Redis.
  static absl::StatusOr<std::unique_ptr<KeyspaceNotifications>> Start(
      RedisOptions options, std::vector<std::string> keys,
      std::vector<std::string> events,
      absl::Duration refresh = absl::Seconds(5));
  ~KeyspaceNotifications();
  KeyspaceNotifications(const KeyspaceNotifications&) = delete;
  KeyspaceNotifications& operator=(const KeyspaceNotifications&) = delete;

  // Which keys to watch (one flag per key given to Start); a key that
  // starts being watched counts as touched.
  void Watch(std::vector<bool> watched);
  // Waits up to `timeout` until a watched key is touched or Interrupt is
  // called; returns the indexes of the watched keys touched since the last
  // call (empty on timeout) and forgets them.
  std::vector<int> Wait(absl::Duration timeout);
  // Ends the current and every later Wait at once (for a reader stopping).
  void Interrupt();
  // Whether every primary subscribed to has notifications on for the
  // events; false until the first subscriber is up.
  bool enabled() const { return enabled_.load(); }
  // Subscribers up (one per primary when all is well).
  int subscribers() const { return subscribers_.load(); }

 private:
  struct Subscriber;

  KeyspaceNotifications(RedisOptions options, std::vector<std::string> keys,
                        std::vector<std::string> events,
                        absl::Duration refresh);
  void Run();
  // The primaries, asked of the seeds and the known primaries in turn.
  absl::StatusOr<std::vector<RedisAddress>> AskPrimaries();
  std::unique_ptr<Subscriber> Subscribe(const RedisAddress& node,
                                        const std::vector<bool>& watched);
  // Reads what `sub` received; false when the connection is lost.
  bool Receive(Subscriber& sub);
  // (Un)subscribes every subscriber to the keys whose watch changed.
  void ApplyWatch(std::vector<std::unique_ptr<Subscriber>>& subs);
  void TouchAllWatched();

  const RedisOptions options_;
  const std::vector<std::string> keys_;
  const std::vector<std::string> events_;
  const absl::Duration refresh_;
  const std::string channel_prefix_;             // "__keyspace@<db>__:"
  absl::flat_hash_map<std::string, int> index_;  // Key -> its index.
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> enabled_{false};
  std::atomic<int> subscribers_{0};
  std::vector<bool> subscribed_;  // The subscriber thread's own.

  mutable absl::Mutex mu_;
  std::vector<bool> watched_ ABSL_GUARDED_BY(mu_);
  bool watch_changed_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<bool> touched_ ABSL_GUARDED_BY(mu_);
  bool any_touched_ ABSL_GUARDED_BY(mu_) = false;
  bool interrupted_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace makegood::redis
