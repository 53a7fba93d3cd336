// File: tests/testing/subprocess.h
//
// Runs a child process for tests, with its stdout and stderr merged into one
// pipe that the test reads line by line (to wait for readiness messages
// instead of sleeping).
//
// Thread-safety: not thread-safe; one test thread owns a Subprocess.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace makegood::testing {

class Subprocess {
 public:
  // Starts argv[0] (looked up in PATH) with the current environment plus
  // `env` overrides.
  static absl::StatusOr<std::unique_ptr<Subprocess>> Start(
      const std::vector<std::string>& argv,
      const std::map<std::string, std::string>& env = {});

  // Kills (SIGKILL) and reaps the child if still running.
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Reads output lines until one satisfies `match` (returns it), the child
  // closes its output, or `timeout` passes. Every line read is kept in
  // output().
  absl::StatusOr<std::string> WaitForLine(
      const std::function<bool(const std::string&)>& match,
      absl::Duration timeout);

  // Sends a signal.
  void Signal(int signal);

  // Waits for exit (reading remaining output); returns the exit code, or
  // 128 + signal if killed. DEADLINE_EXCEEDED after `timeout`.
  absl::StatusOr<int> Wait(absl::Duration timeout);

  // All output read so far.
  const std::string& output() const { return output_; }

 private:
  Subprocess(pid_t pid, int fd) : pid_(pid), fd_(fd) {}
  enum class ReadResult { kData, kNothing, kEnd };
  // Reads what arrives within `timeout`.
  ReadResult ReadSome(absl::Duration timeout);

  pid_t pid_;
  int fd_;
  bool exited_ = false;
  int exit_code_ = 0;
  std::string output_;
  size_t consumed_ = 0;  // Offset of the first line not yet matched.
};

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr, merged.
};

// Runs a command to completion (killed after `timeout`).
absl::StatusOr<CommandResult> RunCommand(
    const std::vector<std::string>& argv,
    absl::Duration timeout = absl::Seconds(30));

// A TCP port on 127.0.0.1 that was free a moment ago.
absl::StatusOr<int> PickFreePort();

}  // namespace makegood::testing
