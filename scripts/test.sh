#!/usr/bin/env bash
# The whole test suite: unit tests, property tests, and integration tests against real MariaDB
# servers that the tests start themselves (scripts/mariadb.sh, private datadirs, loopback ports).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/deps.sh"
cd "$ROOT"
# One profile (release) for tests, demo and benchmarks: built once, and the large-data tests
# (20 MiB rows, 300k-row transactions) run at real speed.
cargo test --release --workspace "$@"
