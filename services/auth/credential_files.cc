#include "services/auth/credential_files.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/core/text.h"

namespace makegood::auth {
namespace {

std::array<unsigned char, kSha256Bytes> Sha256(absl::string_view bytes) {
  std::array<unsigned char, kSha256Bytes> digest{};
  unsigned int length = 0;
  // EVP_Digest with SHA-256 only fails on allocation failure; a zero digest
  // then matches no entry (entries come from 64 hex digits we parsed).
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &length,
                 EVP_sha256(), nullptr) != 1 ||
      length != kSha256Bytes) {
    digest.fill(0);
  }
  return digest;
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// Calls `entry(line_number, fields)` for every non-blank line after removing
// comments; stops at the first error, prefixed with "<source>: line <n>: ".
absl::Status ForEachEntry(
    absl::string_view contents, absl::string_view source,
    const std::function<
        absl::Status(int, const std::vector<absl::string_view>&)>& entry) {
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    if (size_t hash = line.find('#'); hash != absl::string_view::npos) {
      line = line.substr(0, hash);
    }
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty()) continue;
    if (absl::Status status = entry(line_number, fields); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": line ", line_number, ": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> ReadCredentialFile(const std::string& path,
                                               absl::string_view what) {
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"),
                                             &std::fclose);
  if (file == nullptr) {
    return absl::NotFoundError(absl::StrCat(
        what, " ", path, " cannot be read: ", std::strerror(errno)));
  }
  std::string content;
  char buffer[16384];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), file.get())) > 0) {
    content.append(buffer, n);
    if (content.size() > kMaxCredentialFileBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " ", path, " is larger than ",
                       kMaxCredentialFileBytes, " bytes"));
    }
  }
  if (std::ferror(file.get())) {
    return absl::UnavailableError(
        absl::StrCat(what, " ", path, " cannot be read"));
  }
  return content;
}

std::string Sha256Hex(absl::string_view bytes) {
  std::array<unsigned char, kSha256Bytes> digest = Sha256(bytes);
  return absl::BytesToHexString(absl::string_view(
      reinterpret_cast<const char*>(digest.data()), digest.size()));
}

std::string HashApiKey(absl::string_view key) { return Sha256Hex(key); }

std::string ApiKeyLine(absl::string_view key, absl::string_view principal_id,
                       RoleSet roles) {
  return absl::StrCat(HashApiKey(key), " ", principal_id, " ",
                      roles.ToString());
}

absl::StatusOr<ApiKeyTable> ApiKeyTable::Parse(absl::string_view contents,
                                               absl::string_view source) {
  ApiKeyTable table;
  // Digest (binary) -> line, to report repeated keys.
  absl::flat_hash_map<std::string, int> seen;
  absl::Status status = ForEachEntry(
      contents, source,
      [&](int line_number,
          const std::vector<absl::string_view>& fields) -> absl::Status {
        if (fields.size() != 3) {
          return absl::InvalidArgumentError(
              "expected \"<sha256-hex-of-key> <principal-id> "
              "<role>[,<role>...]\"");
        }
        // Never echo the field: it may be a raw key pasted by mistake.
        if (fields[0].size() != 2 * kSha256Bytes || !IsHex(fields[0])) {
          return absl::InvalidArgumentError(
              "the first field must be the 64 hex digits of the key's "
              "SHA-256 (printf %s \"$KEY\" | sha256sum), not the key");
        }
        if (!IsValidId(fields[1])) {
          return absl::InvalidArgumentError(
              "the principal id must be 1-128 characters of "
              "[A-Za-z0-9._:@-]");
        }
        absl::StatusOr<RoleSet> roles = ParseRoleList(fields[2]);
        if (!roles.ok()) return roles.status();
        std::string digest =
            absl::HexStringToBytes(absl::AsciiStrToLower(fields[0]));
        auto [it, inserted] = seen.emplace(digest, line_number);
        if (!inserted) {
          return absl::InvalidArgumentError(absl::StrCat(
              "the same key is already listed on line ", it->second));
        }
        ApiKeyEntry entry;
        std::memcpy(entry.digest.data(), digest.data(), kSha256Bytes);
        entry.principal_id = std::string(fields[1]);
        entry.roles = *roles;
        table.entries_.push_back(std::move(entry));
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return table;
}

const ApiKeyEntry* ApiKeyTable::Find(absl::string_view key) const {
  const std::array<unsigned char, kSha256Bytes> digest = Sha256(key);
  const ApiKeyEntry* found = nullptr;
  for (const ApiKeyEntry& entry : entries_) {
    // No early exit: the scan takes as long whether or not (and where) the
    // key matches.
    if (CRYPTO_memcmp(entry.digest.data(), digest.data(), kSha256Bytes) == 0) {
      found = &entry;
    }
  }
  return found;
}

absl::StatusOr<ClientTable> ClientTable::Parse(absl::string_view contents,
                                               absl::string_view source) {
  ClientTable table;
  absl::flat_hash_map<std::string, int> seen;
  absl::Status status = ForEachEntry(
      contents, source,
      [&](int line_number,
          const std::vector<absl::string_view>& fields) -> absl::Status {
        if (fields.size() != 2) {
          return absl::InvalidArgumentError(
              "expected \"<certificate-name> <role>[,<role>...]\"");
        }
        if (!IsValidId(fields[0])) {
          return absl::InvalidArgumentError(
              "the certificate name becomes the principal id, so it must be "
              "1-128 characters of [A-Za-z0-9._:@-]");
        }
        absl::StatusOr<RoleSet> roles = ParseRoleList(fields[1]);
        if (!roles.ok()) return roles.status();
        std::string name(fields[0]);
        auto [it, inserted] = seen.emplace(name, line_number);
        if (!inserted) {
          return absl::InvalidArgumentError(absl::StrCat(
              "\"", name, "\" is already listed on line ", it->second));
        }
        table.entries_.emplace(name, ClientEntry{name, *roles});
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return table;
}

const ClientEntry* ClientTable::Find(absl::string_view name) const {
  auto it = entries_.find(name);
  return it == entries_.end() ? nullptr : &it->second;
}

}  // namespace makegood::auth
