#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz, clang, ASan + UBSan) and runs each
# for FUZZ_SECONDS, starting from its committed seeds (tests/fuzz/corpus/<t>/)
# plus what earlier runs in this build directory found. Prints one summary
# line per target (runs, exec/s, coverage, result) and exits non-zero if any
# target crashed, leaked, timed out or broke a property; the input that did
# it is kept and named in the summary.
#
# Environment:
#   FUZZ_SECONDS   seconds per target (default 60)
#   FUZZ_TARGETS   space-separated targets (default: all)
#   FUZZ_JOBS      targets run at once (default 1)
#   FUZZ_NO_BUILD  set to 1 to use the targets already built
#   MAKEGOOD_ASAN_BUILD_DIR  build directory shared with scripts/sanitize.sh
#                            (default build-asan)
# Reproduce a crash: <build>/tests/fuzz/<target> <crash file>
set -euo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR="${MAKEGOOD_ASAN_BUILD_DIR:-build-asan}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_JOBS="${FUZZ_JOBS:-1}"
ALL_TARGETS=(rating_request_fuzzer write_requests_fuzzer policy_text_fuzzer
  script_reply_fuzzer jwt_fuzzer auth_headers_fuzzer redis_url_fuzzer
  server_flags_fuzzer)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"

if [[ "${FUZZ_NO_BUILD:-0}" != 1 ]]; then
  MAKEGOOD_SANITIZE_BUILD_ONLY=1 MAKEGOOD_BUILD_TARGETS="${TARGETS[*]}" \
    MAKEGOOD_ASAN_BUILD_DIR="$BUILD_DIR" scripts/sanitize.sh
fi

# The same sanitizer options as scripts/sanitize.sh (see there why).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

OUT="$BUILD_DIR/fuzz-runs"
mkdir -p "$OUT"

# run TARGET: fuzzes it, leaves its log and summary line in $OUT/TARGET.*
run() {
  local target=$1 dir="$OUT/$1"
  mkdir -p "$dir/corpus" "$dir/crashes"
  local status=0
  # -timeout: an input taking 30 s is a hang; -rss_limit_mb: 2 GB is a leak
  # or a blow-up. New inputs go to the first corpus directory only, so the
  # committed seeds are never written to.
  "$BUILD_DIR/tests/fuzz/$target" -max_total_time="$FUZZ_SECONDS" \
    -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/" \
    "$dir/corpus" "tests/fuzz/corpus/$target" >"$dir.log" 2>&1 || status=$?
  local runs rate cov result
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir.log" | tail -n1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$dir.log" | tail -n1)
  # (|| true: a target that fails on its seeds prints no coverage line, and
  # its summary must still be written.)
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]*' "$dir.log" | tail -n1 || true)
  if ((status == 0)); then
    result="clean"
  else
    local crash
    crash=$(grep -o "Test unit written to .*" "$dir.log" | tail -n1 | sed 's/Test unit written to //' || true)
    result="FAILED (exit $status) ${crash:-see $dir.log}"
  fi
  printf '%-24s %4ss  runs %10s  exec/s %7s  %-18s  %s\n' "$target" \
    "$FUZZ_SECONDS" "${runs:-?}" "${rate:-?}" "${cov:-cov: ?}" "$result" \
    >"$dir.summary"
  return "$status"
}

echo "==> fuzzing ${#TARGETS[@]} targets, ${FUZZ_SECONDS}s each, ${FUZZ_JOBS} at a time"
start=$(date +%s)
pids=()
failed=0
for target in "${TARGETS[@]}"; do
  run "$target" &
  pids+=($!)
  if ((${#pids[@]} >= FUZZ_JOBS)); then
    wait "${pids[0]}" || failed=1
    pids=("${pids[@]:1}")
  fi
done
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done

for target in "${TARGETS[@]}"; do cat "$OUT/$target.summary"; done
echo "fuzz: ${#TARGETS[@]} targets in $(($(date +%s) - start))s, logs in $OUT/"
if ((failed)); then
  echo "fuzz: FAILED; reproduce with $BUILD_DIR/tests/fuzz/<target> <crash file>" >&2
  exit 1
fi
