#include "services/core/log.h"

#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"
#include "services/core/clock.h"

namespace makegood {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

// The background writer: callers append formatted lines; one thread writes
// them to stderr in batches. Process-lifetime (never destroyed), started on
// first use.
class Writer {
 public:
  static Writer& Get() {
    static Writer* const writer = new Writer();
    return *writer;
  }

  void Enqueue(std::string line) {
    absl::MutexLock lock(&mu_);
    if (queued_lines_ >= kMaxQueuedLogLines) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pending_.append(line);
    ++queued_lines_;
    ++enqueued_;
  }

  void Flush() {
    absl::MutexLock lock(&mu_);
    flush_requested_ = true;
    struct Wait {
      const uint64_t* written;
      uint64_t target;
    } wait{&written_, enqueued_};
    mu_.Await(absl::Condition(
        +[](Wait* w) { return *w->written >= w->target; }, &wait));
  }

  uint64_t dropped() const { return dropped_.load(std::memory_order_relaxed); }

 private:
  Writer() {
    std::thread([this] { Run(); }).detach();
  }

  void Run() {
    std::string batch;
    while (true) {
      uint64_t lines;
      {
        // Wake every kBatchInterval, when many lines wait, or on Flush():
        // waking per line would cost a context switch per request.
        absl::MutexLock lock(&mu_);
        mu_.AwaitWithTimeout(absl::Condition(this, &Writer::Urgent),
                             kBatchInterval);
        flush_requested_ = false;
        batch.swap(pending_);
        lines = queued_lines_;
        queued_lines_ = 0;
      }
      if (lines == 0) continue;
      size_t offset = 0;
      while (offset < batch.size()) {
        ssize_t n = ::write(STDERR_FILENO, batch.data() + offset,
                            batch.size() - offset);
        if (n <= 0) break;  // Nowhere to write: drop the batch.
        offset += static_cast<size_t>(n);
      }
      batch.clear();
      absl::MutexLock lock(&mu_);
      written_ += lines;
    }
  }

  static constexpr absl::Duration kBatchInterval = absl::Milliseconds(20);
  static constexpr size_t kUrgentLines = 4096;

  bool Urgent() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return flush_requested_ || queued_lines_ >= kUrgentLines;
  }

  absl::Mutex mu_;
  bool flush_requested_ ABSL_GUARDED_BY(mu_) = false;
  std::string pending_ ABSL_GUARDED_BY(mu_);
  size_t queued_lines_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t enqueued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<uint64_t> dropped_{0};
};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

}  // namespace

void SetMinLogLevel(LogLevel level) {
  min_level.store(static_cast<int>(level), std::memory_order_relaxed);
}

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  for (LogLevel l : {LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarning,
                     LogLevel::kError}) {
    if (text == LevelName(l)) {
      *level = l;
      return true;
    }
  }
  return false;
}

void Log(LogLevel level, absl::string_view event,
         std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) {
    return;
  }
  nlohmann::ordered_json line;
  line["ts"] = absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", RealClock().Now(),
                                absl::UTCTimeZone());
  line["level"] = LevelName(level);
  line["event"] = std::string(event);
  for (const auto& [key, value] : fields) {
    std::visit([&line, k = std::string(key)](const auto& v) { line[k] = v; },
               value.value());
  }
  std::string text =
      line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  text.push_back('\n');
  Writer::Get().Enqueue(std::move(text));
}

void FlushLogs() { Writer::Get().Flush(); }

uint64_t DroppedLogLines() { return Writer::Get().dropped(); }

}  // namespace makegood
