// File: services/errors/errors.h
//
// The error model of the public API. Errors are absl::Status values all the
// way up; rich details travel as Status payloads (google.rpc.BadRequest for
// field violations, google.rpc.ErrorInfo for machine-readable reasons) and
// ToGrpcStatus() (grpc_status.h), the one place where absl meets gRPC, packs
// them into `grpc-status-details-bin` as a google.rpc.Status. This library
// does not link gRPC: the layers below the handlers build errors without it.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace makegood {

// The ErrorInfo domain of makegood's own reasons.
inline constexpr absl::string_view kErrorDomain = "makegood";

// One bad field of a request, e.g. {"order.lines[2].quantity", "must be ..."}.
struct FieldViolation {
  std::string field;
  std::string description;
};

// Accumulates violations while validating a request.
class Violations {
 public:
  void Add(std::string field, std::string description) {
    list_.push_back({std::move(field), std::move(description)});
  }
  bool empty() const { return list_.empty(); }
  const std::vector<FieldViolation>& list() const { return list_; }

  // OK when empty; else INVALID_ARGUMENT whose message lists every violation
  // and whose BadRequest payload carries them one by one.
  absl::Status ToStatus() const;

 private:
  std::vector<FieldViolation> list_;
};

// A status with a google.rpc.ErrorInfo{reason, domain "makegood"} payload, so
// callers can tell e.g. our RATE_LIMITED apart from gRPC's own
// RESOURCE_EXHAUSTED.
absl::Status ErrorWithReason(absl::StatusCode code, absl::string_view reason,
                             absl::string_view message);

// The reason attached by ErrorWithReason, or "" if none.
std::string ErrorReason(const absl::Status& status);

}  // namespace makegood
