#include "services/auth/authenticator.h"

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/auth/credential_files.h"
#include "services/auth/method_roles.h"
#include "services/errors/errors.h"
#include "tests/testing/fake_clock.h"
#include "tests/unit/auth/test_tokens.h"

namespace makegood::auth {
namespace {

using ::makegood::auth::testing::RsaKeys;
using ::makegood::auth::testing::SignToken;
using ::makegood::auth::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kIssuer[] = "https://login.example.com/";
constexpr char kAudience[] = "makegood";
constexpr int64_t kNow = 1900000000;
constexpr char kRate[] = "/makegood.v1.RatingService/SubmitRating";
constexpr char kGoodwill[] = "/makegood.v1.GoodwillService/GrantGoodwill";

// Call metadata as gRPC hands it to a server (views into owned strings).
class FakeMetadata {
 public:
  FakeMetadata& Add(std::string key, std::string value) {
    storage_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Authenticator::Metadata View() const {
    Authenticator::Metadata view;
    for (const auto& [key, value] : storage_) {
      view.emplace(grpc::string_ref(key), grpc::string_ref(value));
    }
    return view;
  }

 private:
  // A vector of pairs: Add never invalidates earlier strings' views
  // because View() is rebuilt after the last Add.
  std::vector<std::pair<std::string, std::string>> storage_;
};

class EmptyPropertyIterator : public grpc::AuthPropertyIterator {
 public:
  EmptyPropertyIterator() = default;
};

// The peer of a connection, as a TLS handshake would describe it.
class FakeAuthContext final : public grpc::AuthContext {
 public:
  explicit FakeAuthContext(bool authenticated) : authenticated_(authenticated) {
    AddProperty("transport_security_type", "tls");
  }

  bool IsPeerAuthenticated() const override { return authenticated_; }
  std::vector<grpc::string_ref> GetPeerIdentity() const override { return {}; }
  std::string GetPeerIdentityPropertyName() const override { return ""; }
  std::vector<grpc::string_ref> FindPropertyValues(
      const std::string& name) const override {
    std::vector<grpc::string_ref> values;
    for (const auto& [key, value] : properties_) {
      if (key == name) values.emplace_back(value);
    }
    return values;
  }
  grpc::AuthPropertyIterator begin() const override {
    return EmptyPropertyIterator();
  }
  grpc::AuthPropertyIterator end() const override {
    return EmptyPropertyIterator();
  }
  void AddProperty(const std::string& key,
                   const grpc::string_ref& value) override {
    properties_.emplace_back(key, std::string(value.data(), value.size()));
  }
  bool SetPeerIdentityPropertyName(const std::string&) override { return true; }

 private:
  bool authenticated_;
  std::vector<std::pair<std::string, std::string>> properties_;
};

nlohmann::json Claims(absl::string_view sub, std::vector<std::string> roles) {
  return {{"iss", kIssuer},
          {"aud", kAudience},
          {"sub", std::string(sub)},
          {"exp", kNow + 600},
          {"roles", roles}};
}

std::string Bearer(const nlohmann::json& claims) {
  return absl::StrCat("Bearer ",
                      SignToken("RS256", RsaKeys().private_pem, claims));
}

class AuthenticatorTest : public ::testing::Test {
 protected:
  AuthenticatorTest() : clock_(absl::FromUnixSeconds(kNow)) {}

  // Every mechanism on, no background reloads.
  AuthOptions AllOptions() {
    AuthOptions options;
    options.jwt_issuer = kIssuer;
    options.jwt_audience = kAudience;
    options.jwt_key_file = dir_.Write("jwt.pem", RsaKeys().public_pem);
    options.jwt_algorithm = JwtAlgorithm::kRs256;
    options.api_keys_file = dir_.Write(
        "api-keys",
        absl::StrCat("# keys\n",
                     ApiKeyLine("app-key", "app-eu", {Role::kAppBackend}), "\n",
                     ApiKeyLine("desk-key", "support-desk",
                                {Role::kAgent, Role::kAdmin}),
                     "\n"));
    options.tls_clients_file =
        dir_.Write("clients", "orders.internal order-system\n");
    options.reload_interval = absl::ZeroDuration();
    return options;
  }

  std::unique_ptr<Authenticator> Make(AuthOptions options) {
    absl::StatusOr<std::unique_ptr<Authenticator>> auth =
        Authenticator::Create(std::move(options), clock_);
    EXPECT_TRUE(auth.ok()) << auth.status();
    return auth.ok() ? *std::move(auth) : nullptr;
  }

  // Authenticate + the role check, as Authorize does for a live call.
  static absl::StatusOr<Principal> Authorize(
      const Authenticator& auth, const FakeMetadata& metadata,
      absl::string_view method, const grpc::AuthContext* peer = nullptr) {
    absl::StatusOr<Principal> principal =
        auth.Authenticate(metadata.View(), peer);
    if (!principal.ok()) return principal.status();
    if (absl::Status allowed = CheckMethodAllowed(*principal, method);
        !allowed.ok()) {
      return allowed;
    }
    return principal;
  }

  static void ExpectStatus(const absl::StatusOr<Principal>& result,
                           absl::StatusCode code, absl::string_view reason) {
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), code) << result.status();
    EXPECT_EQ(ErrorReason(result.status()), reason) << result.status();
  }

  TempDir dir_;
  makegood::testing::FakeClock clock_;
};

TEST_F(AuthenticatorTest, AValidTokenWithTheRightRoleIsAuthorized) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  metadata.Add("authorization", Bearer(Claims("app-eu", {"app-backend"})));
  absl::StatusOr<Principal> principal = Authorize(*auth, metadata, kRate);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->id, "app-eu");
  EXPECT_EQ(principal->kind, AuthKind::kJwt);
}

TEST_F(AuthenticatorTest, AValidTokenWithTheWrongRoleIsPermissionDenied) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  metadata.Add("authorization", Bearer(Claims("app-eu", {"app-backend"})));
  ExpectStatus(Authorize(*auth, metadata, kGoodwill),
               absl::StatusCode::kPermissionDenied, "ROLE_NOT_ALLOWED");
}

TEST_F(AuthenticatorTest, TokenExpiryFollowsTheInjectedClock) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  metadata.Add("authorization", Bearer(Claims("app-eu", {"app-backend"})));
  ASSERT_TRUE(Authorize(*auth, metadata, kRate).ok());
  clock_.Advance(absl::Minutes(11));
  ExpectStatus(Authorize(*auth, metadata, kRate),
               absl::StatusCode::kUnauthenticated, "TOKEN_EXPIRED");
}

TEST_F(AuthenticatorTest, NoCredentialsIsUnauthenticatedAndSaysWhatToSend) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  metadata.Add("x-client-id", "app-eu");  // not a credential outside dev mode
  absl::StatusOr<Principal> result = Authorize(*auth, metadata, kRate);
  ExpectStatus(result, absl::StatusCode::kUnauthenticated,
               "CREDENTIALS_MISSING");
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("`authorization: Bearer <jwt>` or `x-api-key`"));
}

TEST_F(AuthenticatorTest, ABadTokenIsUnauthenticatedNotAFallThrough) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  metadata.Add("authorization", "Bearer not.a.token");
  ExpectStatus(Authorize(*auth, metadata, kRate),
               absl::StatusCode::kUnauthenticated, "TOKEN_INVALID");
  FakeMetadata basic;
  basic.Add("authorization", "Basic dXNlcjpwYXNz");
  ExpectStatus(Authorize(*auth, basic, kRate),
               absl::StatusCode::kUnauthenticated, "TOKEN_INVALID");
}

TEST_F(AuthenticatorTest, TheBearerSchemeIsCaseInsensitive) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  std::string token = SignToken("RS256", RsaKeys().private_pem,
                                Claims("app-eu", {"app-backend"}));
  metadata.Add("authorization", absl::StrCat("bearer  ", token));
  EXPECT_TRUE(Authorize(*auth, metadata, kRate).ok());
}

TEST_F(AuthenticatorTest, AnApiKeyNamesItsPrincipalAndRoles) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  metadata.Add("x-api-key", "desk-key");
  absl::StatusOr<Principal> principal = Authorize(*auth, metadata, kGoodwill);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->id, "support-desk");
  EXPECT_EQ(principal->kind, AuthKind::kApiKey);
  ExpectStatus(Authorize(*auth, metadata, kRate),
               absl::StatusCode::kPermissionDenied, "ROLE_NOT_ALLOWED");
}

TEST_F(AuthenticatorTest, AnUnknownApiKeyIsUnauthenticatedAndNotEchoed) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata metadata;
  metadata.Add("x-api-key", "guessed-key-123");
  absl::StatusOr<Principal> result = Authorize(*auth, metadata, kRate);
  ExpectStatus(result, absl::StatusCode::kUnauthenticated, "API_KEY_UNKNOWN");
  EXPECT_THAT(std::string(result.status().message()),
              ::testing::Not(HasSubstr("guessed-key-123")));
}

TEST_F(AuthenticatorTest, TwoCredentialsAreRefusedAsAmbiguous) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeMetadata both;
  both.Add("authorization", Bearer(Claims("app-eu", {"app-backend"})))
      .Add("x-api-key", "desk-key");
  ExpectStatus(Authorize(*auth, both, kRate),
               absl::StatusCode::kUnauthenticated, "CREDENTIALS_CONFLICT");
  FakeMetadata twice;
  twice.Add("x-api-key", "app-key").Add("x-api-key", "desk-key");
  ExpectStatus(Authorize(*auth, twice, kRate),
               absl::StatusCode::kUnauthenticated, "CREDENTIALS_CONFLICT");
}

TEST_F(AuthenticatorTest, CredentialsOfAMechanismThatIsOffAreRefused) {
  AuthOptions options;
  options.api_keys_file =
      dir_.Write("keys", ApiKeyLine("k", "p", {Role::kAdmin}));
  options.reload_interval = absl::ZeroDuration();
  std::unique_ptr<Authenticator> auth = Make(options);
  FakeMetadata metadata;
  metadata.Add("authorization", Bearer(Claims("app-eu", {"app-backend"})));
  ExpectStatus(Authorize(*auth, metadata, kRate),
               absl::StatusCode::kUnauthenticated, "CREDENTIALS_UNSUPPORTED");
}

TEST_F(AuthenticatorTest, AListedClientCertificateNamesThePrincipal) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeAuthContext by_san(/*authenticated=*/true);
  by_san.AddProperty("x509_subject_alternative_name", "orders.internal");
  by_san.AddProperty("x509_common_name", "Orders Service");
  absl::StatusOr<Principal> principal =
      Authorize(*auth, FakeMetadata(),
                "/makegood.v1.OrderService/RecordDelivery", &by_san);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->id, "orders.internal");
  EXPECT_EQ(principal->kind, AuthKind::kMtls);

  FakeAuthContext by_cn(/*authenticated=*/true);
  by_cn.AddProperty("x509_common_name", "orders.internal");
  EXPECT_TRUE(Authorize(*auth, FakeMetadata(),
                        "/makegood.v1.OrderService/RecordDelivery", &by_cn)
                  .ok());
}

TEST_F(AuthenticatorTest, AnUnlistedOrUnverifiedClientCertificateIsNoIdentity) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeAuthContext unknown(/*authenticated=*/true);
  unknown.AddProperty("x509_common_name", "intruder.internal");
  ExpectStatus(Authorize(*auth, FakeMetadata(), kRate, &unknown),
               absl::StatusCode::kUnauthenticated, "CLIENT_CERT_UNKNOWN");

  FakeAuthContext unverified(/*authenticated=*/false);
  unverified.AddProperty("x509_common_name", "orders.internal");
  ExpectStatus(Authorize(*auth, FakeMetadata(), kRate, &unverified),
               absl::StatusCode::kUnauthenticated, "CREDENTIALS_MISSING");
}

TEST_F(AuthenticatorTest, ATokenOverridesTheClientCertificate) {
  std::unique_ptr<Authenticator> auth = Make(AllOptions());
  FakeAuthContext peer(/*authenticated=*/true);
  peer.AddProperty("x509_common_name", "orders.internal");
  FakeMetadata metadata;
  metadata.Add("authorization", Bearer(Claims("app-eu", {"app-backend"})));
  absl::StatusOr<Principal> principal =
      Authorize(*auth, metadata, kRate, &peer);
  ASSERT_TRUE(principal.ok()) << principal.status();
  EXPECT_EQ(principal->id, "app-eu");
}

TEST_F(AuthenticatorTest, InsecureModeGivesEveryRoleToTheNamedClient) {
  AuthOptions options;
  options.insecure_dev = true;
  options.reload_interval = absl::ZeroDuration();
  std::unique_ptr<Authenticator> auth = Make(options);

  absl::StatusOr<Principal> anonymous =
      Authorize(*auth, FakeMetadata(), kGoodwill);
  ASSERT_TRUE(anonymous.ok()) << anonymous.status();
  EXPECT_EQ(anonymous->id, "anonymous");
  EXPECT_EQ(anonymous->kind, AuthKind::kInsecure);
  EXPECT_EQ(anonymous->roles, RoleSet::All());

  FakeMetadata named;
  named.Add("x-client-id", "dev-laptop");
  absl::StatusOr<Principal> principal = Authorize(*auth, named, kRate);
  ASSERT_TRUE(principal.ok());
  EXPECT_EQ(principal->id, "dev-laptop");

  FakeMetadata bad;
  bad.Add("x-client-id", "two words");
  EXPECT_EQ(Authorize(*auth, bad, kRate).status().code(),
            absl::StatusCode::kInvalidArgument);

  // Unknown methods stay closed even with every role.
  ExpectStatus(Authorize(*auth, named, "/makegood.v1.RefundService/Delete"),
               absl::StatusCode::kPermissionDenied, "METHOD_NOT_ALLOWED");
}

TEST_F(AuthenticatorTest, InsecureModeStillChecksPresentedCredentials) {
  AuthOptions options = AllOptions();
  options.insecure_dev = true;
  std::unique_ptr<Authenticator> auth = Make(options);
  FakeMetadata metadata;
  metadata.Add("x-api-key", "wrong");
  ExpectStatus(Authorize(*auth, metadata, kRate),
               absl::StatusCode::kUnauthenticated, "API_KEY_UNKNOWN");
  FakeMetadata agent;
  agent.Add("x-api-key", "desk-key");
  // The key's roles, not insecure mode's.
  ExpectStatus(Authorize(*auth, agent, kRate),
               absl::StatusCode::kPermissionDenied, "ROLE_NOT_ALLOWED");
}

TEST_F(AuthenticatorTest, CreateNamesWhatIsMissingOrBroken) {
  AuthOptions nothing;
  EXPECT_THAT(Authenticator::Create(nothing, clock_).status().message(),
              HasSubstr("no caller authentication configured"));

  AuthOptions half_jwt;
  half_jwt.jwt_issuer = kIssuer;
  half_jwt.jwt_audience = kAudience;
  EXPECT_THAT(Authenticator::Create(half_jwt, clock_).status().message(),
              HasSubstr("jwt_key_file"));

  AuthOptions missing_file = AllOptions();
  missing_file.api_keys_file = dir_.path() + "/no-such-file";
  absl::Status status = Authenticator::Create(missing_file, clock_).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("api_keys_file"));

  AuthOptions bad_keys = AllOptions();
  bad_keys.api_keys_file = dir_.Write("bad", "\n\nnot-a-hash p admin\n");
  EXPECT_THAT(Authenticator::Create(bad_keys, clock_).status().message(),
              HasSubstr("line 3"));
}

TEST_F(AuthenticatorTest, ReloadSwapsInAChangedKeysFileAndKeepsTheOldOnError) {
  AuthOptions options = AllOptions();
  std::unique_ptr<Authenticator> auth = Make(options);
  FakeMetadata old_key;
  old_key.Add("x-api-key", "app-key");
  FakeMetadata new_key;
  new_key.Add("x-api-key", "rotated-key");

  absl::StatusOr<bool> unchanged = auth->ReloadNow();
  ASSERT_TRUE(unchanged.ok()) << unchanged.status();
  EXPECT_FALSE(*unchanged);

  dir_.Write("api-keys",
             ApiKeyLine("rotated-key", "app-eu", {Role::kAppBackend}));
  absl::StatusOr<bool> reloaded = auth->ReloadNow();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_TRUE(*reloaded);
  EXPECT_TRUE(Authorize(*auth, new_key, kRate).ok());
  ExpectStatus(Authorize(*auth, old_key, kRate),
               absl::StatusCode::kUnauthenticated, "API_KEY_UNKNOWN");

  dir_.Write("api-keys", "half-written garbage");
  EXPECT_FALSE(auth->ReloadNow().ok());
  EXPECT_TRUE(Authorize(*auth, new_key, kRate).ok());
}

TEST_F(AuthenticatorTest, TheReloadThreadPicksUpARotatedKey) {
  AuthOptions options = AllOptions();
  options.reload_interval = absl::Milliseconds(10);
  std::unique_ptr<Authenticator> auth = Make(options);
  FakeMetadata rotated;
  rotated.Add("x-api-key", "rotated-key");
  ASSERT_FALSE(Authorize(*auth, rotated, kRate).ok());

  dir_.Write("api-keys",
             ApiKeyLine("rotated-key", "app-eu", {Role::kAppBackend}));
  // The thread checks every 10 ms; give it up to 10 s on a busy machine.
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!Authorize(*auth, rotated, kRate).ok() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_TRUE(Authorize(*auth, rotated, kRate).ok());
  auth.reset();  // stops and joins the thread promptly
}

TEST(CheckInsecureAllowed, AllowsOnlyLoopbackListenAddresses) {
  for (const char* address :
       {"127.0.0.1:50051", "127.1.2.3:1", "localhost:50051", "LOCALHOST:50051",
        "[::1]:50051", "::1", "127.0.0.1"}) {
    EXPECT_TRUE(CheckInsecureAllowed(address).ok()) << address;
  }
  for (const char* address :
       {"0.0.0.0:50051", "[::]:50051", "10.0.0.5:50051", "example.com:50051",
        ":50051", "", "128.0.0.1:50051", "localhost.example.com:1",
        "[::1:50051", "unix:/tmp/makegood.sock"}) {
    absl::Status status = CheckInsecureAllowed(address);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_THAT(std::string(status.message()), HasSubstr("insecure_dev"))
        << address;
  }
}

// Found by tests/fuzz/server_flags_fuzzer: inet_pton stops at a NUL, so
// "127.0.0.1\0..." passed as loopback whatever followed the NUL.
TEST(CheckInsecureAllowed, HostWithANulByteIsNotLoopback) {
  for (const std::string& address :
       {std::string("127.0.0.1\0.example.com:50051", 28),
        std::string("127.0.0.1\0\0\x01\xdf"
                    "51",
                    15),
        std::string("[::1\0x]:50051", 13), std::string("localhost\0", 10)}) {
    EXPECT_EQ(CheckInsecureAllowed(address).code(),
              absl::StatusCode::kInvalidArgument)
        << absl::CEscape(address);
  }
}

}  // namespace
}  // namespace makegood::auth
