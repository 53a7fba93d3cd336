#include "services/core/log.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"

namespace makegood {
namespace {

// Sends stderr to a temporary file for the lifetime of the object.
class CapturedStderr {
 public:
  // ctest runs each test in its own process, in parallel: the file is
  // per process, or one test's O_TRUNC empties another's capture.
  CapturedStderr()
      : path_(::testing::TempDir() + "/log_test_stderr." +
              std::to_string(getpid())) {
    fflush(stderr);
    saved_ = dup(STDERR_FILENO);
    int fd = open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(fd, STDERR_FILENO);
    close(fd);
  }
  ~CapturedStderr() {
    dup2(saved_, STDERR_FILENO);
    close(saved_);
    unlink(path_.c_str());
  }
  std::vector<std::string> Lines() const {
    std::ifstream in(path_);
    std::vector<std::string> lines;
    for (std::string line; std::getline(in, line);) lines.push_back(line);
    return lines;
  }

 private:
  std::string path_;
  int saved_;
};

TEST(Log, FlushWritesEveryLineWholeFromConcurrentThreads) {
  CapturedStderr captured;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 500;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t] {
      for (int i = 0; i < kPerThread; ++i) {
        Log(LogLevel::kInfo, "test_event",
            {{"thread", t}, {"i", i}, {"text", "quote \" and \\n newline"}});
      }
    });
  }
  for (auto& thread : threads) thread.join();
  FlushLogs();
  std::vector<std::string> lines = captured.Lines();
  ASSERT_EQ(lines.size(), static_cast<size_t>(kThreads * kPerThread));
  for (const std::string& line : lines) {
    nlohmann::json json = nlohmann::json::parse(line);  // Whole, valid JSON.
    EXPECT_EQ(json["event"], "test_event");
    EXPECT_EQ(json["text"], "quote \" and \\n newline");
  }
  EXPECT_EQ(DroppedLogLines(), 0u);
}

TEST(Log, LinesBelowTheMinimumLevelAreNotWritten) {
  CapturedStderr captured;
  SetMinLogLevel(LogLevel::kWarning);
  Log(LogLevel::kInfo, "quiet");
  Log(LogLevel::kError, "loud");
  SetMinLogLevel(LogLevel::kInfo);
  FlushLogs();
  std::vector<std::string> lines = captured.Lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("\"loud\""), std::string::npos);
}

}  // namespace
}  // namespace makegood
