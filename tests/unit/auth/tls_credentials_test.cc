// Real TLS handshakes against a gRPC server on 127.0.0.1 with certificates
// made by the openssl command-line tool: TLS, mutual TLS, role checks on a
// live call, and certificate renewal without a restart.
#include "services/auth/tls_credentials.h"

#include <cstdlib>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/health_check_service_interface.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "makegood/v1/rating_service.grpc.pb.h"
#include "services/auth/authenticator.h"
#include "services/auth/credential_files.h"
#include "services/core/clock.h"
#include "services/errors/errors.h"
#include "services/errors/grpc_status.h"
#include "tests/unit/auth/test_tokens.h"

namespace makegood::auth {
namespace {

using ::makegood::auth::testing::TempDir;
using ::testing::HasSubstr;

constexpr char kSubmitRating[] = "/makegood.v1.RatingService/SubmitRating";

// A throw-away PKI in a temporary directory, made with the openssl CLI.
class Pki {
 public:
  const TempDir& dir() const { return dir_; }
  std::string Path(absl::string_view name) const {
    return absl::StrCat(dir_.path(), "/", name);
  }

  // <name>.crt / <name>.key: a self-signed CA.
  void MakeCa(absl::string_view name) {
    Run(absl::StrCat(
        "openssl req -x509 -newkey ec -pkeyopt "
        "ec_paramgen_curve:prime256v1 -nodes -days 2 -subj '/CN=",
        name, "' -keyout ", Path(name), ".key -out ", Path(name), ".crt"));
  }

  // <name>.crt / <name>.key signed by CA `ca`, with common name `cn` and
  // the given extensions (e.g. "subjectAltName=DNS:a").
  void MakeLeaf(absl::string_view ca, absl::string_view name,
                absl::string_view cn, absl::string_view extensions) {
    std::string ext = dir_.Write(absl::StrCat(name, ".ext"), extensions);
    Run(absl::StrCat(
        "openssl req -new -newkey ec -pkeyopt "
        "ec_paramgen_curve:prime256v1 -nodes -subj '/CN=",
        cn, "' -keyout ", Path(name), ".key -out ", Path(name), ".csr"));
    Run(absl::StrCat("openssl x509 -req -in ", Path(name), ".csr -CA ",
                     Path(ca), ".crt -CAkey ", Path(ca), ".key -set_serial ",
                     ++serial_, " -days 2 -extfile ", ext, " -out ", Path(name),
                     ".crt"));
  }

  void MakeServerCert(absl::string_view ca, absl::string_view name,
                      absl::string_view cn) {
    MakeLeaf(ca, name, cn,
             "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
             "extendedKeyUsage=serverAuth\n");
  }

 private:
  static void Run(const std::string& command) {
    int rc = std::system((command + " >/dev/null 2>&1").c_str());
    ASSERT_EQ(rc, 0) << command;
  }

  TempDir dir_;
  int serial_ = 1000;
};

// RatingService whose SubmitRating only authorizes and answers with the
// caller's principal id (in rating_id): the handler's view of auth.
class WhoAmIRatingService final
    : public makegood::v1::RatingService::CallbackService {
 public:
  explicit WhoAmIRatingService(const Authenticator& auth) : auth_(auth) {}

  grpc::ServerUnaryReactor* SubmitRating(
      grpc::CallbackServerContext* context,
      const makegood::v1::SubmitRatingRequest*,
      makegood::v1::SubmitRatingResponse* response) override {
    grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
    absl::StatusOr<Principal> who = auth_.Authorize(*context, kSubmitRating);
    if (!who.ok()) {
      reactor->Finish(ToGrpcStatus(who.status()));
      return reactor;
    }
    response->set_rating_id(who->id);
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }

 private:
  const Authenticator& auth_;
};

class TestServer {
 public:
  TestServer(std::shared_ptr<grpc::ServerCredentials> credentials,
             grpc::Service* service) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", std::move(credentials), &port_);
    // Some callback service is needed for the server to poll at all; the
    // health service alone is a sync one.
    builder.RegisterService(service != nullptr ? service : &unimplemented_);
    server_ = builder.BuildAndStart();
  }
  ~TestServer() {
    if (server_ != nullptr) {
      server_->Shutdown(std::chrono::system_clock::now() +
                        std::chrono::seconds(2));
    }
  }
  bool started() const { return server_ != nullptr && port_ > 0; }
  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

 private:
  makegood::v1::RatingService::CallbackService unimplemented_;
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

std::shared_ptr<grpc::Channel> NewChannel(
    const TestServer& server,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  grpc::ChannelArguments args;
  // A fresh connection (and handshake) per channel: no shared subchannels.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(server.address(), std::move(credentials),
                                   args);
}

struct HealthResult {
  grpc::Status status;
  std::string server_common_name;
};

HealthResult CheckHealth(
    const TestServer& server,
    std::shared_ptr<grpc::ChannelCredentials> credentials) {
  auto stub = grpc::health::v1::Health::NewStub(
      NewChannel(server, std::move(credentials)));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::seconds(10));
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  HealthResult result;
  result.status = stub->Check(&context, request, &response);
  if (std::shared_ptr<const grpc::AuthContext> peer = context.auth_context()) {
    for (const grpc::string_ref& cn :
         peer->FindPropertyValues("x509_common_name")) {
      result.server_common_name.assign(cn.data(), cn.size());
    }
  }
  return result;
}

std::shared_ptr<grpc::ChannelCredentials> ClientCredentials(
    const Pki& pki, absl::string_view ca, absl::string_view client = "") {
  ClientTlsOptions options;
  options.ca_file = pki.Path(absl::StrCat(ca, ".crt"));
  if (!client.empty()) {
    options.cert_file = pki.Path(absl::StrCat(client, ".crt"));
    options.key_file = pki.Path(absl::StrCat(client, ".key"));
  }
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> credentials =
      MakeChannelCredentials(options);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return *credentials;
}

std::shared_ptr<grpc::ServerCredentials> ServerCredentials(
    const Pki& pki, absl::string_view client_ca = "",
    absl::Duration refresh = absl::Minutes(1)) {
  ServerTlsOptions options;
  options.cert_file = pki.Path("server.crt");
  options.key_file = pki.Path("server.key");
  if (!client_ca.empty()) {
    options.client_ca_file = pki.Path(absl::StrCat(client_ca, ".crt"));
  }
  options.refresh_interval = refresh;
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> credentials =
      MakeServerCredentials(options);
  EXPECT_TRUE(credentials.ok()) << credentials.status();
  return credentials.ok() ? *credentials : nullptr;
}

// Server CA + server certificate "server-1".
void MakeServerPki(Pki& pki) {
  pki.MakeCa("server-ca");
  pki.MakeServerCert("server-ca", "server", "server-1");
}

TEST(TlsServerCredentials, ServesTlsToClientsThatTrustTheCa) {
  Pki pki;
  MakeServerPki(pki);
  TestServer server(ServerCredentials(pki), nullptr);
  ASSERT_TRUE(server.started());

  HealthResult result =
      CheckHealth(server, ClientCredentials(pki, "server-ca"));
  EXPECT_TRUE(result.status.ok()) << result.status.error_message();
  EXPECT_EQ(result.server_common_name, "server-1");
}

TEST(TlsServerCredentials, RefusesPlaintextAndClientsThatDoNotTrustTheCa) {
  Pki pki;
  MakeServerPki(pki);
  pki.MakeCa("other-ca");
  TestServer server(ServerCredentials(pki), nullptr);
  ASSERT_TRUE(server.started());

  EXPECT_EQ(CheckHealth(server, grpc::InsecureChannelCredentials())
                .status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(CheckHealth(server, ClientCredentials(pki, "other-ca"))
                .status.error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST(MutualTls, RequiresACertificateSignedByTheClientCa) {
  Pki pki;
  MakeServerPki(pki);
  pki.MakeCa("client-ca");
  pki.MakeLeaf("client-ca", "orders", "orders.internal",
               "extendedKeyUsage=clientAuth\n");
  pki.MakeCa("rogue-ca");
  pki.MakeLeaf("rogue-ca", "rogue", "orders.internal",
               "extendedKeyUsage=clientAuth\n");
  TestServer server(ServerCredentials(pki, "client-ca"), nullptr);
  ASSERT_TRUE(server.started());

  EXPECT_FALSE(
      CheckHealth(server, ClientCredentials(pki, "server-ca")).status.ok())
      << "a client without a certificate got through";
  EXPECT_FALSE(CheckHealth(server, ClientCredentials(pki, "server-ca", "rogue"))
                   .status.ok())
      << "a certificate from another CA got through";
  HealthResult good =
      CheckHealth(server, ClientCredentials(pki, "server-ca", "orders"));
  EXPECT_TRUE(good.status.ok()) << good.status.error_message();
}

// The handler's Authorize sees the verified certificate of a live call.
TEST(MutualTls, ListedClientCertificatesAreAuthorizedByTheirRoles) {
  Pki pki;
  MakeServerPki(pki);
  pki.MakeCa("client-ca");
  pki.MakeLeaf("client-ca", "rater", "Rater Service",
               "subjectAltName=DNS:rater.internal\n"
               "extendedKeyUsage=clientAuth\n");
  pki.MakeLeaf("client-ca", "orders", "orders.internal",
               "extendedKeyUsage=clientAuth\n");
  AuthOptions options;
  options.tls_clients_file = pki.dir().Write(
      "clients", "rater.internal app-backend\norders.internal order-system\n");
  options.reload_interval = absl::ZeroDuration();
  absl::StatusOr<std::unique_ptr<Authenticator>> auth =
      Authenticator::Create(options, RealClock());
  ASSERT_TRUE(auth.ok()) << auth.status();
  WhoAmIRatingService service(**auth);
  TestServer server(ServerCredentials(pki, "client-ca"), &service);
  ASSERT_TRUE(server.started());

  auto call = [&](absl::string_view client,
                  makegood::v1::SubmitRatingResponse* response) {
    auto stub = makegood::v1::RatingService::NewStub(
        NewChannel(server, ClientCredentials(pki, "server-ca", client)));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::seconds(10));
    return stub->SubmitRating(&context, makegood::v1::SubmitRatingRequest(),
                              response);
  };

  makegood::v1::SubmitRatingResponse response;
  grpc::Status rater = call("rater", &response);
  ASSERT_TRUE(rater.ok()) << rater.error_message();
  EXPECT_EQ(response.rating_id(), "rater.internal");

  grpc::Status orders = call("orders", &response);
  EXPECT_EQ(orders.error_code(), grpc::StatusCode::PERMISSION_DENIED)
      << orders.error_message();
  google::rpc::Status details;
  ASSERT_TRUE(details.ParseFromString(orders.error_details()));
  ASSERT_EQ(details.details_size(), 1);
  google::rpc::ErrorInfo info;
  ASSERT_TRUE(details.details(0).UnpackTo(&info));
  EXPECT_EQ(info.reason(), "ROLE_NOT_ALLOWED");
}

TEST(TlsServerCredentials, PicksUpARenewedCertificateWithoutRestart) {
  Pki pki;
  MakeServerPki(pki);
  pki.MakeServerCert("server-ca", "renewed", "server-2");
  TestServer server(ServerCredentials(pki, "", absl::Seconds(1)), nullptr);
  ASSERT_TRUE(server.started());
  ASSERT_EQ(CheckHealth(server, ClientCredentials(pki, "server-ca"))
                .server_common_name,
            "server-1");

  // What cert-manager + the kubelet do: new files, swapped in atomically.
  pki.dir().Write("server.key",
                  *ReadCredentialFile(pki.Path("renewed.key"), "renewed.key"));
  pki.dir().Write("server.crt",
                  *ReadCredentialFile(pki.Path("renewed.crt"), "renewed.crt"));

  // gRPC's watcher re-reads the files every second; each attempt is a new
  // connection, so it sees whatever the server now presents.
  std::string seen;
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (absl::Now() < deadline) {
    HealthResult result =
        CheckHealth(server, ClientCredentials(pki, "server-ca"));
    if (result.status.ok()) seen = result.server_common_name;
    if (seen == "server-2") break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  EXPECT_EQ(seen, "server-2");
}

TEST(MakeServerCredentials, RefusesBadFilesAtStartUp) {
  Pki pki;
  MakeServerPki(pki);
  pki.MakeServerCert("server-ca", "other", "other");
  const std::string not_pem = pki.dir().Write("not-pem", "hello\n");

  ServerTlsOptions options;
  options.cert_file = pki.Path("server.crt");
  options.key_file = pki.Path("other.key");
  absl::Status status = MakeServerCredentials(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("is not the key of the certificate"));

  options.key_file = pki.Path("server.key");
  options.cert_file = pki.Path("missing.crt");
  status = MakeServerCredentials(options).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(status.message()), HasSubstr("tls_cert"));

  options.cert_file = not_pem;
  EXPECT_THAT(std::string(MakeServerCredentials(options).status().message()),
              HasSubstr("tls_cert"));

  options.cert_file = pki.Path("server.crt");
  options.key_file = not_pem;
  EXPECT_THAT(std::string(MakeServerCredentials(options).status().message()),
              HasSubstr("tls_key"));

  options.key_file = pki.Path("server.key");
  options.client_ca_file = not_pem;
  EXPECT_THAT(std::string(MakeServerCredentials(options).status().message()),
              HasSubstr("tls_client_ca"));

  options.client_ca_file = "";
  options.refresh_interval = absl::Milliseconds(10);
  EXPECT_THAT(std::string(MakeServerCredentials(options).status().message()),
              HasSubstr("tls_refresh_interval"));

  options.refresh_interval = absl::Minutes(1);
  EXPECT_TRUE(MakeServerCredentials(options).ok());
}

TEST(MakeChannelCredentials, NeedsBothHalvesOfAClientCertificate) {
  ClientTlsOptions options;
  options.cert_file = "/some/client.crt";
  EXPECT_EQ(MakeChannelCredentials(options).status().code(),
            absl::StatusCode::kInvalidArgument);
  options.cert_file = "";
  options.ca_file = "/no/such/ca.crt";
  EXPECT_EQ(MakeChannelCredentials(options).status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace makegood::auth
