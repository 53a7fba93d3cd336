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

std::unique_ptr<PendingCommand> EvalShaCommand(const LuaScript& script,
                                               std::vector<std::string> keys,
                                               std::vector<std::string> args,
                                               RedisClient::Callback done) {
  auto command = std::make_unique<PendingCommand>();
  command->argv.reserve(3 + keys.size() + args.size());
  command->argv.push_back("EVALSHA");
  command->argv.push_back(script.sha1);
  command->argv.push_back(absl::StrCat(keys.size()));
  for (std::string& key : keys) command->argv.push_back(std::move(key));
  for (std::string& arg : args) command->argv.push_back(std::move(arg));
  command->script = &script;
  command->done = std::move(done);
  return command;
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
