// File: tests/fuzz/auth_headers_fuzzer.cc
//
// Authenticator::Authenticate on any call metadata: up to five headers whose
// names are mostly `authorization`, `x-api-key` and `x-client-id` and whose
// values are fuzzed, or well-formed credentials with fuzzed variations. Two
// authenticators, both configured with an HS256 JWT secret and an API keys
// file holding two keys: a secure one and one in insecure development mode.
// Properties (authenticator.h):
//   - a principal comes from exactly one credential, and only from a real
//     one: a JWT (the only authorization header, "Bearer " + a token whose
//     HMAC under the secret we recompute) naming `sub`, or an API key (the
//     only x-api-key header, exactly one of the configured keys) naming its
//     principal and roles;
//   - the secure authenticator never takes an identity from x-client-id or
//     from nothing;
//   - the insecure one does only when no credential is presented at all,
//     and then only a valid id; a presented credential is always checked;
//   - failures are UNAUTHENTICATED (INVALID_ARGUMENT for a malformed
//     x-client-id in insecure mode); never a crash.
#include <fuzzer/FuzzedDataProvider.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "grpcpp/support/string_ref.h"
#include "nlohmann/json.hpp"
#include "services/auth/authenticator.h"
#include "services/auth/credential_files.h"
#include "services/auth/role.h"
#include "services/core/clock.h"
#include "services/core/text.h"
#include "tests/fuzz/fuzz_check.h"
#include "tests/fuzz/jwt_support.h"

namespace {

namespace auth = makegood::auth;
namespace fz = makegood::fuzz;

constexpr absl::string_view kKeys[] = {"mg-key-app-0123456789abcdef",
                                       "mg-key-agent-fedcba9876543210"};
constexpr absl::string_view kKeyPrincipals[] = {"app-1", "agent-7"};

class FixedClock final : public makegood::Clock {
 public:
  absl::Time Now() const override { return fz::kJwtNow; }
};

std::string WriteFile(const std::string& dir, const std::string& name,
                      const std::string& contents) {
  std::string path = absl::StrCat(dir, "/", name);
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  return path;
}

struct Setup {
  FixedClock clock;
  std::unique_ptr<auth::Authenticator> secure;
  std::unique_ptr<auth::Authenticator> insecure;

  Setup() {
    char dir_template[] = "/tmp/makegood-fuzz-auth-XXXXXX";
    const char* dir = mkdtemp(dir_template);
    FUZZ_CHECK(dir != nullptr);
    auth::AuthOptions options;
    options.jwt_issuer = std::string(fz::kJwtIssuer);
    options.jwt_audience = std::string(fz::kJwtAudience);
    options.jwt_algorithm = auth::JwtAlgorithm::kHs256;
    options.jwt_leeway = absl::Seconds(fz::kJwtLeewaySeconds);
    options.jwt_key_file =
        WriteFile(dir, "jwt.key", absl::StrCat(fz::kJwtSecret, "\n"));
    options.api_keys_file = WriteFile(
        dir, "api_keys",
        absl::StrCat("# fuzz keys\n",
                     auth::ApiKeyLine(kKeys[0], kKeyPrincipals[0],
                                      auth::RoleSet{auth::Role::kAppBackend}),
                     "\n",
                     auth::ApiKeyLine(kKeys[1], kKeyPrincipals[1],
                                      auth::RoleSet{auth::Role::kAgent}),
                     "\n"));
    options.reload_interval = absl::ZeroDuration();
    auto s = auth::Authenticator::Create(options, clock);
    FUZZ_CHECK(s.ok()) << s.status();
    secure = *std::move(s);
    options.insecure_dev = true;
    auto i = auth::Authenticator::Create(options, clock);
    FUZZ_CHECK(i.ok()) << i.status();
    insecure = *std::move(i);
    // The authenticators read the files once (no reloads): clean up now.
    unlink(options.jwt_key_file.c_str());
    unlink(options.api_keys_file.c_str());
    rmdir(dir);
  }
};

const Setup& Get() {
  static const Setup* setup = new Setup();
  return *setup;
}

std::string ValidToken(FuzzedDataProvider& in) {
  std::string sub =
      in.ConsumeBool() ? "app-9" : in.ConsumeRandomLengthString(8);
  nlohmann::json claims = {{"sub", sub},
                           {"iss", fz::kJwtIssuer},
                           {"aud", fz::kJwtAudience},
                           {"exp", fz::kJwtNowSeconds + 60},
                           {"roles", {"admin"}}};
  return fz::SignHs256(
      R"({"alg":"HS256","typ":"JWT"})",
      claims.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace),
      fz::kJwtSecret);
}

std::string HeaderName(FuzzedDataProvider& in) {
  switch (in.ConsumeIntegralInRange(0, 7)) {
    case 0:
    case 1:
      return auth::kAuthorizationMetadata;
    case 2:
    case 3:
      return auth::kApiKeyMetadata;
    case 4:
    case 5:
      return auth::kClientIdMetadata;
    case 6:
      return "Authorization";
    default:
      return in.ConsumeRandomLengthString(16);
  }
}

std::string HeaderValue(FuzzedDataProvider& in) {
  static const char* const kSchemes[] = {"Bearer ", "bearer ", "BEARER  ",
                                         "Bearer",  "Basic ",  ""};
  switch (in.ConsumeIntegralInRange(0, 6)) {
    case 0:
      return absl::StrCat(kSchemes[in.ConsumeIntegralInRange<size_t>(0, 5)],
                          ValidToken(in), in.ConsumeBool() ? " \t" : "");
    case 1:
      return absl::StrCat(kSchemes[in.ConsumeIntegralInRange<size_t>(0, 5)],
                          in.ConsumeRandomLengthString(256));
    case 2:
      return std::string(kKeys[in.ConsumeIntegralInRange<size_t>(0, 1)]);
    case 3: {  // A key with something changed, added or cut.
      std::string key(kKeys[in.ConsumeIntegralInRange<size_t>(0, 1)]);
      size_t at = in.ConsumeIntegralInRange<size_t>(0, key.size());
      key.erase(at, in.ConsumeIntegralInRange<size_t>(0, 2));
      key.insert(std::min(at, key.size()), in.ConsumeRandomLengthString(4));
      return key;
    }
    case 4:
      return "app-1";
    default:
      return in.ConsumeRandomLengthString(256);
  }
}

int CountNamed(const std::vector<std::pair<std::string, std::string>>& headers,
               absl::string_view name) {
  int n = 0;
  for (const auto& [key, value] : headers) n += key == name ? 1 : 0;
  return n;
}

const std::string* FirstNamed(
    const std::vector<std::pair<std::string, std::string>>& headers,
    absl::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key == name) return &value;
  }
  return nullptr;
}

void Check(const auth::Authenticator& authenticator, bool insecure,
           const std::vector<std::pair<std::string, std::string>>& headers) {
  auth::Authenticator::Metadata metadata;
  for (const auto& [key, value] : headers) {
    metadata.emplace(grpc::string_ref(key), grpc::string_ref(value));
  }
  absl::StatusOr<auth::Principal> who =
      authenticator.Authenticate(metadata, nullptr);
  const int bearer = CountNamed(headers, auth::kAuthorizationMetadata);
  const int keys = CountNamed(headers, auth::kApiKeyMetadata);
  if (!who.ok()) {
    const bool bad_client_id = insecure && bearer + keys == 0;
    FUZZ_CHECK(who.status().code() == absl::StatusCode::kUnauthenticated ||
               (bad_client_id &&
                who.status().code() == absl::StatusCode::kInvalidArgument))
        << who.status();
    return;
  }
  switch (who->kind) {
    case auth::AuthKind::kJwt: {
      FUZZ_CHECK(bearer == 1 && keys == 0)
          << bearer << " authorization, " << keys << " x-api-key";
      absl::string_view value = *FirstNamed(headers, "authorization");
      FUZZ_CHECK(absl::StartsWithIgnoreCase(value, "bearer ")) << value;
      absl::string_view token =
          absl::StripAsciiWhitespace(value.substr(strlen("bearer ")));
      FUZZ_CHECK(fz::IsSignedBy(token, fz::kJwtSecret))
          << "accepted a token not signed with the secret: " << value;
      nlohmann::json claims =
          nlohmann::json::parse(fz::DecodedPart(token, 1), nullptr, false);
      FUZZ_CHECK(claims.is_object() && claims.contains("sub") &&
                 claims["sub"] == who->id)
          << who->id;
      break;
    }
    case auth::AuthKind::kApiKey: {
      FUZZ_CHECK(bearer == 0 && keys == 1)
          << bearer << " authorization, " << keys << " x-api-key";
      const std::string& key = *FirstNamed(headers, "x-api-key");
      bool known = false;
      for (int i = 0; i < 2; ++i) {
        if (key == kKeys[i]) {
          known = true;
          FUZZ_CHECK(who->id == kKeyPrincipals[i]);
          FUZZ_CHECK(who->roles == (i == 0
                                        ? auth::RoleSet{auth::Role::kAppBackend}
                                        : auth::RoleSet{auth::Role::kAgent}));
        }
      }
      FUZZ_CHECK(known) << "accepted an unknown API key";
      break;
    }
    case auth::AuthKind::kInsecure: {
      FUZZ_CHECK(insecure) << "an identity without credentials: " << who->id;
      FUZZ_CHECK(bearer + keys == 0)
          << "a presented credential was ignored in insecure mode";
      const std::string* client = FirstNamed(headers, "x-client-id");
      if (client == nullptr) {
        FUZZ_CHECK(who->id == auth::kAnonymousPrincipal);
      } else {
        FUZZ_CHECK(who->id == *client && makegood::IsValidId(who->id))
            << who->id;
      }
      break;
    }
    case auth::AuthKind::kMtls:
      FUZZ_CHECK(false) << "a client certificate principal without a peer";
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  std::vector<std::pair<std::string, std::string>> headers;
  const int n = in.ConsumeIntegralInRange(0, 5);
  for (int i = 0; i < n; ++i) {
    std::string name = HeaderName(in);
    headers.emplace_back(std::move(name), HeaderValue(in));
  }
  const Setup& setup = Get();
  Check(*setup.secure, /*insecure=*/false, headers);
  Check(*setup.insecure, /*insecure=*/true, headers);
  return 0;
}
