// The assembled server with real credentials: TLS on the gRPC port, JWT
// bearer tokens and hashed API keys, roles enforced per method, and the
// caller's identity scoping idempotency keys. (The auth library's own tests
// in tests/unit/auth cover each verifier in depth; this checks the wiring.)
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "gtest/gtest.h"
#include "services/auth/credential_files.h"
#include "services/auth/tls_credentials.h"
#include "tests/testing/app_harness.h"
#include "tests/testing/grpc_status.h"
#include "tests/unit/auth/test_tokens.h"

namespace makegood {
namespace {

using ::makegood::auth::testing::SignToken;
using ::makegood::auth::testing::TempDir;
using ::makegood::testing::AppHarness;
using ::makegood::testing::ErrorReason;
using ::testing::HasSubstr;

constexpr char kSecret[] = "an-hs256-secret-of-at-least-32-bytes!!";
constexpr char kOrderKey[] = "order-system-key-0123456789";
constexpr char kAppKey[] = "app-backend-key-0123456789";

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto harness = AppHarness::Create();
    ASSERT_TRUE(harness.ok()) << harness.status();
    h_ = *std::move(harness);
    // A CA and a server certificate for 127.0.0.1, made by openssl.
    Run(
        absl::StrCat("openssl req -x509 -newkey ec -pkeyopt "
                     "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj "
                     "'/CN=test-ca' -keyout ",
                     Path("ca.key"), " -out ", Path("ca.crt")));
    dir_.Write("server.ext",
               "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
    Run(
        absl::StrCat("openssl req -new -newkey ec -pkeyopt "
                     "ec_paramgen_curve:prime256v1 -nodes -subj "
                     "'/CN=makegood' -keyout ",
                     Path("server.key"), " -out ", Path("server.csr")));
    Run(absl::StrCat("openssl x509 -req -in ", Path("server.csr"), " -CA ",
                     Path("ca.crt"), " -CAkey ", Path("ca.key"),
                     " -set_serial 7 -days 2 -extfile ", Path("server.ext"),
                     " -out ", Path("server.crt")));
    std::string keys = absl::StrCat(
        auth::ApiKeyLine(kOrderKey, "orders-1", {auth::Role::kOrderSystem}),
        "\n", auth::ApiKeyLine(kAppKey, "app-1", {auth::Role::kAppBackend}),
        "\n");
    server::ServerConfig& config = h_->config();
    config.insecure_dev = false;
    config.auth.insecure_dev = false;
    config.auth.api_keys_file = dir_.Write("api_keys", keys);
    config.auth.jwt_issuer = "https://id.example";
    config.auth.jwt_audience = "makegood";
    config.auth.jwt_key_file = dir_.Write("jwt.key", kSecret);
    config.auth.jwt_algorithm = auth::JwtAlgorithm::kHs256;
    config.tls.cert_file = Path("server.crt");
    config.tls.key_file = Path("server.key");
    config.tls.refresh_interval = absl::Seconds(1);
  }

  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_.path(), "/", name);
  }
  static void Run(const std::string& command) {
    ASSERT_EQ(std::system((command + " >/dev/null 2>&1").c_str()), 0)
        << command;
  }

  // Starts the App and connects over TLS trusting the test CA.
  void Start() {
    auto app = server::App::Start(h_->config(), h_->clock());
    ASSERT_TRUE(app.ok()) << app.status();
    app_ = *std::move(app);
    auto credentials = auth::MakeChannelCredentials({Path("ca.crt"), "", ""});
    ASSERT_TRUE(credentials.ok()) << credentials.status();
    channel_ = grpc::CreateChannel(absl::StrCat("127.0.0.1:", app_->port()),
                                   *credentials);
    orders_ = v1::OrderService::NewStub(channel_);
    members_ = v1::MemberService::NewStub(channel_);
    ratings_ = v1::RatingService::NewStub(channel_);
    policies_ = v1::PolicyService::NewStub(channel_);
    health_ = grpc::health::v1::Health::NewStub(channel_);
    ASSERT_TRUE(testing::WaitServing(*health_));
  }

  std::string Token(const std::string& subject, const std::string& role,
                    const std::string& audience = "makegood",
                    int64_t expires_in_s = 3600) {
    int64_t now = absl::ToUnixSeconds(h_->clock().Now());
    return SignToken("HS256", kSecret,
                     {{"iss", "https://id.example"},
                      {"aud", audience},
                      {"sub", subject},
                      {"roles", {role}},
                      {"exp", now + expires_in_s}});
  }

  grpc::Status UpsertMember(grpc::ClientContext& context) {
    v1::UpsertMemberRequest request;
    request.mutable_member()->set_member_id("m-1");
    request.mutable_member()->set_tier("premium");
    request.mutable_member()->mutable_member_since()->set_seconds(1609459200);
    v1::UpsertMemberResponse response;
    return members_->UpsertMember(&context, request, &response);
  }

  std::unique_ptr<AppHarness> h_;
  TempDir dir_;
  std::unique_ptr<server::App> app_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::OrderService::Stub> orders_;
  std::unique_ptr<v1::MemberService::Stub> members_;
  std::unique_ptr<v1::RatingService::Stub> ratings_;
  std::unique_ptr<v1::PolicyService::Stub> policies_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

TEST_F(AuthTest, NoCredentialsIsUnauthenticatedAndChangesNothing) {
  Start();
  auto before = h_->Snapshot();
  grpc::ClientContext context;
  context.AddMetadata("x-client-id", "pretending");  // Not trusted here.
  grpc::Status status = UpsertMember(context);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ErrorReason(status), "CREDENTIALS_MISSING");
  EXPECT_EQ(h_->Snapshot(), before);
}

TEST_F(AuthTest, WrongRoleIsPermissionDeniedRightRolePasses) {
  Start();
  {
    grpc::ClientContext context;
    context.AddMetadata("x-api-key", kAppKey);  // app-backend
    grpc::Status status = UpsertMember(context);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
    EXPECT_EQ(ErrorReason(status), "ROLE_NOT_ALLOWED");
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("x-api-key", kOrderKey);  // order-system
    EXPECT_TRUE(UpsertMember(context).ok());
  }
  {
    grpc::ClientContext context;
    context.AddMetadata("x-api-key", "not-a-key-anyone-has");
    grpc::Status status = UpsertMember(context);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    EXPECT_EQ(ErrorReason(status), "API_KEY_UNKNOWN");
  }
  {
    // Policy is for admins only.
    grpc::ClientContext context;
    context.AddMetadata("authorization",
                        "Bearer " + Token("ops-1", "order-system"));
    v1::GetPolicyResponse response;
    EXPECT_EQ(policies_->GetPolicy(&context, {}, &response).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
}

TEST_F(AuthTest, BadTokensAreUnauthenticated) {
  Start();
  for (const auto& [token, reason] :
       std::vector<std::pair<std::string, std::string>>{
           {Token("app-1", "app-backend", "someone-else"), "TOKEN_INVALID"},
           {Token("app-1", "app-backend", "makegood", -600), "TOKEN_EXPIRED"},
           {"not.a.jwt", "TOKEN_INVALID"}}) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::SubmitRatingResponse response;
    grpc::Status status =
        ratings_->SubmitRating(&context, testing::MeltedRating("k"), &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED) << token;
    EXPECT_EQ(ErrorReason(status), reason) << token;
    EXPECT_THAT(status.error_message(), ::testing::Not(HasSubstr(token)));
  }
}

TEST_F(AuthTest, TheCallerIdentityScopesIdempotencyKeys) {
  Start();
  {
    grpc::ClientContext context;
    context.AddMetadata("x-api-key", kOrderKey);
    ASSERT_TRUE(UpsertMember(context).ok());
  }
  {
    v1::RecordDeliveryRequest request;
    *request.mutable_order() = AppHarness::SampleOrder(
        "m-1", "o-1", h_->clock().Now() - absl::Hours(1));
    grpc::ClientContext context;
    context.AddMetadata("x-api-key", kOrderKey);
    v1::RecordDeliveryResponse response;
    ASSERT_TRUE(orders_->RecordDelivery(&context, request, &response).ok());
  }
  auto rate = [&](const std::string& token) {
    grpc::ClientContext context;
    context.AddMetadata("authorization", "Bearer " + token);
    v1::SubmitRatingResponse response;
    grpc::Status status = ratings_->SubmitRating(
        &context, testing::MeltedRating("same-key"), &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  v1::SubmitRatingResponse first = rate(Token("app-1", "app-backend"));
  v1::SubmitRatingResponse again = rate(Token("app-1", "app-backend"));
  EXPECT_TRUE(again.replayed());
  EXPECT_EQ(again.rating_id(), first.rating_id());
  // Another caller's same key is its own rating, not a replay of app-1's.
  v1::SubmitRatingResponse other = rate(Token("app-2", "app-backend"));
  EXPECT_FALSE(other.replayed());
  EXPECT_NE(other.rating_id(), first.rating_id());
}

TEST_F(AuthTest, PlaintextClientsCannotTalkToTheTlsPort) {
  Start();
  auto plain = grpc::CreateChannel(absl::StrCat("127.0.0.1:", app_->port()),
                                   grpc::InsecureChannelCredentials());
  auto members = v1::MemberService::NewStub(plain);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(2));
  context.AddMetadata("x-api-key", kOrderKey);
  v1::GetMemberRequest request;
  request.set_member_id("m-1");
  v1::GetMemberResponse response;
  EXPECT_EQ(members->GetMember(&context, request, &response).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(AuthTest, ServerRefusesToStartWithoutCredentialsConfigured) {
  h_->config().auth.api_keys_file.clear();
  h_->config().auth.jwt_issuer.clear();
  h_->config().auth.jwt_audience.clear();
  h_->config().auth.jwt_key_file.clear();
  auto app = server::App::Start(h_->config(), h_->clock());
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("api_keys_file"));
}

}  // namespace
}  // namespace makegood
