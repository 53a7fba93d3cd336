// File: services/core/log.h
//
// Structured logging: one JSON object per line on stderr, e.g.
//   {"ts":"2026-11-22T10:00:00.123Z","level":"info","event":"redis_connected",
//    "addr":"127.0.0.1:6379"}
// Events are stable snake_case names; fields are explicit key/value pairs, so
// nothing is logged by accident (no free-form dumping of requests).
//
// Thread-safe and non-blocking: lines are formatted on the calling thread and
// written by a background thread, many per write(2), so a slow disk or pipe
// never stalls a request. If more than kMaxQueuedLogLines are waiting, new
// lines are dropped and counted (DroppedLogLines); FlushLogs() writes what is
// queued (call it before exiting).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <variant>

#include "absl/strings/string_view.h"

namespace makegood {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// A field value: text, integer, floating point or boolean.
class LogValue {
 public:
  LogValue(absl::string_view v) : value_(std::string(v)) {}
  LogValue(const std::string& v) : value_(v) {}
  LogValue(const char* v) : value_(std::string(v)) {}
  LogValue(int v) : value_(static_cast<int64_t>(v)) {}
  LogValue(int64_t v) : value_(v) {}
  LogValue(uint64_t v) : value_(static_cast<int64_t>(v)) {}
  LogValue(double v) : value_(v) {}
  LogValue(bool v) : value_(v) {}

  const std::variant<std::string, int64_t, double, bool>& value() const {
    return value_;
  }

 private:
  std::variant<std::string, int64_t, double, bool> value_;
};

using LogField = std::pair<absl::string_view, LogValue>;

// Lines below this level are dropped. Default kInfo. Call before threads start.
void SetMinLogLevel(LogLevel level);

// Parses "debug", "info", "warning" or "error".
bool ParseLogLevel(absl::string_view text, LogLevel* level);

inline constexpr size_t kMaxQueuedLogLines = 100000;

// Queues one JSON line for `event` with `fields`.
void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields = {});

// Blocks until every line queued so far is written.
void FlushLogs();

// Lines dropped because the queue was full.
uint64_t DroppedLogLines();

}  // namespace makegood
