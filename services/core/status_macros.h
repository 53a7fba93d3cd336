// File: services/core/status_macros.h
//
// Early-return helpers for absl::Status / absl::StatusOr<T>. Abseil 20220623
// (Debian 12) does not ship RETURN_IF_ERROR / ASSIGN_OR_RETURN, so these are
// ours.
//
// Example:
//   absl::StatusOr<Order> LoadOrder(...) {
//     MAKEGOOD_RETURN_IF_ERROR(Validate(request));
//     MAKEGOOD_ASSIGN_OR_RETURN(std::string bytes, Fetch(key));
//     ...
//   }
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define MAKEGOOD_RETURN_IF_ERROR(expr)                          \
  do {                                                          \
    if (::absl::Status _mg_status = (expr); !_mg_status.ok()) { \
      return _mg_status;                                        \
    }                                                           \
  } while (false)

#define MAKEGOOD_STATUS_CONCAT_INNER(a, b) a##b
#define MAKEGOOD_STATUS_CONCAT(a, b) MAKEGOOD_STATUS_CONCAT_INNER(a, b)

#define MAKEGOOD_ASSIGN_OR_RETURN(lhs, expr) \
  MAKEGOOD_ASSIGN_OR_RETURN_IMPL(            \
      MAKEGOOD_STATUS_CONCAT(_mg_statusor_, __LINE__), lhs, expr)

#define MAKEGOOD_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) {                                     \
    return std::move(statusor).status();                    \
  }                                                         \
  lhs = std::move(statusor).value()
