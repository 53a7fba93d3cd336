#include "services/metrics/admin_server.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <exception>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "prometheus/exposer.h"

namespace makegood::metrics {
namespace {

// "a.b.c.d:port" with a numeric port. civetweb reads other shapes (a bare
// port, "s"/"r" suffixes for TLS and redirects) differently, and Debian's
// civetweb is built without IPv6 and resolves no host names.
bool IsListenAddress(absl::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == absl::string_view::npos) return false;
  std::string host(listen.substr(0, colon));
  absl::string_view port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5) return false;
  for (char c : port) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  int number = 0;
  in_addr ip{};
  return absl::SimpleAtoi(port, &number) && number <= 65535 &&
         inet_pton(AF_INET, host.c_str(), &ip) == 1;
}

// The address Stop() connects to: the listen IP, or loopback for 0.0.0.0.
std::string NudgeHost(absl::string_view listen) {
  absl::string_view host = listen.substr(0, listen.rfind(':'));
  return host == "0.0.0.0" ? "127.0.0.1" : std::string(host);
}

// Opens and closes a TCP connection to host:port; errors are ignored (the
// listener may be gone already).
void Nudge(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  std::string service = absl::StrCat(port);
  if (getaddrinfo(host.c_str(), service.c_str(), &hints, &found) != 0) return;
  int fd = socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)connect(fd, found->ai_addr, found->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(found);
}

}  // namespace

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(
    absl::string_view listen, Metrics& metrics) {
  if (!IsListenAddress(listen)) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin listen address \"", listen,
                     "\" is not IPv4:port, e.g. 0.0.0.0:9090"));
  }
  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    // civetweb reports failure to bind by throwing from its constructor.
    exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", std::string(listen), "num_threads", "2",
        // A stuck scraper must not hold one of the two threads for long.
        "request_timeout_ms", "10000"});
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        "cannot listen on ", listen,
        " for the admin server (port in use or not a local address?): ",
        e.what()));
  }
  std::vector<int> ports = exposer->GetListeningPorts();
  if (ports.empty() || ports[0] <= 0) {
    return absl::UnavailableError(
        absl::StrCat("the admin server is not listening on ", listen));
  }
  exposer->RegisterCollectable(metrics.collectable());
  return std::unique_ptr<AdminServer>(
      new AdminServer(std::move(exposer), ports[0], NudgeHost(listen)));
}

AdminServer::AdminServer(std::unique_ptr<prometheus::Exposer> exposer, int port,
                         std::string nudge_host)
    : exposer_(std::move(exposer)),
      port_(port),
      nudge_host_(std::move(nudge_host)) {}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::Stop() {
  if (exposer_ == nullptr) return;
  // civetweb 1.15's listener thread waits for connections in 2 s polls and
  // looks at its stop flag only between them, so stopping would take up to
  // 2 s. Connections wake it: nudge it until it has stopped.
  absl::Notification stopped;
  std::thread nudger([this, &stopped] {
    while (!stopped.WaitForNotificationWithTimeout(absl::Milliseconds(5))) {
      Nudge(nudge_host_, port_);
    }
  });
  exposer_.reset();  // Stops civetweb and joins its threads.
  stopped.Notify();
  nudger.join();
  port_ = 0;
}

}  // namespace makegood::metrics
