// File: tests/unit/auth/test_tokens.h
//
// Test helpers: signing keys made with OpenSSL and JWTs signed with
// libcpp-jwt itself (so the tests check our verifier against the library's
// own encoder, not against tokens we assembled by hand), plus a temporary
// directory for key and credential files.
//
// Example:
//   const KeyPair& rsa = RsaKeys();
//   std::string token = SignToken("RS256", rsa.private_pem,
//                                 {{"sub", "app-1"}, {"exp", 1900000000}});
//
// Thread-safety: RsaKeys()/EcKeys() are thread-safe; the rest are plain
// functions.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace makegood::auth::testing {

struct KeyPair {
  std::string private_pem;
  std::string public_pem;  // "PUBLIC KEY" (SubjectPublicKeyInfo)
};

// A 2048-bit RSA key pair and a P-256 EC key pair, each made once per
// process (RSA generation takes a while).
const KeyPair& RsaKeys();
const KeyPair& EcKeys();
// A second, unrelated RSA key pair (for "signed by someone else").
const KeyPair& OtherRsaKeys();

// A token with header {"alg": alg, "typ": "JWT"} and `claims`, signed by
// libcpp-jwt with `key` (HMAC secret or private key PEM; ignored for
// "none"). `extra_header` fields are added to the header.
std::string SignToken(
    absl::string_view alg, const std::string& key, const nlohmann::json& claims,
    const nlohmann::json& extra_header = nlohmann::json::object());

// base64url (no padding) of `data`, for hand-made malicious tokens.
std::string Base64Url(absl::string_view data);

// A fresh directory under $TEST_TMPDIR or /tmp; removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `contents` to path()/name atomically (write, then rename) and
  // returns the full path.
  std::string Write(absl::string_view name, absl::string_view contents) const;

 private:
  std::string path_;
};

}  // namespace makegood::auth::testing
