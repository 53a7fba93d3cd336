// End-to-end: the built `makegood` binary with a real redis-server, called by
// `buf curl` through server reflection — a client this project did not write.
#include <signal.h>

#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/makegood_process.h"
#include "tests/testing/redis_server.h"
#include "tests/testing/subprocess.h"

namespace makegood {
namespace {

using ::makegood::testing::CommandResult;
using ::makegood::testing::RedisServer;
using ::makegood::testing::RunCommand;
using ::makegood::testing::Subprocess;
using ::testing::HasSubstr;
using ::testing::Not;

const std::string kBinary = MAKEGOOD_BINARY;
const std::string kBuf = MAKEGOOD_BUF;
const std::string kPolicy =
    std::string(MAKEGOOD_SOURCE_DIR) + "/config/policy/default.textproto";

constexpr char kMember[] =
    R"({"member":{"memberId":"m-1","tier":"premium",)"
    R"("memberSince":"2023-01-01T00:00:00Z","flags":["verified"]}})";
constexpr char kOrder[] =
    R"({"order":{"orderId":"o-1","memberId":"m-1","storeId":"s-1",)"
    R"("courierId":"c-1","currency":"EUR","totalMinor":"2500",)"
    R"("deliveryFeeMinor":"300","lines":[{"lineId":"l1","sku":"ICE-1",)"
    R"("category":"frozen","quantity":1,"amountMinor":"800"}],)"
    R"("deliveredAt":"2026-11-01T10:00:00Z",)"
    R"("paymentMethod":"PAYMENT_METHOD_CARD"}})";

class MakegoodE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto redis = RedisServer::Start();
    ASSERT_TRUE(redis.ok()) << redis.status();
    redis_ = *std::move(redis);
  }

  // Starts the server on a free port and waits for its "serving" log line.
  void StartServer(std::vector<std::string> args = {},
                   std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {kBinary};
    if (args.empty()) {
      args = {"--listen=127.0.0.1:0", "--redis=" + redis_->url(),
              "--policy=" + kPolicy, "--health_interval=50ms",
              "--insecure_dev"};
    }
    argv.insert(argv.end(), args.begin(), args.end());
    auto server = testing::StartMakegood(argv, env);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server->process);
    port_ = server->port;
  }

  std::string Url(const std::string& method) const {
    return absl::StrCat("http://127.0.0.1:", port_, "/", method);
  }

  std::vector<std::string> CurlArgs(const std::string& method,
                                    const std::string& body) const {
    std::vector<std::string> argv = {kBuf, "curl", "--protocol", "grpc",
                                     "--http2-prior-knowledge"};
    if (!body.empty()) {
      argv.push_back("-d");
      argv.push_back(body);
    }
    argv.push_back(Url(method));
    return argv;
  }

  CommandResult Curl(const std::string& method, const std::string& body = "") {
    auto result = RunCommand(CurlArgs(method, body), absl::Seconds(30));
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  std::string HealthStatus() {
    CommandResult r = Curl("grpc.health.v1.Health/Check");
    if (r.exit_code != 0) return "ERROR: " + r.output;
    return nlohmann::json::parse(r.output)["status"].get<std::string>();
  }

  std::unique_ptr<RedisServer> redis_;
  std::unique_ptr<Subprocess> server_;
  int port_ = 0;
};

TEST_F(MakegoodE2eTest, HelpDocumentsEveryOptionAndItsVariable) {
  auto r = RunCommand({kBinary, "--help"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->exit_code, 0);
  for (const char* name :
       {"--listen", "MAKEGOOD_LISTEN", "--redis", "MAKEGOOD_REDIS", "--policy",
        "MAKEGOOD_POLICY", "--partitions", "--shutdown_grace"}) {
    EXPECT_THAT(r->output, HasSubstr(name));
  }
}

TEST_F(MakegoodE2eTest, BadConfigurationStopsStartupNamingTheOption) {
  auto no_policy = RunCommand({kBinary, "--redis=" + redis_->url()});
  ASSERT_TRUE(no_policy.ok());
  EXPECT_EQ(no_policy->exit_code, 2);
  EXPECT_THAT(no_policy->output, HasSubstr("--policy"));

  auto bad_url =
      RunCommand({kBinary, "--policy=" + kPolicy, "--redis=http://x"});
  ASSERT_TRUE(bad_url.ok());
  EXPECT_EQ(bad_url->exit_code, 2);
  EXPECT_THAT(bad_url->output, HasSubstr("--redis"));

  std::string bad_policy = ::testing::TempDir() + "/bad_policy.textproto";
  std::ofstream(bad_policy) << "name: \"x\"\ntiers { name: \"Gold Tier\" }\n";
  auto invalid =
      RunCommand({kBinary, "--policy=" + bad_policy, "--redis=" + redis_->url(),
                  "--listen=127.0.0.1:0", "--insecure_dev"});
  ASSERT_TRUE(invalid.ok());
  EXPECT_EQ(invalid->exit_code, 1);
  EXPECT_THAT(invalid->output, HasSubstr("tiers[0].name"));
}

TEST_F(MakegoodE2eTest, RecordsAMemberAndAnOrderThroughReflection) {
  StartServer();
  EXPECT_EQ(HealthStatus(), "SERVING");

  CommandResult member =
      Curl("makegood.v1.MemberService/UpsertMember", kMember);
  ASSERT_EQ(member.exit_code, 0) << member.output;
  EXPECT_EQ(nlohmann::json::parse(member.output)["result"],
            "WRITE_RESULT_CREATED");

  CommandResult order = Curl("makegood.v1.OrderService/RecordDelivery", kOrder);
  ASSERT_EQ(order.exit_code, 0) << order.output;
  EXPECT_EQ(nlohmann::json::parse(order.output)["result"],
            "WRITE_RESULT_CREATED");

  CommandResult again = Curl("makegood.v1.OrderService/RecordDelivery", kOrder);
  ASSERT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(nlohmann::json::parse(again.output)["result"],
            "WRITE_RESULT_UNCHANGED");

  CommandResult got =
      Curl("makegood.v1.OrderService/GetOrder", R"({"orderId":"o-1"})");
  ASSERT_EQ(got.exit_code, 0) << got.output;
  auto json = nlohmann::json::parse(got.output);
  EXPECT_EQ(json["order"]["memberId"], "m-1");
  EXPECT_EQ(json["order"]["totalMinor"], "2500");
}

TEST_F(MakegoodE2eTest, BadRequestNamesTheFieldsAndStoresNothing) {
  StartServer();
  CommandResult bad = Curl("makegood.v1.MemberService/UpsertMember",
                           R"({"member":{"memberId":"m 1","tier":"gold"}})");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_THAT(bad.output, HasSubstr("invalid_argument"));
  EXPECT_THAT(bad.output, HasSubstr("member.member_id"));
  EXPECT_THAT(bad.output, HasSubstr("member.tier"));
  EXPECT_THAT(bad.output, HasSubstr("member.member_since"));
  // A well-formed id with a bad tier: refused, and not stored.
  CommandResult tier = Curl("makegood.v1.MemberService/UpsertMember",
                            R"({"member":{"memberId":"m-2","tier":"gold",)"
                            R"("memberSince":"2023-01-01T00:00:00Z"}})");
  EXPECT_THAT(tier.output, HasSubstr("member.tier"));
  CommandResult get =
      Curl("makegood.v1.MemberService/GetMember", R"({"memberId":"m-2"})");
  EXPECT_NE(get.exit_code, 0);
  EXPECT_THAT(get.output, HasSubstr("not_found"));
}

TEST_F(MakegoodE2eTest, HealthAndCallsFollowRedisGoingAwayAndComingBack) {
  StartServer();
  ASSERT_EQ(HealthStatus(), "SERVING");
  // Follow the health stream: each change arrives as it happens.
  auto watch = Subprocess::Start(CurlArgs("grpc.health.v1.Health/Watch", ""));
  ASSERT_TRUE(watch.ok());
  auto has = [](const char* status) {
    return [status](const std::string& line) {
      return absl::StrContains(line, absl::StrCat("\"", status, "\""));
    };
  };
  ASSERT_TRUE((*watch)->WaitForLine(has("SERVING"), absl::Seconds(10)).ok());

  ASSERT_TRUE(redis_->Stop().ok());
  auto down = (*watch)->WaitForLine(has("NOT_SERVING"), absl::Seconds(10));
  ASSERT_TRUE(down.ok()) << down.status();
  EXPECT_EQ(HealthStatus(), "NOT_SERVING");
  CommandResult refused =
      Curl("makegood.v1.MemberService/UpsertMember", kMember);
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("unavailable"));

  ASSERT_TRUE(redis_->Restart().ok());
  auto up = (*watch)->WaitForLine(has("SERVING"), absl::Seconds(10));
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_EQ(HealthStatus(), "SERVING");
  CommandResult member =
      Curl("makegood.v1.MemberService/UpsertMember", kMember);
  EXPECT_EQ(member.exit_code, 0) << member.output;
}

TEST_F(MakegoodE2eTest, TakesItsConfigurationFromTheEnvironment) {
  StartServer({}, {});  // Flags first, to have a comparison port.
  server_->Signal(SIGTERM);
  ASSERT_TRUE(server_->Wait(absl::Seconds(20)).ok());
  StartServer({"--health_interval=50ms"}, {{"MAKEGOOD_LISTEN", "127.0.0.1:0"},
                                           {"MAKEGOOD_REDIS", redis_->url()},
                                           {"MAKEGOOD_POLICY", kPolicy},
                                           {"MAKEGOOD_PARTITIONS", "64"},
                                           {"MAKEGOOD_INSECURE_DEV", "true"}});
  EXPECT_EQ(HealthStatus(), "SERVING");
  CommandResult member =
      Curl("makegood.v1.MemberService/UpsertMember", kMember);
  EXPECT_EQ(member.exit_code, 0) << member.output;
}

// The Korean grocery app's first hour on the sample policy: a won order
// rated 50 % for melted ice cream is refunded in won, explained in won, and
// paid (the settlement worker in the same process); an order in a currency
// the policy does not serve is refused before anything is stored.
TEST_F(MakegoodE2eTest, AWonOrderIsRefundedInWonAndAnUnservedCurrencyRefused) {
  StartServer({"--listen=127.0.0.1:0", "--redis=" + redis_->url(),
               "--policy=" + kPolicy, "--health_interval=50ms",
               "--insecure_dev", "--settlement_worker",
               "--sandbox=latency=1ms"});
  ASSERT_EQ(Curl("makegood.v1.MemberService/UpsertMember", kMember).exit_code,
            0);
  const std::string delivered = absl::FormatTime(
      "%Y-%m-%dT%H:%M:%SZ", absl::Now() - absl::Hours(2), absl::UTCTimeZone());
  const auto order = [&](const std::string& id, const std::string& currency) {
    return absl::StrCat(
        R"({"order":{"orderId":")", id,
        R"(","memberId":"m-1","storeId":"s-1","courierId":"c-1",)",
        R"("currency":")", currency,
        R"(","totalMinor":"23000","deliveryFeeMinor":"3000",)",
        R"("lines":[{"lineId":"l1","sku":"ICE-1","category":"frozen",)",
        R"("quantity":1,"amountMinor":"8000"},{"lineId":"l2","sku":"RICE",)",
        R"("category":"pantry","quantity":1,"amountMinor":"12000"}],)",
        R"("deliveredAt":")", delivered,
        R"(","paymentMethod":"PAYMENT_METHOD_CARD"}})");
  };
  CommandResult recorded =
      Curl("makegood.v1.OrderService/RecordDelivery", order("o-krw", "KRW"));
  ASSERT_EQ(recorded.exit_code, 0) << recorded.output;

  CommandResult rated = Curl(
      "makegood.v1.RatingService/SubmitRating",
      R"({"idempotencyKey":"k-krw","memberId":"m-1","orderId":"o-krw",)"
      R"("satisfactionPercent":50,"lineRatings":[{"lineId":"l1",)"
      R"("satisfactionPercent":50,"reasons":["REASON_MELTED_OR_WARM"]}]})");
  ASSERT_EQ(rated.exit_code, 0) << rated.output;
  const auto decision = nlohmann::json::parse(rated.output)["decision"];
  EXPECT_EQ(decision["outcome"], "OUTCOME_REFUND");
  EXPECT_EQ(decision["refund"]["currency"], "KRW");
  EXPECT_EQ(decision["refund"]["amountMinor"], "8000");
  EXPECT_THAT(decision["explanation"].get<std::string>(),
              HasSubstr("\u20A98,000"));
  const std::string refund_id = decision["refund"]["refundId"];

  std::string state;
  for (int i = 0; i < 100 && state != "REFUND_STATE_SUCCEEDED"; ++i) {
    CommandResult got =
        Curl("makegood.v1.RefundService/GetRefund",
             absl::StrCat(R"({"refundId":")", refund_id, R"("})"));
    ASSERT_EQ(got.exit_code, 0) << got.output;
    state = nlohmann::json::parse(got.output)["refund"]["state"];
    if (state != "REFUND_STATE_SUCCEEDED")
      absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(state, "REFUND_STATE_SUCCEEDED");

  CommandResult trust = Curl("makegood.v1.MemberService/GetTrust",
                             R"({"memberId":"m-1","currency":"KRW"})");
  ASSERT_EQ(trust.exit_code, 0) << trust.output;
  EXPECT_EQ(nlohmann::json::parse(trust.output)["trust"]["currency"], "KRW");

  CommandResult refused =
      Curl("makegood.v1.OrderService/RecordDelivery", order("o-gbp", "GBP"));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.output, HasSubstr("failed_precondition"));
  EXPECT_THAT(refused.output, HasSubstr("GBP"));
  EXPECT_THAT(refused.output, HasSubstr("KRW"));
  CommandResult missing =
      Curl("makegood.v1.OrderService/GetOrder", R"({"orderId":"o-gbp"})");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_THAT(missing.output, HasSubstr("not_found"));
}

TEST_F(MakegoodE2eTest, LogsOneLinePerCallAndNoPersonalData) {
  StartServer({"--listen=127.0.0.1:0", "--redis=" + redis_->url(),
               "--policy=" + kPolicy, "--health_interval=50ms",
               "--insecure_dev", "--request_log"});
  // Personal data planted in every field that could leak: member ids (also
  // an unknown one, in an error path) and the member's free-text comment.
  const std::string member = "planted-member-9f1c";
  const std::string comment = "PLANTED-COMMENT-4e2a my address is 1 Main St";
  std::string upsert = std::string(kMember);
  upsert.replace(upsert.find("m-1"), 3, member);
  ASSERT_EQ(Curl("makegood.v1.MemberService/UpsertMember", upsert).exit_code,
            0);
  std::string order = std::string(kOrder);
  order.replace(order.find("\"m-1\""), 5, "\"" + member + "\"");
  CommandResult recorded =
      Curl("makegood.v1.OrderService/RecordDelivery", order);
  ASSERT_EQ(recorded.exit_code, 0) << recorded.output;
  std::string rating =
      absl::StrCat(R"({"idempotencyKey":"k-planted","memberId":")", member,
                   R"(","orderId":"o-1","satisfactionPercent":40,"comment":")",
                   comment, R"("})");
  // The order was delivered on 2026-11-01; whatever the decision or error,
  // the call and its replay must be logged without the comment.
  Curl("makegood.v1.RatingService/SubmitRating", rating);
  Curl("makegood.v1.RatingService/SubmitRating", rating);
  Curl("makegood.v1.MemberService/GetTrust",
       absl::StrCat(R"({"memberId":")", member, R"("})"));
  Curl("makegood.v1.MemberService/GetMember",
       R"({"memberId":"planted-unknown-77aa"})");
  Curl("makegood.v1.RefundService/ListRefunds",
       absl::StrCat(R"({"memberId":")", member, R"("})"));
  server_->Signal(SIGTERM);
  ASSERT_TRUE(server_->Wait(absl::Seconds(30)).ok());

  const std::string& logs = server_->output();
  EXPECT_THAT(logs, Not(HasSubstr("planted-")));
  EXPECT_THAT(logs, Not(HasSubstr("PLANTED-")));
  EXPECT_THAT(logs, Not(HasSubstr("Main St")));
  // And the calls are there, with the member pseudonymised.
  EXPECT_THAT(logs, HasSubstr(R"("event":"rpc")"));
  EXPECT_THAT(
      logs, HasSubstr(R"("method":"/makegood.v1.RatingService/SubmitRating")"));
  EXPECT_THAT(logs, HasSubstr(R"("member":"p_)"));
}

TEST_F(MakegoodE2eTest, SigtermDrainsAndExitsZero) {
  StartServer();
  ASSERT_EQ(HealthStatus(), "SERVING");
  server_->Signal(SIGTERM);
  auto code = server_->Wait(absl::Seconds(30));
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  EXPECT_THAT(server_->output(), HasSubstr("shutdown_complete"));
}

}  // namespace
}  // namespace makegood
