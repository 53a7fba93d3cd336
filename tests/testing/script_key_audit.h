// File: tests/testing/script_key_audit.h
//
// Checks, from a redis-server's MONITOR log, the two rules Redis Cluster
// needs of every script (../shared/CLUSTER.md, "A trap"):
//   - a script touches only keys it was passed in KEYS: on a cluster, a key
//     it builds itself works while its slot happens to live on the same node
//     and fails after a reshard;
//   - one call's KEYS all hash to one slot (else CROSSSLOT).
// MONITOR prints a client's EVAL/EVALSHA before the commands its script runs
// (lines tagged "[<db> lua]"), and a script runs alone, so each lua line
// belongs to the EVAL before it.
//
// RedisServer (redis_server.h) records every test server's MONITOR log and
// fails the running test when the audit finds a violation, so every
// integration and end-to-end test audits the scripts it drives.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"

namespace makegood::testing {

// One MONITOR line split into its client ("127.0.0.1:5000", "lua") and its
// arguments, unquoted. False if `line` is not a command line.
bool ParseMonitorLine(absl::string_view line, std::string* client,
                      std::vector<std::string>* argv);

// The violations in `monitor_log` (the text MONITOR printed), one readable
// sentence each; empty when every script kept both rules.
std::vector<std::string> AuditScriptKeys(absl::string_view monitor_log);

}  // namespace makegood::testing
