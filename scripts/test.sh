#!/usr/bin/env bash
# The whole test suite: unit tests, property tests, and integration tests against real servers
# the tests start themselves (MariaDB, PostgreSQL, Apache Kafka, OpenSearch, Apicurio Registry:
# scripts/*.sh, private data dirs, loopback ports; docs/testing.md).
# Ends with one line "tests: N passed, N failed" summing every test binary.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/deps.sh" test
cd "$ROOT"
LOG=$(mktemp /tmp/sluice-test.XXXXXX)
trap 'rm -f "$LOG"' EXIT
# One profile (release) for tests, demo and benchmarks: built once, and the large-data tests
# (20 MiB rows, 300k-row transactions, 1M-row snapshots) run at real speed.
# Into a file, shown as it grows: a process a failed test left behind cannot hold a pipe open
# and keep this script waiting.
set +e
cargo test --release --workspace --no-fail-fast "$@" >"$LOG" 2>&1 &
tests=$!
tail -n +1 --pid="$tests" -f "$LOG"
wait "$tests"
status=$?
set -e
summary=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
               END { printf "tests: %d passed, %d failed", p, f }' "$LOG")
mkdir -p "${CARGO_TARGET_DIR:-$ROOT/target}"
echo "$summary" > "${CARGO_TARGET_DIR:-$ROOT/target}/test-summary.txt"
echo "$summary"
exit "$status"
