#!/usr/bin/env bash
# The fuzz targets (fuzz/, one per parser of external bytes; docs/testing.md, "Fuzzing"):
# builds them once with libFuzzer's coverage instrumentation (stable Rust, no cargo-fuzz), then
# runs each for a bounded time on its checked-in corpus, as many at once as there are cores.
# Fails if any target panics, crashes, hangs or runs out of memory, naming the input.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET]    # default 20
#   scripts/fuzz.sh 60 pgoutput mysql_ddl   # only these targets
#
# The build goes to SLUICE_FUZZ_TARGET (default ~/.cache/sluice-fuzz: the dependencies are built
# once per machine, not per clone); crashing inputs to fuzz/artifacts/<target>/. New inputs the
# fuzzer finds stay in a temporary directory: the corpus in git only changes by hand.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SECS=${1:-20}
shift || true
cd "$ROOT/fuzz"

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for f in fuzz_targets/*.rs; do
    t=$(basename "$f" .rs)
    [ "$t" = common ] || targets+=("$t")
  done
fi

command -v c++ >/dev/null 2>&1 || { echo "fuzz: libFuzzer is C++: install a C++ compiler (apt-get install g++)" >&2; exit 1; }
host=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${SLUICE_FUZZ_TARGET:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice-fuzz}
# What cargo-fuzz passes, minus AddressSanitizer (nightly only; the code under test is safe
# Rust, where an out-of-bounds access is a panic anyway). --target keeps the instrumentation
# out of build scripts and proc macros.
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cllvm-args=-sanitizer-coverage-stack-depth \
--cfg fuzzing"
start=$SECONDS
cargo build --release --target "$host" --bins
built=$((SECONDS - start))
bin="$CARGO_TARGET_DIR/$host/release"

work=$(mktemp -d /tmp/sluice-fuzz.XXXXXX)
trap 'rm -rf "$work"' EXIT
jobs=${FUZZ_JOBS:-$(nproc)}

# run TARGET: libFuzzer for SECS seconds; the log in $work/TARGET.log
run() {
  local t=$1
  mkdir -p "$work/$t" "$ROOT/fuzz/artifacts/$t" "corpus/$t"
  "$bin/$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$ROOT/fuzz/artifacts/$t/" "$work/$t" "corpus/$t" >"$work/$t.log" 2>&1
}

start=$SECONDS
failed=()
for ((i = 0; i < ${#targets[@]}; i += jobs)); do
  batch=("${targets[@]:i:jobs}")
  pids=()
  for t in "${batch[@]}"; do
    run "$t" &
    pids+=($!)
  done
  for k in "${!batch[@]}"; do
    t=${batch[$k]}
    if wait "${pids[$k]}"; then
      runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$t.log")
      cov=$(grep -a -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1)
      echo "fuzz: $t ok, ${runs:-?} inputs in ${SECS}s, $cov"
    else
      log=$work/$t.log
      input=$(grep -a -o 'Test unit written to .*' "$log" | tail -n 1 | sed 's/^Test unit written to //')
      echo "fuzz: $t FAILED:" >&2
      grep -a -m1 -A1 -E 'panicked at|^fuzz: an allocation' "$log" >&2 || true
      grep -a -m1 -E 'ERROR: libFuzzer|ALARM: working on the last Unit' "$log" >&2 ||
        grep -a -v '^#[0-9]' "$log" | tail -n 20 >&2
      echo "fuzz: $t: the input is ${input:-(not written)}; reproduce: $bin/$t ${input:-}" >&2
      failed+=("$t")
    fi
  done
done
echo "fuzz: build ${built}s, run $((SECONDS - start))s (${#targets[@]} targets x ${SECS}s, $jobs at a time)"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: FAILED: ${failed[*]}" >&2
  exit 1
fi
