// File: tests/testing/grpc_status.cc
#include "tests/testing/grpc_status.h"

#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"

namespace makegood::testing {

std::string ErrorReason(const grpc::Status& status) {
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return "";
  for (const auto& any : details.details()) {
    google::rpc::ErrorInfo info;
    if (any.UnpackTo(&info)) return info.reason();
  }
  return "";
}

std::vector<std::pair<std::string, std::string>> FieldViolations(
    const grpc::Status& status) {
  std::vector<std::pair<std::string, std::string>> out;
  google::rpc::Status details;
  if (!details.ParseFromString(status.error_details())) return out;
  for (const auto& any : details.details()) {
    google::rpc::BadRequest bad;
    if (!any.UnpackTo(&bad)) continue;
    for (const auto& v : bad.field_violations()) {
      out.emplace_back(v.field(), v.description());
    }
  }
  return out;
}

std::vector<std::string> ViolatedFields(const grpc::Status& status) {
  std::vector<std::string> fields;
  for (auto& [field, description] : FieldViolations(status)) {
    fields.push_back(std::move(field));
  }
  return fields;
}

}  // namespace makegood::testing
