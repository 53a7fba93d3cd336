// File: services/redis/client_state.cc
#include "services/redis/client_state.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace makegood::redis {

std::string FormatMillis(absl::Duration d) {
  return absl::StrCat(absl::ToInt64Milliseconds(d), "ms");
}

void ClientState::Finish(PendingCommand* command,
                         absl::StatusOr<RedisReply> result) {
  if (command->finished) return;
  command->finished = true;
  if (!result.ok()) failures.fetch_add(1, std::memory_order_relaxed);
  outstanding.fetch_sub(1, std::memory_order_relaxed);
  if (options.observe_latency) {
    // Submitted at deadline - command_timeout.
    options.observe_latency(absl::FromChrono(SteadyNow() - command->deadline) +
                            options.command_timeout);
  }
  RedisClient::Callback done = std::move(command->done);
  if (done) done(std::move(result));
}

HiredisClientStats ClientState::stats() const {
  HiredisClientStats s;
  s.commands = commands.load(std::memory_order_relaxed);
  s.failures = failures.load(std::memory_order_relaxed);
  s.timeouts = timeouts.load(std::memory_order_relaxed);
  s.connects = connects.load(std::memory_order_relaxed);
  s.rejected_full = rejected_full.load(std::memory_order_relaxed);
  s.noscript = noscript.load(std::memory_order_relaxed);
  s.primary_changes = primary_changes.load(std::memory_order_relaxed);
  return s;
}

}  // namespace makegood::redis
