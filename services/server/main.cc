// makegood server: flags -> config -> App -> wait for SIGTERM/SIGINT -> drain.
#include <csignal>
#include <cstdio>
#include <iostream>

#include "absl/flags/parse.h"
#include "absl/synchronization/mutex.h"
#include "services/core/clock.h"
#include "services/core/log.h"
#include "services/server/app.h"
#include "services/server/config.h"

int main(int argc, char** argv) {
  using makegood::LogLevel;
  if (makegood::server::WantsHelp(argc, argv)) {
    std::cout << makegood::server::HelpText();
    return 0;
  }
  if (absl::Status env = makegood::server::ApplyEnvironment(); !env.ok()) {
    std::cerr << "makegood: " << env.message() << "\n";
    return 2;
  }
  absl::ParseCommandLine(argc, argv);
  // Abseil's mutex deadlock detector builds a lock graph on every lock: a
  // debugging aid that costs measurable CPU per request in production.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::StatusOr<makegood::server::ServerConfig> config =
      makegood::server::ConfigFromFlags();
  if (!config.ok()) {
    std::cerr << "makegood: " << config.status().message() << "\n";
    return 2;
  }
  makegood::SetMinLogLevel(config->log_level);

  // Block the stop signals in every thread (threads inherit the mask), then
  // wait for one here.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  auto app = makegood::server::App::Start(*config, makegood::RealClock());
  if (!app.ok()) {
    makegood::Log(LogLevel::kError, "startup_failed",
                  {{"error", app.status().ToString()}});
    makegood::FlushLogs();
    return 1;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  makegood::Log(LogLevel::kInfo, "signal_received", {{"signal", signal}});
  (*app)->Shutdown();
  makegood::FlushLogs();
  return 0;
}
