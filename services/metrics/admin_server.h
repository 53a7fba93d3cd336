// File: services/metrics/admin_server.h
//
// The admin HTTP listener: GET /metrics (Prometheus text format, gzip when
// asked) on an address of its own, apart from the gRPC port, so it can stay
// on the cluster network while the API is exposed, and so a slow scraper
// never competes with gRPC threads. Served by prometheus::Exposer (an
// embedded civetweb with two threads of its own); other paths answer 404.
//
// Example:
//   Metrics metrics;
//   absl::StatusOr<std::unique_ptr<AdminServer>> admin =
//       AdminServer::Start("0.0.0.0:9090", metrics);
//   if (!admin.ok()) { /* bad address or the port is taken */ }
//   ... (*admin)->port() ...
//   (*admin)->Stop();  // or let it go out of scope
//
// Thread-safety: Start/Stop/port from one thread; scrapes run on civetweb's
// threads (see Metrics::AddScrapeCallback).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/metrics/metrics.h"

namespace prometheus {
class Exposer;
}  // namespace prometheus

namespace makegood::metrics {

class AdminServer {
 public:
  // Serves `metrics` (which must outlive the server) on `listen`, an
  // "IPv4:port" such as "0.0.0.0:9090"; port 0 picks a free port (see
  // port()). IPv4 only: Debian's civetweb is built without IPv6. Returns
  // INVALID_ARGUMENT for another shape (a host name, IPv6, no port),
  // UNAVAILABLE when it cannot listen there (port in use, not a local
  // address).
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(
      absl::string_view listen, Metrics& metrics);

  // Stop().
  ~AdminServer();

  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The port listened on; 0 after Stop().
  int port() const { return port_; }

  // Stops listening and waits for scrapes in progress (milliseconds).
  // Idempotent.
  void Stop();

 private:
  AdminServer(std::unique_ptr<prometheus::Exposer> exposer, int port,
              std::string nudge_host);

  std::unique_ptr<prometheus::Exposer> exposer_;
  int port_ = 0;
  // A numeric host reaching the listener, for the nudges of Stop().
  std::string nudge_host_;
};

}  // namespace makegood::metrics
