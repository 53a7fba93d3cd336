#include "tests/testing/redis_server.h"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace makegood::testing {

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  char dir_template[] = "/tmp/makegood-redis-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  // A port picked free can be taken before redis binds it: try a few.
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port.status();
    std::unique_ptr<RedisServer> server(new RedisServer(*port, dir_template));
    last = server->Launch();
    if (last.ok()) return server;
  }
  return last;
}

RedisServer::~RedisServer() {
  if (process_ != nullptr) {
    Resume();
    (void)Stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

std::string RedisServer::url() const {
  return absl::StrCat("redis://127.0.0.1:", port_, "/0");
}

absl::Status RedisServer::Launch() {
  auto process = Subprocess::Start(
      {"redis-server", "--port", absl::StrCat(port_), "--bind", "127.0.0.1",
       "--save", "", "--appendonly", "no", "--dir", dir_, "--logfile", "",
       "--daemonize", "no", "--protected-mode", "no"});
  if (!process.ok()) return process.status();
  absl::StatusOr<std::string> ready = (*process)->WaitForLine(
      [](const std::string& line) {
        return absl::StrContains(line, "Ready to accept connections");
      },
      absl::Seconds(10));
  if (!ready.ok()) {
    return absl::UnavailableError(
        absl::StrCat("redis-server did not start: ", ready.status().message()));
  }
  process_ = *std::move(process);
  return absl::OkStatus();
}

absl::Status RedisServer::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  process_->Signal(SIGTERM);
  absl::StatusOr<int> code = process_->Wait(absl::Seconds(10));
  process_.reset();
  return code.ok() ? absl::OkStatus() : code.status();
}

absl::Status RedisServer::Restart() {
  if (process_ != nullptr) return absl::FailedPreconditionError("running");
  return Launch();
}

void RedisServer::Pause() {
  if (process_ != nullptr) process_->Signal(SIGSTOP);
}

void RedisServer::Resume() {
  if (process_ != nullptr) process_->Signal(SIGCONT);
}

}  // namespace makegood::testing
