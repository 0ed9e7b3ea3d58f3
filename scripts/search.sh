#!/usr/bin/env bash
# Starts/stops a private Elasticsearch-API server on loopback, for tests, demo and benchmarks.
# No Elasticsearch or OpenSearch is installable here; noida-db (installed by scripts/kafka.sh
# install, with its elasticsearch feature) serves the Elasticsearch 8.15 REST API: _bulk
# (index/create/update doc_as_upsert/delete, external versioning), _search (scroll), _count,
# _refresh, index creation with mappings.
#
#   scripts/search.sh start DIR PORT
#   scripts/search.sh stop DIR
#
# Ready (GET / answers) when `start` returns. DIR holds data, pid and log.
set -euo pipefail
here=$(dirname "${BASH_SOURCE[0]}")
noida_bin() { command -v noida-db 2>/dev/null || echo "$HOME/.cargo/bin/noida-db"; }

case "${1:-}" in
start)
  dir=${2:?dir required}; port=${3:?port required}
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if [ -f "$dir/search.pid" ] && kill -0 "$(cat "$dir/search.pid")" 2>/dev/null; then
    echo "search server already running in $dir" >&2; exit 0
  fi
  [ -x "$(noida_bin)" ] || "$here/kafka.sh" install
  "$(noida_bin)" start --only elasticsearch --host 127.0.0.1 --elasticsearch-port "$port" \
    --data-dir "$dir/data" >"$dir/search.log" 2>&1 &
  echo $! >"$dir/search.pid"
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "Elasticsearch API (noida-db) ready on http://127.0.0.1:$port (dir $dir)"
      exit 0
    fi
    kill -0 "$(cat "$dir/search.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "search server did not start; see $dir/search.log" >&2; tail -n 20 "$dir/search.log" >&2; exit 1
  ;;
stop)
  dir=${2:?dir required}
  if [ -f "$dir/search.pid" ]; then
    pid=$(cat "$dir/search.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/search.pid"
  fi
  ;;
*)
  echo "usage: $0 start DIR PORT | stop DIR" >&2; exit 2 ;;
esac
