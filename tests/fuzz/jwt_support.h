// File: tests/fuzz/jwt_support.h
//
// Token making and an independent check for the auth fuzzers: HS256 tokens
// signed here with OpenSSL's HMAC (not with the library under test), a P-256
// public key for the algorithm-confusion cases, and IsSignedBy(), which
// recomputes a token's HMAC itself: anything the verifier accepts must pass
// it.
#pragma once

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>

#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "tests/fuzz/fuzz_check.h"

namespace makegood::fuzz {

// The HS256 secret the verifiers under test are configured with.
inline constexpr absl::string_view kJwtSecret =
    "fuzz-secret-0123456789abcdef-0123456789abcdef";
inline constexpr absl::string_view kJwtIssuer = "https://login.example.com/";
inline constexpr absl::string_view kJwtAudience = "makegood";
// The verifiers' clock (2030-03-17) and leeway.
inline const absl::Time kJwtNow = absl::FromUnixSeconds(1900000000);
inline constexpr int64_t kJwtNowSeconds = 1900000000;
inline constexpr int64_t kJwtLeewaySeconds = 30;

inline std::string Base64Url(absl::string_view data) {
  return absl::WebSafeBase64Escape(data);  // No padding.
}

inline std::string HmacSha256(absl::string_view key, absl::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  FUZZ_CHECK(HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
                  reinterpret_cast<const unsigned char*>(data.data()),
                  data.size(), out, &length) != nullptr);
  return std::string(reinterpret_cast<const char*>(out), length);
}

// header.payload.signature with HMAC-SHA256 under `key`.
inline std::string SignHs256(absl::string_view header_json,
                             absl::string_view payload_json,
                             absl::string_view key) {
  std::string input =
      absl::StrCat(Base64Url(header_json), ".", Base64Url(payload_json));
  return absl::StrCat(input, ".", Base64Url(HmacSha256(key, input)));
}

// True if `token` is header.payload.signature and the signature is the
// HMAC-SHA256 under `key` of "header.payload" (base64url, padding allowed).
inline bool IsSignedBy(absl::string_view token, absl::string_view key) {
  size_t last_dot = token.rfind('.');
  if (last_dot == absl::string_view::npos) return false;
  std::string signature;
  if (!absl::WebSafeBase64Unescape(token.substr(last_dot + 1), &signature)) {
    return false;
  }
  return signature == HmacSha256(key, token.substr(0, last_dot));
}

// The decoded header of `token` (first part), or "" if it does not decode.
inline std::string DecodedPart(absl::string_view token, int index) {
  size_t start = 0;
  for (int i = 0; i < index; ++i) {
    start = token.find('.', start);
    if (start == absl::string_view::npos) return "";
    ++start;
  }
  size_t end = token.find('.', start);
  std::string out;
  absl::WebSafeBase64Unescape(token.substr(start, end - start), &out);
  return out;
}

// A fresh P-256 public key as a "PUBLIC KEY" PEM (made once per process).
inline const std::string& EcPublicPem() {
  static const std::string* pem = [] {
    EVP_PKEY* key = EVP_EC_gen("P-256");
    FUZZ_CHECK(key != nullptr);
    BIO* bio = BIO_new(BIO_s_mem());
    FUZZ_CHECK(PEM_write_bio_PUBKEY(bio, key) == 1);
    char* data = nullptr;
    long length = BIO_get_mem_data(bio, &data);
    auto* text = new std::string(data, static_cast<size_t>(length));
    BIO_free(bio);
    EVP_PKEY_free(key);
    return text;
  }();
  return *pem;
}

}  // namespace makegood::fuzz
