#include "tests/testing/redis_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/script_key_audit.h"

namespace makegood::testing {

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start() {
  return Start({});
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::Start(
    std::vector<std::string> extra_args) {
  char dir_template[] = "/tmp/makegood-redis-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  return StartIn(dir_template, extra_args, /*sentinel=*/false);
}

namespace {

bool PortIsFree(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool free =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return free;
}

// A free port whose cluster bus port (+10000) is free as well.
absl::StatusOr<int> PickFreeClusterPort() {
  for (int attempt = 0; attempt < 200; ++attempt) {
    absl::StatusOr<int> port = PickFreePort();
    if (!port.ok()) return port;
    if (*port + 10000 > 65535) continue;
    if (PortIsFree(*port + 10000)) return *port;
  }
  return absl::UnavailableError("no free port pair for a cluster node");
}

}  // namespace

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::StartClusterNode(
    std::vector<std::string> extra_args) {
  char dir_template[] = "/tmp/makegood-cluster-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  std::vector<std::string> args = {"--cluster-enabled", "yes",
                                   "--cluster-config-file", "nodes.conf"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  return StartIn(dir_template, args, /*sentinel=*/false, &PickFreeClusterPort);
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::StartSentinel(
    const std::string& config) {
  char dir_template[] = "/tmp/makegood-sentinel-XXXXXX";
  if (mkdtemp(dir_template) == nullptr) {
    return absl::InternalError("mkdtemp failed");
  }
  std::string path = absl::StrCat(dir_template, "/sentinel.conf");
  std::ofstream file(path);
  file << config;
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", path));
  return StartIn(dir_template, {}, /*sentinel=*/true);
}

absl::StatusOr<std::unique_ptr<RedisServer>> RedisServer::StartIn(
    const std::string& dir, const std::vector<std::string>& extra_args,
    bool sentinel, absl::StatusOr<int> (*pick_port)()) {
  // A port picked free can be taken before redis binds it: try a few.
  absl::Status last = absl::OkStatus();
  for (int attempt = 0; attempt < 5; ++attempt) {
    absl::StatusOr<int> port = pick_port();
    if (!port.ok()) return port.status();
    std::unique_ptr<RedisServer> server(
        new RedisServer(*port, dir, extra_args, sentinel));
    last = server->Launch();
    if (last.ok()) return server;
    server->dir_.clear();  // Kept for the next attempt.
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return last;
}

RedisServer::~RedisServer() {
  if (process_ != nullptr) {
    Resume();
    (void)Stop();
  }
  StopMonitor();
  if (key_audit_) {
    for (const std::string& violation : AuditScriptKeys()) {
      ADD_FAILURE() << "Redis Cluster script rule broken: " << violation;
    }
  }
  if (!dir_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string RedisServer::url() const {
  return absl::StrCat("redis://127.0.0.1:", port_, "/0");
}

absl::Status RedisServer::Launch() {
  std::vector<std::string> argv = {"redis-server"};
  if (sentinel_) {
    argv.insert(argv.end(),
                {absl::StrCat(dir_, "/sentinel.conf"), "--sentinel"});
  }
  argv.insert(argv.end(), {"--port", absl::StrCat(port_), "--bind", "127.0.0.1",
                           "--dir", dir_, "--logfile", "", "--daemonize", "no",
                           "--protected-mode", "no"});
  if (!sentinel_) {
    // Keyspace notifications of stream writes, as production's Redis has
    // them: the stream readers wait for them instead of blocking reads.
    argv.insert(argv.end(), {"--save", "", "--appendonly", "no",
                             "--notify-keyspace-events", "Kt"});
  }
  argv.insert(argv.end(), extra_args_.begin(), extra_args_.end());
  auto process = Subprocess::Start(argv);
  if (!process.ok()) return process.status();
  // A sentinel does not print "Ready to accept connections"; it prints its
  // id once listening.
  const absl::string_view ready_line =
      sentinel_ ? "Sentinel ID is" : "Ready to accept connections";
  absl::StatusOr<std::string> ready = (*process)->WaitForLine(
      [ready_line](const std::string& line) {
        return absl::StrContains(line, ready_line);
      },
      absl::Seconds(10));
  if (!ready.ok()) {
    return absl::UnavailableError(
        absl::StrCat("redis-server did not start: ", ready.status().message()));
  }
  process_ = *std::move(process);
  const bool replica = std::find(extra_args_.begin(), extra_args_.end(),
                                 "--replicaof") != extra_args_.end();
  if (!sentinel_ && !replica) StartMonitor();
  return absl::OkStatus();
}

void RedisServer::StartMonitor() {
  StopMonitor();
  const std::string log =
      absl::StrCat(dir_, "/monitor.", monitor_logs_.size(), ".log");
  auto monitor = Subprocess::Start(
      {"sh", "-c",
       absl::StrCat("exec redis-cli -p ", port_, " monitor > ", log, " 2>&1")});
  if (!monitor.ok()) return;  // No audit for this run; the test goes on.
  monitor_logs_.push_back(log);
  monitor_ = *std::move(monitor);
  // MONITOR answers OK once attached: wait for it, so no command is missed.
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (absl::Now() < deadline) {
    std::ifstream in(log);
    std::string first;
    if (std::getline(in, first) && absl::StrContains(first, "OK")) return;
    absl::SleepFor(absl::Milliseconds(2));
  }
}

void RedisServer::StopMonitor() {
  if (monitor_ == nullptr) return;
  // Lets it write what the server already sent before it goes.
  absl::SleepFor(absl::Milliseconds(20));
  monitor_->Signal(SIGTERM);
  (void)monitor_->Wait(absl::Seconds(5));
  monitor_.reset();
}

std::vector<std::string> RedisServer::AuditScriptKeys() const {
  std::vector<std::string> violations;
  for (const std::string& log : monitor_logs_) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    for (std::string& v : testing::AuditScriptKeys(text.str())) {
      violations.push_back(std::move(v));
    }
  }
  return violations;
}

absl::Status RedisServer::Stop() {
  if (process_ == nullptr) return absl::OkStatus();
  StopMonitor();
  process_->Signal(SIGTERM);
  absl::StatusOr<int> code = process_->Wait(absl::Seconds(10));
  process_.reset();
  return code.ok() ? absl::OkStatus() : code.status();
}

absl::Status RedisServer::Kill() {
  if (process_ == nullptr) return absl::OkStatus();
  StopMonitor();
  process_->Signal(SIGKILL);
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
