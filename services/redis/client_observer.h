// File: services/redis/client_observer.h
//
// What a HiredisClient reports about itself while it works: commands
// accepted, finished (with their latency) and refused, connections made,
// reset and dropped, script-cache misses. The client calls the observer as
// each thing happens; whoever wires the client decides what to do with it
// (the server feeds Prometheus, tests count). The client keeps no counters of
// its own, so there is nothing to scrape and nothing counted twice.
//
// Example:
//   class CommandCounter final : public redis::ClientObserver {
//    public:
//     void OnCommandDone(absl::Duration, bool ok) override { ... }
//   };
//   CommandCounter counter;
//   options.observer = &counter;  // Must outlive the client.
//
// Thread-safety: methods are called from the I/O thread and from the threads
// that submit commands, concurrently; implementations must be thread-safe and
// quick (they run on the I/O thread's hot path) and must not call the client.
#pragma once

#include "absl/time/time.h"

namespace makegood::redis {

class ClientObserver {
 public:
  virtual ~ClientObserver() = default;

  // A command was accepted for sending (not refused by the cap).
  virtual void OnCommandAccepted() {}
  // A command completed, `ok` or not (Redis error, timeout, lost connection,
  // refused), `latency` after it was submitted.
  virtual void OnCommandDone(absl::Duration /*latency*/, bool /*ok*/) {}
  // A command was refused because max_outstanding commands were pending.
  virtual void OnRejectedFull() {}
  // A connection was reset because its oldest command missed its deadline.
  virtual void OnTimeout() {}
  // A connection became ready (first connect and every reconnect).
  virtual void OnConnect() {}
  // The number of ready connections changed to `ready`.
  virtual void OnReadyConnections(int /*ready*/) {}
  // An EVALSHA met NOSCRIPT and was re-sent as EVAL.
  virtual void OnNoscript() {}
  // Sentinel mode: a connection was dropped because its server was not (or
  // no longer) the primary: a READONLY reply, a ROLE other than master, or
  // the sentinels naming another address.
  virtual void OnPrimaryChange() {}
};

}  // namespace makegood::redis
