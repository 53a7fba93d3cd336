// File: services/core/clock.h
//
// Time as an injected dependency. Only clock.cc reads the real clock; every
// component that needs "now" takes a Clock& so tests can use a fake one.
#pragma once

#include "absl/time/time.h"

namespace makegood {

// A source of the current time. Implementations must be thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The process-wide real clock (wall time). Never destroyed; thread-safe.
Clock& RealClock();

}  // namespace makegood
