#!/usr/bin/env bash
# Builds the libFuzzer targets (clang-14, ASan+UBSan, build dir build-fuzz)
# and runs each for a bounded time from its seed corpus. Fails if any target
# finds a crash, leak, timeout, out-of-memory or sanitizer report; the
# reproducer is left in $FUZZ_WORK/artifacts/<target>/ and its path printed.
# The committed corpus is read, never written: new units go to $FUZZ_WORK.
#
#   tests/fuzz/run.sh                     every target, 40 s each
#   FUZZ_SECONDS=600 tests/fuzz/run.sh url handler   longer, some targets
# Environment: FUZZ_SECONDS (40), FUZZ_BUILD (build-fuzz), FUZZ_WORK
# (a fresh temporary directory), JOBS (2, for the build), FUZZ_JOBS
# (targets run at once; JOBS).
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${FUZZ_SECONDS:-40}
BUILD=${FUZZ_BUILD:-build-fuzz}
WORK=${FUZZ_WORK:-$(mktemp -d /tmp/casmem-fuzz.XXXXXX)}
ALL="handler json_body txn_body url http_request wal_record wal_scan wal_segment snapshot patch history mcp dump_line"
TARGETS=${*:-$ALL}

# -max_len per target: enough for its interesting inputs, small enough to
# keep executions fast. -dict where a token list helps.
max_len() {
  case $1 in
    handler) echo 8192 ;; json_body|txn_body) echo 4096 ;; url) echo 1024 ;; http_request) echo 4096 ;;
    patch|mcp|dump_line) echo 4096 ;;
    wal_record) echo 2048 ;; wal_scan|wal_segment|snapshot|history) echo 4096 ;;
  esac
}
dict() {
  case $1 in
    handler) echo tests/fuzz/handler.dict ;; json_body) echo tests/fuzz/json.dict ;;
    txn_body) echo tests/fuzz/txn.dict ;;
    url) echo tests/fuzz/url.dict ;; http_request) echo tests/fuzz/http.dict ;;
    patch) echo tests/fuzz/patch.dict ;; mcp) echo tests/fuzz/mcp.dict ;;
    dump_line) echo tests/fuzz/dump_line.dict ;; *) echo "" ;;
  esac
}

CC=clang-14 CXX=clang++-14 cmake -S . -B "$BUILD" -DCASMEM_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"${JOBS:-2}" --target fuzz_all

# Seeds of the binary formats, regenerated through today's writers, join
# the committed ones (which may predate a format change).
"$BUILD/bin/make_seeds" "$WORK/gen" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:suppressions=$PWD/tests/fuzz/ubsan.supp}
# One target's run; its log is $WORK/<target>.log, its exit status the
# fuzzer's (0: no finding in the time given).
fuzz_one() {
  local t=$1 d
  d=$(dict "$t")
  "$BUILD/bin/fuzz_$t" -max_total_time="$SECONDS_EACH" -max_len="$(max_len "$t")" \
    -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$WORK/artifacts/$t/" ${d:+-dict="$d"} \
    "$WORK/new/$t" "tests/fuzz/corpus/$t" "$WORK/gen/$t" >"$WORK/$t.log" 2>&1
}

# Targets run FUZZ_JOBS at a time (default JOBS, 2): each fuzzer is one
# process on one core, so two cores halve the wall time and keep each
# target's ${SECONDS_EACH}s. Reports are printed in target order.
for t in $TARGETS; do
  [ -x "$BUILD/bin/fuzz_$t" ] || { echo "no such fuzz target: $t" >&2; exit 2; }
  mkdir -p "$WORK/new/$t" "$WORK/artifacts/$t" "$WORK/gen/$t"
done
PARALLEL=${FUZZ_JOBS:-${JOBS:-2}}
declare -A pid_of
for t in $TARGETS; do
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n || true; done
  echo "=== fuzz_$t: ${SECONDS_EACH}s, -max_len=$(max_len "$t")"
  fuzz_one "$t" &
  pid_of[$t]=$!
done
failed=""
for t in $TARGETS; do
  if ! wait "${pid_of[$t]}"; then
    tail -n 60 "$WORK/$t.log"
    echo "FAILED: fuzz_$t; reproducer(s):" "$WORK"/artifacts/"$t"/*
    failed="$failed $t"
  else
    echo "fuzz_$t: $(grep -E "^stat::(number_of_executed_units|new_units_added)" "$WORK/$t.log" | tr '\n' ' ')"
  fi
done
if [ -n "$failed" ]; then
  echo "fuzzing found problems in:$failed (logs and reproducers in $WORK)"
  exit 1
fi
echo "fuzzing: no findings (${SECONDS_EACH}s per target; work dir $WORK)"
