#include "services/tools/loadgen/connections.h"

namespace makegood::loadgen {

using ::grpc::health::v1::HealthCheckRequest;
using ::grpc::health::v1::HealthCheckResponse;

bool WaitServing(Connections& connections, absl::Duration wait) {
  absl::Time give_up = absl::Now() + wait;
  if (!connections.WaitForConnected(wait)) return false;
  while (true) {
    grpc::ClientContext context;
    context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    HealthCheckResponse response;
    grpc::Status status =
        connections.Health(0).Check(&context, HealthCheckRequest(), &response);
    if (status.ok() && response.status() == HealthCheckResponse::SERVING) {
      return true;
    }
    if (absl::Now() > give_up) return false;
    absl::SleepFor(absl::Milliseconds(100));
  }
}

}  // namespace makegood::loadgen
