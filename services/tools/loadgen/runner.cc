#include "services/tools/loadgen/runner.h"

#include <memory>

#include "absl/strings/str_cat.h"

namespace makegood::loadgen {

BoundedResult RunBounded(int64_t count, int concurrency, StartFn start) {
  // Shared with the calls' callbacks, so it lives until the last one is done.
  struct State {
    State(int64_t calls, StartFn starter)
        : count(calls), start(std::move(starter)) {
      result.ok.assign(static_cast<size_t>(count), false);
    }
    // Starts the next call, if any: each completion starts one more, so
    // `concurrency` chains run side by side.
    static void Launch(const std::shared_ptr<State>& self) {
      int64_t i = self->next.fetch_add(1);
      if (i >= self->count) return;
      self->start(i, [self, i](const grpc::Status& status) {
        self->Record(i, status);
        Launch(self);
        absl::MutexLock lock(&self->mu);
        ++self->finished;
      });
    }
    void Record(int64_t i, const grpc::Status& status) {
      absl::MutexLock lock(&mu);
      result.codes[CodeIndex(status.error_code())]++;
      result.ok[static_cast<size_t>(i)] = status.ok();
      if (!status.ok() && result.first_error.empty()) {
        result.first_error = absl::StrCat(
            StatusCodeName(CodeIndex(status.error_code())),
            status.error_message().empty() ? "" : ": ", status.error_message());
      }
    }

    const int64_t count;
    const StartFn start;
    std::atomic<int64_t> next{0};
    absl::Mutex mu;
    BoundedResult result ABSL_GUARDED_BY(mu);
    int64_t finished ABSL_GUARDED_BY(mu) = 0;
  };
  auto state = std::make_shared<State>(count, std::move(start));
  int64_t begin = NowNs();
  for (int c = 0; c < concurrency; ++c) State::Launch(state);
  absl::MutexLock lock(&state->mu);
  state->mu.Await(absl::Condition(
      +[](State* s) ABSL_EXCLUSIVE_LOCKS_REQUIRED(s->mu) {
        return s->finished == s->count;
      },
      state.get()));
  BoundedResult result = std::move(state->result);
  result.seconds = static_cast<double>(NowNs() - begin) / 1e9;
  return result;
}

}  // namespace makegood::loadgen
