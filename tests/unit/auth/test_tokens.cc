#include "tests/unit/auth/test_tokens.h"

#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <jwt/jwt.hpp>
#include <memory>
#include <system_error>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace makegood::auth::testing {
namespace {

std::string Pem(EVP_PKEY* key, bool private_key) {
  std::unique_ptr<BIO, int (*)(BIO*)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  int ok = private_key ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr,
                                                  nullptr, 0, nullptr, nullptr)
                       : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) return "";
  BUF_MEM* memory = nullptr;
  BIO_get_mem_ptr(bio.get(), &memory);
  return std::string(memory->data, memory->length);
}

KeyPair ToKeyPair(EVP_PKEY* key) {
  KeyPair pair{Pem(key, true), Pem(key, false)};
  EVP_PKEY_free(key);
  return pair;
}

}  // namespace

const KeyPair& RsaKeys() {
  static const KeyPair* const kKeys = new KeyPair(ToKeyPair(EVP_RSA_gen(2048)));
  return *kKeys;
}

const KeyPair& OtherRsaKeys() {
  static const KeyPair* const kKeys = new KeyPair(ToKeyPair(EVP_RSA_gen(2048)));
  return *kKeys;
}

const KeyPair& EcKeys() {
  static const KeyPair* const kKeys =
      new KeyPair(ToKeyPair(EVP_EC_gen("P-256")));
  return *kKeys;
}

std::string SignToken(absl::string_view alg, const std::string& key,
                      const nlohmann::json& claims,
                      const nlohmann::json& extra_header) {
  jwt::jwt_object token{
      jwt::params::algorithm(jwt::string_view(alg.data(), alg.size())),
      jwt::params::secret(key)};
  for (auto it = claims.begin(); it != claims.end(); ++it) {
    token.add_claim(it.key(), it.value());
  }
  for (auto it = extra_header.begin(); it != extra_header.end(); ++it) {
    token.header().add_header(it.key(), it.value());
  }
  std::error_code ec;
  std::string encoded = token.signature(ec);
  EXPECT_FALSE(ec) << ec.message();
  return encoded;
}

std::string Base64Url(absl::string_view data) {
  return absl::WebSafeBase64Escape(data);
}

TempDir::TempDir() {
  const char* base = std::getenv("TEST_TMPDIR");
  std::string pattern =
      absl::StrCat(base != nullptr ? base : "/tmp", "/makegood_auth_XXXXXX");
  if (mkdtemp(pattern.data()) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed for " << pattern;
  }
  path_ = pattern;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::Write(absl::string_view name,
                           absl::string_view contents) const {
  const std::string path = absl::StrCat(path_, "/", name);
  const std::string temporary = path + ".tmp";
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    EXPECT_TRUE(out.good()) << "cannot write " << temporary;
  }
  EXPECT_EQ(std::rename(temporary.c_str(), path.c_str()), 0)
      << "cannot rename " << temporary;
  return path;
}

}  // namespace makegood::auth::testing
