#include "services/core/clock.h"

#include "absl/time/clock.h"

namespace makegood {
namespace {

class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

}  // namespace

Clock& RealClock() {
  // Leaked on purpose: a trivially safe process-lifetime singleton.
  static SystemClock* const clock = new SystemClock();
  return *clock;
}

}  // namespace makegood
