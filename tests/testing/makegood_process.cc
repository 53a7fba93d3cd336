// File: tests/testing/makegood_process.cc
#include "tests/testing/makegood_process.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace makegood::testing {

absl::StatusOr<MakegoodProcess> StartMakegood(
    const std::vector<std::string>& argv,
    const std::map<std::string, std::string>& env, absl::Duration timeout) {
  absl::StatusOr<std::unique_ptr<Subprocess>> started =
      Subprocess::Start(argv, env);
  if (!started.ok()) return started.status();
  MakegoodProcess out;
  out.process = *std::move(started);
  absl::StatusOr<std::string> line = out.process->WaitForLine(
      [](const std::string& l) {
        return absl::StrContains(l, R"("event":"serving")");
      },
      timeout);
  if (!line.ok()) {
    return absl::Status(line.status().code(),
                        absl::StrCat(line.status().message(), "; it printed:\n",
                                     out.process->output()));
  }
  nlohmann::json serving = nlohmann::json::parse(*line, nullptr, false);
  if (serving.is_discarded() || !serving.contains("port") ||
      !serving["port"].is_number_integer() || serving["port"].get<int>() <= 0) {
    return absl::InternalError(
        absl::StrCat("the serving line names no port: ", *line));
  }
  out.port = serving["port"].get<int>();
  return out;
}

}  // namespace makegood::testing
