#!/usr/bin/env bash
# A private Confluent-compatible Schema Registry on loopback, for the Avro tests and benchmarks,
# and the Python Avro consumer the tests use to prove non-Rust clients read sluice's records.
# No Confluent Schema Registry or Karapace is installable here; rivven-schema (crates.io, an
# independent implementation of the Confluent REST API: register, ids, versions, compatibility,
# config) is built once by cargo install (a few minutes cold) without its JSON-Schema and
# Protobuf support, which sluice does not use.
#
#   scripts/registry.sh install          # rivven-schema + confluent-kafka, fastavro for Python
#   scripts/registry.sh start DIR PORT   # ready (GET /subjects answers) when it returns
#   scripts/registry.sh stop DIR
#   scripts/registry.sh python           # prints a python that has them
set -euo pipefail
tools=${SLUICE_TOOLS:-$HOME/.cache/sluice-tools}
rivven_version=0.0.22
venv=$tools/pyavro
rivven_bin() { command -v rivven-schema 2>/dev/null || echo "$HOME/.cargo/bin/rivven-schema"; }

install() {
  if ! { [ -x "$(rivven_bin)" ] && "$(rivven_bin)" --version 2>/dev/null | grep -q "$rivven_version"; }; then
    echo "installing rivven-schema $rivven_version (cargo install, a few minutes)" >&2
    cargo install rivven-schema --version "$rivven_version" --locked --no-default-features \
      --features server,avro,cli --quiet
  fi
  if ! "$venv/python" -c 'import confluent_kafka, fastavro' 2>/dev/null; then
    # a private package directory and a wrapper, not a venv: Debian's python3 has no venv
    # module without the python3-venv package
    echo "installing confluent-kafka and fastavro (into $venv)" >&2
    rm -rf "$venv"; mkdir -p "$venv"
    python3 -m pip install --quiet --disable-pip-version-check --only-binary=:all: --target "$venv/lib" \
      "confluent-kafka==2.6.1" "fastavro==1.9.7" "requests" "attrs" "cachetools" "httpx"
    printf '#!/bin/sh\nPYTHONPATH="%s/lib${PYTHONPATH:+:$PYTHONPATH}" exec python3 "$@"\n' "$venv" > "$venv/python"
    chmod +x "$venv/python"
  fi
}

case "${1:-}" in
install) install ;;
python) echo "$venv/python" ;;
start)
  dir=${2:?dir required}; port=${3:?port required}
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if [ -f "$dir/registry.pid" ] && kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
    echo "registry already running in $dir" >&2; exit 0
  fi
  [ -x "$(rivven_bin)" ] || install
  "$(rivven_bin)" serve --host 127.0.0.1 --port "$port" >"$dir/registry.log" 2>&1 &
  echo $! >"$dir/registry.pid"
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$port/subjects" >/dev/null 2>&1; then
      echo "schema registry (rivven-schema) ready on http://127.0.0.1:$port (dir $dir)"
      exit 0
    fi
    kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "schema registry did not start; see $dir/registry.log" >&2; tail -n 20 "$dir/registry.log" >&2; exit 1
  ;;
stop)
  dir=${2:?dir required}
  if [ -f "$dir/registry.pid" ]; then
    pid=$(cat "$dir/registry.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/registry.pid"
  fi
  ;;
*)
  echo "usage: $0 install | start DIR PORT | stop DIR | python" >&2; exit 2 ;;
esac
