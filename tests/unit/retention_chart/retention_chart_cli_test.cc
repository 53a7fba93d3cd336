// makegood_policy retention-chart, run as a risk lead would run it: from a
// saved response, and against a server (an in-process fake InsightsService
// on an ephemeral port).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/json_util.h"
#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server.h"
#include "grpcpp/server_builder.h"
#include "gtest/gtest.h"
#include "makegood/v1/insights_service.grpc.pb.h"
#include "tests/testing/subprocess.h"
#include "tests/unit/retention_chart/svg_reader.h"

namespace makegood {
namespace {

namespace fs = std::filesystem;
namespace v1 = ::makegood::v1;
using ::makegood::retention_chart::testing::ReadSvg;
using ::makegood::retention_chart::testing::SvgDocument;
using ::makegood::testing::CommandResult;
using ::makegood::testing::RunCommand;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::string kBinary = MAKEGOOD_POLICY_BINARY;
const std::string kSample =
    std::string(MAKEGOOD_SOURCE_DIR) + "/config/retention/sample_response.json";
const std::string kCommittedChart =
    std::string(MAKEGOOD_SOURCE_DIR) + "/docs/img/retention_chart.svg";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

v1::GetRetentionStatsResponse SampleResponse() {
  v1::GetRetentionStatsResponse response;
  const auto status =
      google::protobuf::util::JsonStringToMessage(ReadAll(kSample), &response);
  EXPECT_TRUE(status.ok()) << status.ToString();
  return response;
}

// Answers GetRetentionStats with the sample response when the call carries
// an x-api-key, and remembers what it was asked.
class FakeInsights final : public v1::InsightsService::Service {
 public:
  grpc::Status GetRetentionStats(
      grpc::ServerContext* context, const v1::GetRetentionStatsRequest* request,
      v1::GetRetentionStatsResponse* response) override {
    absl::MutexLock lock(&mu_);
    request_ = *request;
    metadata_.clear();
    for (const auto& [key, value] : context->client_metadata()) {
      metadata_[std::string(key.data(), key.size())] =
          std::string(value.data(), value.size());
    }
    if (!metadata_.contains("x-api-key")) {
      return grpc::Status(grpc::UNAUTHENTICATED, "no credential");
    }
    *response = SampleResponse();
    return grpc::Status::OK;
  }

  v1::GetRetentionStatsRequest request() {
    absl::MutexLock lock(&mu_);
    return request_;
  }
  std::map<std::string, std::string> metadata() {
    absl::MutexLock lock(&mu_);
    return metadata_;
  }

 private:
  absl::Mutex mu_;
  v1::GetRetentionStatsRequest request_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> metadata_ ABSL_GUARDED_BY(mu_);
};

class RetentionChartCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           absl::StrCat(
               "retention_chart_cli_", ::getpid(), "_",
               ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override {
    if (server_ != nullptr) server_->Shutdown();
    fs::remove_all(dir_);
  }

  std::string Path(const std::string& name) { return (dir_ / name).string(); }

  CommandResult Run(std::vector<std::string> args) {
    args.insert(args.begin(), {kBinary, "retention-chart"});
    absl::StatusOr<CommandResult> result = RunCommand(args);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : CommandResult{};
  }

  // Starts the fake on 127.0.0.1, an ephemeral port; returns host:port.
  std::string StartServer() {
    int port = 0;
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                             &port);
    builder.RegisterService(&insights_);
    server_ = builder.BuildAndStart();
    EXPECT_NE(server_, nullptr);
    return absl::StrCat("127.0.0.1:", port);
  }

  fs::path dir_;
  FakeInsights insights_;
  std::unique_ptr<grpc::Server> server_;
};

TEST_F(RetentionChartCliTest, DrawsASavedResponse) {
  const std::string out = Path("chart.svg");
  CommandResult r = Run({"--from_json=" + kSample, "--out=" + out});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output, absl::StrCat("wrote ", out,
                                   ": 30-day reorder rate of 12 cohorts from ",
                                   kSample, "\n"));
  absl::StatusOr<SvgDocument> doc = ReadSvg(ReadAll(out));
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->Find("rect", "bar").size(), 12u);
}

TEST_F(RetentionChartCliTest, CommittedSampleChartIsCurrent) {
  const std::string out = Path("chart.svg");
  ASSERT_EQ(Run({"--from_json=" + kSample, "--out=" + out}).exit_code, 0);
  EXPECT_TRUE(ReadAll(out) == ReadAll(kCommittedChart))
      << "docs/img/retention_chart.svg is not what the chart draws now; "
         "redraw it: makegood_policy retention-chart "
         "--from_json=config/retention/sample_response.json "
         "--out=docs/img/retention_chart.svg";
}

TEST_F(RetentionChartCliTest, AsksTheServerWithTheFlags) {
  const std::string target = StartServer();
  const std::string out = Path("chart.svg");
  CommandResult r = Run(
      {"--target=" + target, "--metadata=x-api-key=k1,authorization=Bearer t",
       "--filter=CURRENCY=EUR", "--window=7", "--out=" + out});
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output,
              HasSubstr("7-day reorder rate of 12 cohorts from " + target));
  const v1::GetRetentionStatsRequest request = insights_.request();
  EXPECT_THAT(request.group_by(), ElementsAre(v1::RETENTION_DIMENSION_OUTCOME,
                                              v1::RETENTION_DIMENSION_ARM));
  ASSERT_EQ(request.filters_size(), 1);
  EXPECT_EQ(request.filters(0).dimension(), v1::RETENTION_DIMENSION_CURRENCY);
  EXPECT_EQ(request.filters(0).value(), "EUR");
  EXPECT_EQ(insights_.metadata()["x-api-key"], "k1");
  EXPECT_EQ(insights_.metadata()["authorization"], "Bearer t");
  const std::string svg = ReadAll(out);
  EXPECT_THAT(svg, HasSubstr("only currency = EUR"));
  EXPECT_THAT(svg, HasSubstr("within 7 days"));
}

TEST_F(RetentionChartCliTest, GroupByNamesTheDimensions) {
  const std::string target = StartServer();
  CommandResult r = Run({"--target=" + target, "--metadata=x-api-key=k",
                         "--group_by=recovery,TIER", "--out=" + Path("c.svg")});
  // The sample's cohorts are by outcome and arm whatever was asked.
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(insights_.request().group_by(),
              ElementsAre(v1::RETENTION_DIMENSION_RECOVERY,
                          v1::RETENTION_DIMENSION_TIER));
}

TEST_F(RetentionChartCliTest, ReportsTheServersRefusal) {
  const std::string target = StartServer();
  const std::string out = Path("chart.svg");
  CommandResult r = Run({"--target=" + target, "--out=" + out});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("GetRetentionStats at " + target +
                                  ": UNAUTHENTICATED: no credential"));
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(RetentionChartCliTest, ReportsAFileThatIsNotAResponse) {
  const std::string json = Path("bad.json");
  std::ofstream(json) << R"({"cohorts": [{"labels": 3}]})";
  CommandResult r = Run({"--from_json=" + json, "--out=" + Path("c.svg")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr(json + ": not a GetRetentionStatsResponse"));
}

TEST_F(RetentionChartCliTest, ReportsImpossibleFigures) {
  const std::string json = Path("impossible.json");
  std::ofstream(json) << R"({"cohorts": [{"windows": [
      {"days": 30, "troubles": "10", "reordered": "11"}]}]})";
  CommandResult r = Run({"--from_json=" + json, "--out=" + Path("c.svg")});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_THAT(r.output, HasSubstr("cohorts[0].windows[0].reordered: 11 of 10"));
}

TEST_F(RetentionChartCliTest, MisuseExitsWithUsage) {
  const std::string out = "--out=" + Path("c.svg");
  const std::string json = "--from_json=" + kSample;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{json}, "--out is required"},
      {{out}, "give either --target"},
      {{out, json, "--target=127.0.0.1:1"}, "give either --target"},
      {{out, json, "--window=14"}, "--window: want 7, 30 or 90"},
      {{out, json, "--window=thirty"}, "--window: want 7, 30 or 90"},
      {{out, json, "--group_by=OUTCOME"}, "--group_by goes with --target"},
      {{out, "--target=h:1", "--group_by=OUTCOME,COLOUR"},
       "--group_by: \"COLOUR\" is not a dimension"},
      {{out, "--target=h:1", "--group_by=UNSPECIFIED"},
       "\"UNSPECIFIED\" is not a dimension"},
      {{out, "--target=h:1", "--filter=OUTCOME"},
       "--filter: \"OUTCOME\" is not DIMENSION=VALUE"},
      {{out, "--target=h:1", "--metadata=X-Api-Key=k"},
       "--metadata: \"X-Api-Key\""},
      {{out, "--target="}, "--target: want HOST:PORT"},
      {{out, json, "--colour=red"}, "unknown argument \"--colour=red\""},
      {{out, out, json}, "--out is given twice"},
  };
  for (const auto& [args, message] : cases) {
    CommandResult r = Run(args);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_THAT(r.output, HasSubstr(message));
    EXPECT_THAT(r.output, HasSubstr("usage:"));
  }
}

}  // namespace
}  // namespace makegood
