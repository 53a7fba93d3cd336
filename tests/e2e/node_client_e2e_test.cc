// End-to-end: the Node example client (examples/node/) against the built
// makegood binary and a real redis-server. This test starts both (the same
// fixtures as the other e2e tests), then runs node_client/client.test.js
// with `node --test`, telling it where the server is; the Node tests assert
// the client's behaviour (retries, retry-after, no retry, WatchRefund,
// credentials). Once in development mode over plaintext, once over TLS with
// API keys and JWT.
#include <stdlib.h>

#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/makegood_process.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::RedisServer;
using ::makegood::testing::Subprocess;

const std::string kBinary = MAKEGOOD_BINARY;
const std::string kNode = MAKEGOOD_NODE;
const std::string kSourceDir = MAKEGOOD_SOURCE_DIR;
const std::string kPolicy = kSourceDir + "/config/policy/default.textproto";
const std::string kClientTests =
    kSourceDir + "/tests/e2e/node_client/client.test.js";

constexpr char kAppKey[] = "app-backend-key-0123456789";
constexpr char kOrderKey[] = "order-system-key-0123456789";
constexpr char kJwtSecret[] = "an-hs256-secret-of-at-least-32-bytes!!";

class NodeClientE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
    char dir[] = "/tmp/makegood_node_client_XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }

  void TearDown() override {
    if (!dir_.empty()) Shell(absl::StrCat("rm -rf ", dir_));
  }

  std::string Path(const std::string& name) const {
    return absl::StrCat(dir_, "/", name);
  }

  // Runs `command` with sh; false (and a test failure) if it fails.
  static bool Shell(const std::string& command) {
    int status = std::system(("(" + command + ") >/dev/null 2>&1").c_str());
    EXPECT_EQ(status, 0) << command;
    return status == 0;
  }

  // Starts makegood with `args` (plus listen, redis and policy) and waits
  // for its "serving" line.
  void StartServer(std::vector<std::string> args) {
    std::vector<std::string> argv = {
        kBinary,
        "--listen=127.0.0.1:0",
        "--redis=" + redis_->url(),
        "--policy=" + kPolicy,
        "--health_interval=50ms",
        "--settlement_worker",
    };
    argv.insert(argv.end(), args.begin(), args.end());
    auto server = testing::StartMakegood(argv);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server->process);
    port_ = server->port;
  }

  // Runs the Node tests against the server; `expected_pass` of them must
  // pass (the others are for the other mode and skip), none fail.
  void RunNodeTests(std::map<std::string, std::string> env, int expected_pass) {
    env["MAKEGOOD_ADDRESS"] = absl::StrCat("127.0.0.1:", port_);
    env["MAKEGOOD_REDIS_PORT"] = absl::StrCat(redis_->port());
    auto node = Subprocess::Start(
        {kNode, "--test", "--test-reporter=spec", kClientTests}, env);
    ASSERT_TRUE(node.ok()) << node.status();
    absl::StatusOr<int> exit_code = (*node)->Wait(absl::Seconds(240));
    ASSERT_TRUE(exit_code.ok()) << exit_code.status() << "\n"
                                << (*node)->output();
    EXPECT_EQ(*exit_code, 0) << (*node)->output() << "\nserver log:\n"
                             << server_->output();
    std::cout << (*node)->output();
    // The spec reporter's summary ("ℹ pass 8"): a run that skipped the
    // tests it should have run would exit 0 too.
    EXPECT_TRUE(absl::StrContains(
        (*node)->output(),
        absl::StrCat("\xe2\x84\xb9 pass ", expected_pass, "\n")))
        << "expected " << expected_pass << " passing tests";
    EXPECT_TRUE(absl::StrContains((*node)->output(), "\xe2\x84\xb9 fail 0\n"));
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<Subprocess> server_;
  std::string dir_;
  int port_ = 0;
};

TEST_F(NodeClientE2eTest, PlaintextInDevelopmentMode) {
  // A short Redis deadline and claim lease, so the tests can force
  // UNAVAILABLE and ABORTED by pausing Redis; a small member burst, so they
  // can force RESOURCE_EXHAUSTED.
  ASSERT_NO_FATAL_FAILURE(StartServer(
      {"--insecure_dev", "--redis_timeout=500ms", "--claim_lease=1s",
       "--rate_limits=SubmitRating.member=60/m:burst=2"}));
  RunNodeTests({}, 8);
}

TEST_F(NodeClientE2eTest, TlsWithApiKeysAndJwt) {
  // A CA and a server certificate for 127.0.0.1, made by openssl.
  ASSERT_TRUE(Shell(absl::StrCat(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -days 2 -subj '/CN=test-ca' -keyout ",
      Path("ca.key"), " -out ", Path("ca.crt"))));
  ASSERT_TRUE(Shell(absl::StrCat(
      "printf 'subjectAltName=IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' "
      "> ",
      Path("server.ext"))));
  ASSERT_TRUE(Shell(absl::StrCat(
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
      "-nodes -subj '/CN=makegood' -keyout ",
      Path("server.key"), " -out ", Path("server.csr"))));
  ASSERT_TRUE(Shell(absl::StrCat(
      "openssl x509 -req -in ", Path("server.csr"), " -CA ", Path("ca.crt"),
      " -CAkey ", Path("ca.key"), " -set_serial 7 -days 2 -extfile ",
      Path("server.ext"), " -out ", Path("server.crt"))));
  // API keys are stored as SHA-256: `<hex> <principal> <roles>` (README).
  struct ApiKey {
    std::string key, principal, role;
  };
  for (const ApiKey& k : {ApiKey{kAppKey, "app-1", "app-backend"},
                          ApiKey{kOrderKey, "orders-1", "order-system"}}) {
    ASSERT_TRUE(Shell(absl::StrCat(
        "printf %s '", k.key, "' | sha256sum | cut -d' ' -f1 | sed 's/$/ ",
        k.principal, " ", k.role, "/' >> ", Path("api_keys"))));
  }
  ASSERT_TRUE(
      Shell(absl::StrCat("printf %s '", kJwtSecret, "' > ", Path("jwt.key"))));
  ASSERT_NO_FATAL_FAILURE(StartServer(
      {"--tls_cert=" + Path("server.crt"), "--tls_key=" + Path("server.key"),
       "--api_keys_file=" + Path("api_keys"), "--jwt_issuer=https://id.example",
       "--jwt_audience=makegood", "--jwt_key_file=" + Path("jwt.key"),
       "--jwt_algorithm=HS256"}));
  RunNodeTests({{"MAKEGOOD_CA", Path("ca.crt")},
                {"MAKEGOOD_APP_API_KEY", kAppKey},
                {"MAKEGOOD_ORDER_API_KEY", kOrderKey},
                {"MAKEGOOD_JWT_SECRET", kJwtSecret}},
               5);
}

}  // namespace
}  // namespace makegood
