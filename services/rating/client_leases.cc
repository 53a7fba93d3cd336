#include "services/rating/client_leases.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace makegood::rating {

ClientLeases::ClientLeases(absl::Duration lifetime, size_t max_clients)
    : lifetime_(lifetime), max_clients_(max_clients) {}

int64_t ClientLeases::LeaseSize(const LimitSpec& spec) {
  if (!spec.enabled() || spec.shadow) return 1;
  const double fifty_ms = std::ceil(spec.rate_per_second / 20.0);
  const int64_t quarter_burst = spec.burst / 4;
  const int64_t size = fifty_ms >= static_cast<double>(quarter_burst)
                           ? quarter_burst
                           : static_cast<int64_t>(fifty_ms);
  return std::max<int64_t>(1, size);
}

std::optional<RateLimitReply> ClientLeases::TryTake(absl::string_view client,
                                                    absl::Time now) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(client);
  if (it == leases_.end()) return std::nullopt;
  Lease& lease = it->second;
  if (lease.cells <= 0 || now > lease.lapses) return std::nullopt;
  --lease.cells;
  const int64_t elapsed_ms = absl::ToInt64Milliseconds(now - lease.leased_at);
  return RateLimitReply{
      .allowed = true,
      .would_reject = false,
      .remaining = lease.remaining + lease.cells,
      .retry_after_ms = 0,
      .reset_ms = std::max<int64_t>(0, lease.reset_ms - elapsed_ms),
      .granted = 1};
}

int64_t ClientLeases::BeginLease(absl::string_view client,
                                 const LimitSpec& spec) {
  absl::MutexLock lock(&mu_);
  Lease& lease = leases_[client];
  return lease.in_flight++ > 0 ? 1 : LeaseSize(spec);
}

RateLimitReply ClientLeases::OnLeased(absl::string_view client,
                                      const RateLimitReply& reply,
                                      absl::Time now) {
  absl::MutexLock lock(&mu_);
  Lease& lease = leases_[client];
  lease.in_flight = std::max(0, lease.in_flight - 1);
  if (now > lease.lapses) lease.cells = 0;
  if (reply.granted > 0) {
    lease.cells += reply.granted;
    lease.lapses = now + lifetime_;
    lease.leased_at = now;
    lease.remaining = reply.remaining;
    lease.reset_ms = reply.reset_ms;
  }
  RateLimitReply answer = reply;
  if (lease.cells > 0) {
    --lease.cells;
    answer.allowed = true;
    // Refused by Redis but served from a lease that landed meanwhile: the
    // request is within the limit.
    if (reply.granted == 0) answer.would_reject = false;
    answer.remaining = lease.remaining + lease.cells;
    answer.retry_after_ms = 0;
  }
  ForgetIdle(now);
  return answer;
}

void ClientLeases::OnLeaseFailed(absl::string_view client) {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(client);
  if (it != leases_.end()) {
    it->second.in_flight = std::max(0, it->second.in_flight - 1);
  }
}

int64_t ClientLeases::CellsHeld(absl::string_view client,
                                absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto it = leases_.find(client);
  if (it == leases_.end() || now > it->second.lapses) return 0;
  return it->second.cells;
}

void ClientLeases::ForgetIdle(absl::Time now) {
  if (leases_.size() <= max_clients_) return;
  absl::erase_if(leases_, [now](const auto& entry) {
    const Lease& lease = entry.second;
    return lease.in_flight == 0 && (lease.cells == 0 || now > lease.lapses);
  });
}

}  // namespace makegood::rating
