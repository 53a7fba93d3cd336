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
  outstanding.fetch_sub(1, std::memory_order_relaxed);
  // Submitted at deadline - command_timeout.
  observer.OnCommandDone(absl::FromChrono(SteadyNow() - command->deadline) +
                             options.command_timeout,
                         result.ok());
  RedisClient::Callback done = std::move(command->done);
  if (done) done(std::move(result));
}

void ClientState::AddReadyConnections(int delta) {
  int now =
      ready_connections.fetch_add(delta, std::memory_order_relaxed) + delta;
  observer.OnReadyConnections(now);
}

ClientObserver& ClientState::NoObserver() {
  static ClientObserver* const none = new ClientObserver();
  return *none;
}

}  // namespace makegood::redis
