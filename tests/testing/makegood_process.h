// File: tests/testing/makegood_process.h
//
// The built makegood binary as a child process, for end-to-end tests:
// started with the test's flags, waited for until it logs "serving", and its
// gRPC port read from that line.
//
// Example:
//   auto server = StartMakegood({MAKEGOOD_BINARY, "--listen=127.0.0.1:0",
//                                "--redis=" + redis->url(), ...});
//   ASSERT_TRUE(server.ok()) << server.status();
//   auto stubs = ConnectStubs(server->port);
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/testing/subprocess.h"

namespace makegood::testing {

struct MakegoodProcess {
  std::unique_ptr<Subprocess> process;
  int port = 0;  // Of the gRPC server, from the "serving" line.
};

// Starts `argv` (argv[0] the binary) with `env` overrides and waits up to
// `timeout` for its "serving" log line. An error carries what the process
// printed.
absl::StatusOr<MakegoodProcess> StartMakegood(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env = {},
    absl::Duration timeout = absl::Seconds(20));

}  // namespace makegood::testing
