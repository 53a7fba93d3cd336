// File: tests/fuzz/fuzz_check.h
//
// FUZZ_CHECK(condition) << "context": a property every input must satisfy.
// On failure it prints the condition, the location and the context, then
// aborts, so libFuzzer keeps the input as a crash file (crash-<sha1>).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>

namespace makegood::fuzz {

class CheckFailure {
 public:
  CheckFailure(const char* condition, const char* file, int line) {
    stream_ << file << ":" << line << ": property violated: " << condition
            << ": ";
  }
  [[noreturn]] ~CheckFailure() {
    stream_ << "\n";
    const std::string text = stream_.str();  // May hold NUL bytes.
    std::fwrite(text.data(), 1, text.size(), stderr);
    std::fflush(stderr);
    std::abort();
  }
  CheckFailure(const CheckFailure&) = delete;
  CheckFailure& operator=(const CheckFailure&) = delete;

  template <typename T>
  CheckFailure& operator<<(const T& value) {
    stream_ << value;
    return *this;
  }

 private:
  std::ostringstream stream_;
};

}  // namespace makegood::fuzz

// A loop, not an if, so that FUZZ_CHECK(x) << y; inside an if/else needs no
// braces; the body never ends (CheckFailure aborts).
#define FUZZ_CHECK(condition) \
  while (!(condition))        \
  ::makegood::fuzz::CheckFailure(#condition, __FILE__, __LINE__)
