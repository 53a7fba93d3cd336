// File: tests/unit/metrics/http_get.h
//
// A blocking HTTP GET over loopback for the metrics tests (libcurl), and the
// lines of a Prometheus text exposition, so tests can assert whole samples.
//
// Example:
//   absl::StatusOr<HttpResponse> got = HttpGet(port, "/metrics");
//   EXPECT_THAT(SampleLines(got->body), Contains("makegood_dead_letters 3"));
//
// Thread-safety: thread-compatible.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace makegood::metrics {

struct HttpResponse {
  long status = 0;
  std::string content_type;
  std::string body;
};

// GET http://127.0.0.1:<port><path> with a 5 s timeout. UNAVAILABLE when the
// request fails (e.g. connection refused).
absl::StatusOr<HttpResponse> HttpGet(int port, absl::string_view path);

// The sample lines of an exposition: every line but comments and blanks.
std::vector<std::string> SampleLines(absl::string_view exposition);

}  // namespace makegood::metrics
