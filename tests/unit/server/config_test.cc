#include "services/server/config.h"

#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/settlement/sandbox_provider.h"
#include "services/store/key_schema.h"

ABSL_DECLARE_FLAG(std::string, listen);
ABSL_DECLARE_FLAG(std::string, redis);
ABSL_DECLARE_FLAG(std::string, policy);
ABSL_DECLARE_FLAG(int, partitions);
ABSL_DECLARE_FLAG(int, redis_connections);
ABSL_DECLARE_FLAG(absl::Duration, redis_timeout);
ABSL_DECLARE_FLAG(absl::Duration, redis_connect_timeout);
ABSL_DECLARE_FLAG(int, redis_max_outstanding);
ABSL_DECLARE_FLAG(int, max_message_bytes);
ABSL_DECLARE_FLAG(absl::Duration, shutdown_grace);
ABSL_DECLARE_FLAG(absl::Duration, health_interval);
ABSL_DECLARE_FLAG(std::string, log_level);
ABSL_DECLARE_FLAG(bool, insecure_dev);
ABSL_DECLARE_FLAG(std::string, tls_cert);
ABSL_DECLARE_FLAG(std::string, tls_key);
ABSL_DECLARE_FLAG(std::string, tls_client_ca);
ABSL_DECLARE_FLAG(std::string, jwt_issuer);
ABSL_DECLARE_FLAG(std::string, jwt_audience);
ABSL_DECLARE_FLAG(std::string, jwt_key_file);
ABSL_DECLARE_FLAG(std::string, jwt_algorithm);
ABSL_DECLARE_FLAG(std::string, api_keys_file);
ABSL_DECLARE_FLAG(std::string, admin_listen);
ABSL_DECLARE_FLAG(bool, settlement_worker);
ABSL_DECLARE_FLAG(std::string, settlement_consumer);
ABSL_DECLARE_FLAG(std::string, sandbox);
ABSL_DECLARE_FLAG(std::string, rate_limits);
ABSL_DECLARE_FLAG(std::string, settlement_fallback);

namespace makegood::server {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// Every flag the server documents, as (flag, environment variable).
const std::vector<std::pair<std::string, std::string>>& AllFlags() {
  static const auto* flags =
      new std::vector<std::pair<std::string, std::string>>{
          {"listen", "MAKEGOOD_LISTEN"},
          {"redis", "MAKEGOOD_REDIS"},
          {"policy", "MAKEGOOD_POLICY"},
          {"partitions", "MAKEGOOD_PARTITIONS"},
          {"redis_connections", "MAKEGOOD_REDIS_CONNECTIONS"},
          {"redis_timeout", "MAKEGOOD_REDIS_TIMEOUT"},
          {"redis_connect_timeout", "MAKEGOOD_REDIS_CONNECT_TIMEOUT"},
          {"redis_max_outstanding", "MAKEGOOD_REDIS_MAX_OUTSTANDING"},
          {"max_message_bytes", "MAKEGOOD_MAX_MESSAGE_BYTES"},
          {"shutdown_grace", "MAKEGOOD_SHUTDOWN_GRACE"},
          {"health_interval", "MAKEGOOD_HEALTH_INTERVAL"},
          {"log_level", "MAKEGOOD_LOG_LEVEL"},
      };
  return *flags;
}

// Restores every flag after each test and keeps MAKEGOOD_* variables from
// leaking in from the environment or between tests.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { UnsetAll(); }
  void TearDown() override { UnsetAll(); }

  static void UnsetAll() {
    for (const auto& [flag, env] : AllFlags()) unsetenv(env.c_str());
  }

  // ConfigFromFlags with --policy and --insecure_dev set (the default listen
  // address is loopback), so the other checks are reached.
  static absl::StatusOr<ServerConfig> Config() {
    if (absl::GetFlag(FLAGS_policy).empty()) {
      absl::SetFlag(&FLAGS_policy, "policy.textproto");
    }
    if (absl::GetFlag(FLAGS_tls_cert).empty()) {
      absl::SetFlag(&FLAGS_insecure_dev, true);
    }
    return ConfigFromFlags();
  }

  static void ExpectInvalid(const absl::StatusOr<ServerConfig>& config,
                            const std::string& text) {
    ASSERT_FALSE(config.ok()) << "expected an error mentioning " << text;
    EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(config.status().message()), HasSubstr(text));
  }

 private:
  absl::FlagSaver flag_saver_;
};

// ---- ApplyEnvironment -----------------------------------------------------

TEST_F(ConfigTest, ApplyEnvironmentSetsFlagsFromMakegoodVariables) {
  setenv("MAKEGOOD_POLICY", "/etc/makegood/policy.textproto", 1);
  setenv("MAKEGOOD_PARTITIONS", "128", 1);
  setenv("MAKEGOOD_REDIS_TIMEOUT", "250ms", 1);
  setenv("MAKEGOOD_REDIS", "redis://:pw@redis.svc:6380/2", 1);
  setenv("MAKEGOOD_LOG_LEVEL", "debug", 1);

  ASSERT_TRUE(ApplyEnvironment().ok());

  EXPECT_EQ(absl::GetFlag(FLAGS_policy), "/etc/makegood/policy.textproto");
  EXPECT_EQ(absl::GetFlag(FLAGS_partitions), 128);
  EXPECT_EQ(absl::GetFlag(FLAGS_redis_timeout), absl::Milliseconds(250));
  EXPECT_EQ(absl::GetFlag(FLAGS_redis), "redis://:pw@redis.svc:6380/2");
  EXPECT_EQ(absl::GetFlag(FLAGS_log_level), "debug");
}

TEST_F(ConfigTest, ApplyEnvironmentReadsAVariableForEveryFlag) {
  for (const auto& [flag, env] : AllFlags()) {
    absl::CommandLineFlag* reflected = absl::FindCommandLineFlag(flag);
    ASSERT_NE(reflected, nullptr) << flag;
    // A value no flag type accepts shows whether the variable is read at all.
    setenv(env.c_str(), "not a value", 1);
    absl::Status status = ApplyEnvironment();
    unsetenv(env.c_str());
    if (reflected->IsOfType<std::string>()) {
      EXPECT_TRUE(status.ok()) << env;
      EXPECT_EQ(reflected->CurrentValue(), "not a value") << env;
    } else {
      EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << env;
      EXPECT_THAT(std::string(status.message()), HasSubstr(env));
    }
  }
}

TEST_F(ConfigTest, ApplyEnvironmentLeavesFlagsAloneWithoutVariables) {
  absl::SetFlag(&FLAGS_partitions, 9);
  ASSERT_TRUE(ApplyEnvironment().ok());
  EXPECT_EQ(absl::GetFlag(FLAGS_partitions), 9);
  EXPECT_EQ(absl::GetFlag(FLAGS_listen), "127.0.0.1:50051");
}

TEST_F(ConfigTest, ApplyEnvironmentRefusesABadValueNamingTheVariable) {
  setenv("MAKEGOOD_PARTITIONS", "lots", 1);
  absl::Status status = ApplyEnvironment();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              StartsWith("MAKEGOOD_PARTITIONS=\"lots\""));
  EXPECT_EQ(absl::GetFlag(FLAGS_partitions), 64);
}

TEST_F(ConfigTest, ApplyEnvironmentRefusesABadDurationNamingTheVariable) {
  setenv("MAKEGOOD_SHUTDOWN_GRACE", "20", 1);  // No unit.
  absl::Status status = ApplyEnvironment();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("MAKEGOOD_SHUTDOWN_GRACE"));
}

// ---- ConfigFromFlags ------------------------------------------------------

TEST_F(ConfigTest, ConfigFromFlagsUsesTheDefaults) {
  absl::StatusOr<ServerConfig> config = Config();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "127.0.0.1:50051");
  EXPECT_EQ(config->redis_url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(config->redis.host, "127.0.0.1");
  EXPECT_EQ(config->redis.port, 6379);
  EXPECT_EQ(config->redis.db, 0);
  EXPECT_EQ(config->redis.connections, 2);
  EXPECT_EQ(config->redis.command_timeout, absl::Seconds(1));
  EXPECT_EQ(config->redis.connect_timeout, absl::Seconds(1));
  EXPECT_EQ(config->redis.max_outstanding, 10000);
  EXPECT_EQ(config->policy_path, "policy.textproto");
  EXPECT_EQ(config->partitions, 64);
  EXPECT_EQ(config->max_message_bytes, 1 << 20);
  EXPECT_EQ(config->shutdown_grace, absl::Seconds(20));
  EXPECT_EQ(config->health_interval, absl::Milliseconds(500));
  EXPECT_EQ(config->log_level, LogLevel::kInfo);
}

TEST_F(ConfigTest, ConfigFromFlagsReadsEveryFlag) {
  absl::SetFlag(&FLAGS_listen, "0.0.0.0:0");
  absl::SetFlag(&FLAGS_redis, "redis://u:pw@[::1]:6390/7");
  absl::SetFlag(&FLAGS_policy, "/p.textproto");
  absl::SetFlag(&FLAGS_partitions, 8);
  absl::SetFlag(&FLAGS_redis_connections, 4);
  absl::SetFlag(&FLAGS_redis_timeout, absl::Milliseconds(300));
  absl::SetFlag(&FLAGS_redis_connect_timeout, absl::Seconds(3));
  absl::SetFlag(&FLAGS_redis_max_outstanding, 50);
  absl::SetFlag(&FLAGS_max_message_bytes, 4096);
  absl::SetFlag(&FLAGS_shutdown_grace, absl::ZeroDuration());
  absl::SetFlag(&FLAGS_health_interval, absl::Seconds(2));
  absl::SetFlag(&FLAGS_log_level, "warning");
  absl::SetFlag(&FLAGS_tls_cert, "/tls/cert.pem");
  absl::SetFlag(&FLAGS_tls_key, "/tls/key.pem");
  absl::SetFlag(&FLAGS_tls_client_ca, "/tls/ca.pem");
  absl::SetFlag(&FLAGS_jwt_issuer, "https://issuer");
  absl::SetFlag(&FLAGS_jwt_audience, "makegood");
  absl::SetFlag(&FLAGS_jwt_key_file, "/jwt/key.pem");
  absl::SetFlag(&FLAGS_jwt_algorithm, "ES256");
  absl::SetFlag(&FLAGS_api_keys_file, "/keys/api_keys");
  absl::SetFlag(&FLAGS_admin_listen, "0.0.0.0:9090");
  absl::SetFlag(&FLAGS_settlement_worker, true);
  absl::SetFlag(&FLAGS_settlement_consumer, "pod-1");
  absl::SetFlag(&FLAGS_sandbox, "latency=5ms");
  absl::SetFlag(&FLAGS_settlement_fallback, "none");

  absl::StatusOr<ServerConfig> config = ConfigFromFlags();
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->listen, "0.0.0.0:0");
  EXPECT_EQ(config->redis_url, "redis://u:pw@[::1]:6390/7");
  EXPECT_EQ(config->redis.host, "::1");
  EXPECT_EQ(config->redis.port, 6390);
  EXPECT_EQ(config->redis.db, 7);
  EXPECT_EQ(config->redis.username, "u");
  EXPECT_EQ(config->redis.password, "pw");
  EXPECT_EQ(config->policy_path, "/p.textproto");
  EXPECT_EQ(config->partitions, 8);
  EXPECT_EQ(config->redis.connections, 4);
  EXPECT_EQ(config->redis.command_timeout, absl::Milliseconds(300));
  EXPECT_EQ(config->redis.connect_timeout, absl::Seconds(3));
  EXPECT_EQ(config->redis.max_outstanding, 50);
  EXPECT_EQ(config->max_message_bytes, 4096);
  EXPECT_EQ(config->shutdown_grace, absl::ZeroDuration());
  EXPECT_EQ(config->health_interval, absl::Seconds(2));
  EXPECT_EQ(config->log_level, LogLevel::kWarning);
  EXPECT_FALSE(config->insecure_dev);
  EXPECT_EQ(config->tls.cert_file, "/tls/cert.pem");
  EXPECT_EQ(config->tls.key_file, "/tls/key.pem");
  EXPECT_EQ(config->tls.client_ca_file, "/tls/ca.pem");
  EXPECT_EQ(config->auth.jwt_issuer, "https://issuer");
  EXPECT_EQ(config->auth.jwt_audience, "makegood");
  EXPECT_EQ(config->auth.jwt_key_file, "/jwt/key.pem");
  EXPECT_EQ(config->auth.jwt_algorithm, auth::JwtAlgorithm::kEs256);
  EXPECT_EQ(config->auth.api_keys_file, "/keys/api_keys");
  EXPECT_EQ(config->admin_listen, "0.0.0.0:9090");
  EXPECT_TRUE(config->settlement.run_worker);
  EXPECT_EQ(config->settlement.consumer, "pod-1");
  EXPECT_EQ(config->settlement.sandbox_spec, "latency=5ms");
  EXPECT_EQ(config->settlement.fallback, "");
}

TEST_F(ConfigTest, PlaintextOnlyInInsecureDevModeAndOnlyOnLoopback) {
  absl::SetFlag(&FLAGS_policy, "policy.textproto");
  ExpectInvalid(ConfigFromFlags(), "--tls_cert and --tls_key are required");
  absl::SetFlag(&FLAGS_insecure_dev, true);
  EXPECT_TRUE(ConfigFromFlags().ok());
  absl::SetFlag(&FLAGS_listen, "0.0.0.0:50051");
  ExpectInvalid(ConfigFromFlags(), "insecure_dev");
  absl::SetFlag(&FLAGS_listen, "[::1]:50051");
  EXPECT_TRUE(ConfigFromFlags().ok());
}

// Found by tests/fuzz/server_flags_fuzzer: "inf/s" parsed as an infinite
// rate, which the limiter reads as no limit at all, and "1e-320/h" as an
// interval too long to represent.
TEST_F(ConfigTest, ARateLimitThatIsNotAFiniteRateIsRefused) {
  for (const char* limits :
       {"SubmitRating.member=inf/s", "SubmitRating.member=1e400/s",
        "SubmitRating.client=1e-320/h", "SubmitRating.member=nan/s"}) {
    absl::SetFlag(&FLAGS_rate_limits, limits);
    ExpectInvalid(Config(), "--rate_limits");
  }
  absl::SetFlag(&FLAGS_rate_limits, "SubmitRating.member=30/m");
  EXPECT_TRUE(Config().ok());
}

// Found by tests/fuzz/server_flags_fuzzer: NaN passed both range checks of a
// sandbox probability, and an infinite latency meant payouts never answer.
TEST(SandboxSpec, NanProbabilitiesAndInfiniteLatenciesAreRefused) {
  for (const char* spec : {"decline=nan", "error=-nan", "slow=nan",
                           "latency=inf", "slow_latency=inf"}) {
    EXPECT_FALSE(settlement::ParseSandboxSpec(spec).ok()) << spec;
  }
  EXPECT_TRUE(settlement::ParseSandboxSpec("decline=0.5,latency=20ms").ok());
}

TEST_F(ConfigTest, ConfigFromFlagsRequiresAPolicy) {
  absl::StatusOr<ServerConfig> config = ConfigFromFlags();
  ExpectInvalid(config, "--policy");
  ExpectInvalid(config, "MAKEGOOD_POLICY");
}

TEST_F(ConfigTest, ConfigFromFlagsRefusesABadRedisUrlNamingTheFlag) {
  absl::SetFlag(&FLAGS_redis, "localhost:6379");
  absl::StatusOr<ServerConfig> config = Config();
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(config.status().message()), StartsWith("--redis: "));
  EXPECT_THAT(std::string(config.status().message()),
              HasSubstr("\"localhost:6379\""));
}

TEST_F(ConfigTest, ConfigFromFlagsAcceptsPartitionsUpToTheRedisSlotCount) {
  for (int partitions : {1, store::KeySchema::kMaxPartitions}) {
    absl::SetFlag(&FLAGS_partitions, partitions);
    absl::StatusOr<ServerConfig> config = Config();
    ASSERT_TRUE(config.ok()) << partitions << ": " << config.status();
    EXPECT_EQ(config->partitions, partitions);
  }
}

TEST_F(ConfigTest, ConfigFromFlagsRefusesPartitionsOutOfBounds) {
  for (int partitions : {0, -1, store::KeySchema::kMaxPartitions + 1}) {
    absl::SetFlag(&FLAGS_partitions, partitions);
    ExpectInvalid(Config(), "--partitions: must be 1-16384");
  }
}

TEST_F(ConfigTest, ConfigFromFlagsRefusesNonPositiveRedisTimeouts) {
  absl::SetFlag(&FLAGS_redis_timeout, absl::ZeroDuration());
  ExpectInvalid(Config(), "--redis_timeout");
  absl::SetFlag(&FLAGS_redis_timeout, absl::Seconds(1));
  absl::SetFlag(&FLAGS_redis_connect_timeout, absl::Milliseconds(-1));
  ExpectInvalid(Config(), "--redis_connect_timeout");
}

TEST_F(ConfigTest, ConfigFromFlagsRefusesANegativeShutdownGrace) {
  absl::SetFlag(&FLAGS_shutdown_grace, absl::Seconds(-1));
  ExpectInvalid(Config(), "--shutdown_grace");
}

TEST_F(ConfigTest, ConfigFromFlagsRefusesANonPositiveHealthInterval) {
  absl::SetFlag(&FLAGS_health_interval, absl::ZeroDuration());
  ExpectInvalid(Config(), "--health_interval");
}

TEST_F(ConfigTest, ConfigFromFlagsRefusesOtherBadValuesNamingTheFlag) {
  struct Case {
    void (*set)();
    const char* flag;
  };
  for (const Case& c : {
           Case{[] { absl::SetFlag(&FLAGS_listen, "50051"); }, "--listen"},
           Case{[] { absl::SetFlag(&FLAGS_redis_connections, 0); },
                "--redis_connections"},
           Case{[] { absl::SetFlag(&FLAGS_redis_connections, 65); },
                "--redis_connections"},
           Case{[] { absl::SetFlag(&FLAGS_redis_max_outstanding, 0); },
                "--redis_max_outstanding"},
           Case{[] { absl::SetFlag(&FLAGS_max_message_bytes, 1023); },
                "--max_message_bytes"},
           Case{[] { absl::SetFlag(&FLAGS_log_level, "verbose"); },
                "--log_level"},
       }) {
    absl::FlagSaver restore;
    c.set();
    ExpectInvalid(Config(), c.flag);
  }
}

// ---- Help -----------------------------------------------------------------

TEST_F(ConfigTest, HelpTextListsEveryFlagWithItsVariable) {
  std::string help = HelpText();
  for (const auto& [flag, env] : AllFlags()) {
    EXPECT_THAT(help, HasSubstr(absl::StrCat("--", flag, " (env ", env, ")")));
  }
}

TEST_F(ConfigTest, HelpTextShowsDefaults) {
  std::string help = HelpText();
  EXPECT_THAT(help, HasSubstr("--partitions (env MAKEGOOD_PARTITIONS)"));
  EXPECT_THAT(help, HasSubstr("default: 64\n"));
  EXPECT_THAT(help, HasSubstr("default: redis://127.0.0.1:6379/0\n"));
  EXPECT_THAT(help, HasSubstr("Policy file (makegood.v1.Policy as textproto). "
                              "Required.\n      default: (none)\n"));
}

TEST(WantsHelp, RecognisesTheHelpFlags) {
  for (const char* flag : {"--help", "-h", "--helpfull", "-help"}) {
    char program[] = "makegood";
    std::string arg = flag;
    char* argv[] = {program, arg.data()};
    EXPECT_TRUE(WantsHelp(2, argv)) << flag;
  }
}

TEST(WantsHelp, IgnoresOtherArgumentsAndTheProgramName) {
  char program[] = "--help";
  char policy[] = "--policy=p.textproto";
  char* argv[] = {program, policy};
  EXPECT_FALSE(WantsHelp(2, argv));
  EXPECT_FALSE(WantsHelp(1, argv));
}

}  // namespace
}  // namespace makegood::server
