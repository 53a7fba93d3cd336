// File: services/core/secret_file.h
//
// Reads a secret (an API key, a password) from a file, e.g. a mounted
// Kubernetes Secret: surrounding whitespace is dropped, and an empty or
// unreadable file is an error naming the path (never the contents).
//
// Thread-safety: a plain function.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace makegood {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path);

}  // namespace makegood
