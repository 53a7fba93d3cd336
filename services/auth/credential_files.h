// File: services/auth/credential_files.h
//
// The two files that map credentials to principals, both mounted from
// Kubernetes Secrets, one entry per line, `#` starts a comment, fields are
// separated by spaces or tabs:
//
//   API keys file (--api_keys_file), for `x-api-key` callers:
//     <sha256-hex-of-key> <principal-id> <role>[,<role>...]
//     e.g. 9f86d081...0f00a08 app-backend-eu app-backend
//   Keys are never stored in clear: a line holds the SHA-256 of the key, made
//   with `printf %s "$KEY" | sha256sum` or ApiKeyLine(). Several keys may map
//   to one principal (rotation: add the new key, roll clients, drop the old).
//
//   Clients file (--tls_clients_file), for mutual-TLS callers:
//     <certificate-name> <role>[,<role>...]
//     e.g. orders.internal order-system
//   The name is matched against the verified client certificate's subject
//   alternative names, then its common name; it becomes the principal id.
//
// Parse errors name the file and the line, never echo a line's content (a
// pasted raw key must not end up in a log).
//
// Example:
//   MAKEGOOD_ASSIGN_OR_RETURN(std::string text,
//                             ReadCredentialFile(path, "api_keys_file"));
//   MAKEGOOD_ASSIGN_OR_RETURN(ApiKeyTable keys,
//                             ApiKeyTable::Parse(text, "api_keys_file " +
//                             path));
//   if (const ApiKeyEntry* entry = keys.Find(presented_key)) ...
//
// Thread-safety: tables are immutable after Parse; const use is thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/auth/role.h"

namespace makegood::auth {

inline constexpr size_t kSha256Bytes = 32;

// Credential files are small; anything larger is refused.
inline constexpr size_t kMaxCredentialFileBytes = 1 << 20;

// The whole file at `path`. Errors name `what` (e.g. "api_keys_file") and the
// path: NOT_FOUND if it cannot be opened, INVALID_ARGUMENT if too large.
absl::StatusOr<std::string> ReadCredentialFile(const std::string& path,
                                               absl::string_view what);

// Lower-case hex SHA-256 of `bytes`.
std::string Sha256Hex(absl::string_view bytes);

// Sha256Hex(key): the first field of a keys-file line.
std::string HashApiKey(absl::string_view key);

// A complete keys-file line for `key`, e.g. for an admin tool or the docs.
std::string ApiKeyLine(absl::string_view key, absl::string_view principal_id,
                       RoleSet roles);

struct ApiKeyEntry {
  std::array<unsigned char, kSha256Bytes> digest;
  std::string principal_id;
  RoleSet roles;
};

class ApiKeyTable {
 public:
  ApiKeyTable() = default;

  // Parses a keys file. `source` prefixes error messages ("api_keys_file
  // /etc/keys"). INVALID_ARGUMENT names the line of a malformed entry, a bad
  // principal id, an unknown role or a repeated key.
  static absl::StatusOr<ApiKeyTable> Parse(absl::string_view contents,
                                           absl::string_view source);

  // The entry whose digest is SHA-256(`key`), or nullptr. Every entry is
  // compared, each in constant time, so timing does not tell how close a
  // guess came.
  const ApiKeyEntry* Find(absl::string_view key) const;

  size_t size() const { return entries_.size(); }

 private:
  std::vector<ApiKeyEntry> entries_;
};

struct ClientEntry {
  std::string name;
  RoleSet roles;
};

class ClientTable {
 public:
  ClientTable() = default;

  // Parses a clients file; errors as ApiKeyTable::Parse.
  static absl::StatusOr<ClientTable> Parse(absl::string_view contents,
                                           absl::string_view source);

  // The entry for certificate name `name`, or nullptr.
  const ClientEntry* Find(absl::string_view name) const;

  size_t size() const { return entries_.size(); }

 private:
  absl::flat_hash_map<std::string, ClientEntry> entries_;
};

}  // namespace makegood::auth
