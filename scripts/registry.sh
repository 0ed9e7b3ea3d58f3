#!/usr/bin/env bash
# A private Schema Registry on loopback, for the Avro tests and benchmarks: Apicurio Registry
# 3.3.3 and its Confluent-compatible API (ccompat v7), with in-memory storage (H2) and no
# authentication. Also the Python Avro consumer the tests use to prove that non-Rust clients
# read sluice's records (confluent-kafka's AvroSerializer/AvroDeserializer, fastavro).
#
#   scripts/registry.sh install                       # the registry + the Python packages, once
#   scripts/registry.sh start DIR PORT [--owner PID]  # ready when it returns; prints the URL
#        --owner PID: the registry stops once process PID has ended
#   scripts/registry.sh stop DIR                      # SIGTERM, SIGKILL after 15 s
#   scripts/registry.sh url DIR                       # http://127.0.0.1:PORT/apis/ccompat/v7
#   scripts/registry.sh python                        # prints a python that has the packages
#
# The Confluent-compatible base URL (schema.registry.url) is http://127.0.0.1:PORT/apis/ccompat/v7,
# not the bare host:port: `start` prints it, `url DIR` prints it again.
#
# Where it comes from: Maven Central publishes the registry's whole Quarkus distribution
# (io.apicurio:apicurio-registry-app:3.3.3:tar.gz:all, 159 MB: quarkus-run.jar and its lib/),
# fetched by scripts/tools.sh into the tools cache and unpacked there once. Nothing is built.
# Apicurio 3.3 is compiled for Java 21: the JVM is REGISTRY_JAVA, else `scripts/tools.sh java` if
# it is 21+, else the newest Java 21+ in /usr/lib/jvm (this machine kind: Temurin 25 beside 17).
# `install` also makes an ahead-of-time class cache (JDK 25: -XX:AOTCache; 21-24: a CDS archive)
# by one training start (about 30 s, once), which halves the start-up.
#
# How it runs (Confluent's behaviour where Apicurio lets it be chosen):
#   apicurio.storage.kind=sql, apicurio.storage.sql.kind=h2   in-memory H2, new at every start
#   apicurio.rules.global.compatibility=BACKWARD              Confluent's default (Apicurio's: NONE)
#   apicurio.ccompat.legacy-id-mode.enabled=false             ids are content ids: the same schema
#                                                             under two subjects has one id, as in
#                                                             Confluent (true: one id per version)
#   HTTP 127.0.0.1:PORT; the management interface (health, metrics) on a free loopback port
# DIR holds registry.log, registry.pid, registry.port and tmp/. Env: REGISTRY_HEAP_OPTS (default
# -Xms64m -Xmx384m), REGISTRY_JVM_OPTS, REGISTRY_OPTS (more -D settings, e.g.
# -Dapicurio.ccompat.legacy-id-mode.enabled=true), REGISTRY_START_TIMEOUT (120 s), REGISTRY_JAVA.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=${SLUICE_TOOLS:-$HOME/.cache/sluice-tools}
version=3.3.3
name=apicurio-registry-$version
home=$tools/$name            # tools.sh's pom.xml and lib/ (the tar.gz); app/ the unpacked distribution
app=$home/app
venv=$tools/pyavro
heap=${REGISTRY_HEAP_OPTS:--Xms64m -Xmx384m}
# SerialGC: a small heap, 2 cores, several JVMs at once (fewer GC threads and less RSS than G1).
# C1 only: the registry answers a few calls per schema, and starts 1-2 s sooner with 25 MB less RSS.
jvm=${REGISTRY_JVM_OPTS:--XX:+UseSerialGC -XX:TieredStopAtLevel=1 -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}

java_major() {  # the feature version of java $1: its JDK's release file, else `java -version`
  local rel m
  rel=$(dirname "$(dirname "$(readlink -f "$1")")")/release
  m=$(sed -nE 's/^JAVA_VERSION="(1\.)?([0-9]+).*/\2/p' "$rel" 2>/dev/null || true)
  [ -n "$m" ] || m=$("$1" -version 2>&1 | sed -nE '1s/.*version "(1\.)?([0-9]+).*/\2/p')
  echo "$m"
}

registry_java() {  # a Java 21+: REGISTRY_JAVA, else tools.sh's java, else the newest in /usr/lib/jvm
  local j m best="" bestm=0
  if [ -n "${REGISTRY_JAVA:-}" ]; then echo "$REGISTRY_JAVA"; return; fi
  j=$("$here/tools.sh" java 2>/dev/null || true)
  if [ -n "$j" ] && m=$(java_major "$j") && [ -n "$m" ] && [ "$m" -ge 21 ]; then echo "$j"; return; fi
  for j in /usr/lib/jvm/*/bin/java; do
    [ -x "$j" ] || continue
    m=$(java_major "$j"); [ -n "$m" ] || continue
    if [ "$m" -ge 21 ] && [ "$m" -gt "$bestm" ]; then best=$j; bestm=$m; fi
  done
  [ -n "$best" ] || { echo "Apicurio Registry $version needs Java 21+, and none was found: set" \
    "REGISTRY_JAVA, or install a JDK 21+ under /usr/lib/jvm" >&2; exit 1; }
  echo "$best"
}

install_app() {  # fetch and unpack the distribution, once (locked: tests may start in parallel)
  [ -f "$app/quarkus-run.jar" ] && return 0
  mkdir -p "$tools"
  exec 8>"$tools/$name.lock"; flock 8
  if [ ! -f "$app/quarkus-run.jar" ]; then
    local d tgz
    d=$("$here/tools.sh" maven "$name" "io.apicurio:apicurio-registry-app:$version:tar.gz:all" '!*:*')
    tgz=$d/lib/apicurio-registry-app-$version-all.tar.gz
    echo "unpacking Apicurio Registry $version into $app" >&2
    rm -rf "$app.tmp"; mkdir -p "$app.tmp"
    tar -xzf "$tgz" -C "$app.tmp"
    [ -f "$app.tmp/quarkus-run.jar" ] || { echo "$tgz has no quarkus-run.jar" >&2; exit 1; }
    rm -rf "$app"; mv "$app.tmp" "$app"
  fi
  exec 8>&-
}

java_cmd() {  # sets J: the JVM, its options and the class cache (AOT, else CDS) when made
  local java m key
  java=$(registry_java); m=$(java_major "$java")
  key=$(echo "$(readlink -f "$java") $heap $jvm $(stat -c %Y "$app/quarkus-run.jar")" | cksum | cut -d' ' -f1)
  J=("$java" $heap $jvm)
  if [ "$m" -ge 25 ]; then
    cache=$home/aot-$key.aot; cache_out=(-XX:AOTCacheOutput=); cache_use=(-XX:AOTCache="$cache")
  else
    cache=$home/cds-$key.jsa; cache_out=(-XX:ArchiveClassesAtExit=); cache_use=(-XX:SharedArchiveFile="$cache")
  fi
  if [ -z "${REGISTRY_CACHE_OUT:-}" ] && [ -f "$cache" ]; then J+=("${cache_use[@]}"); fi
  if [ -n "${REGISTRY_CACHE_OUT:-}" ]; then J+=("${cache_out[0]}$REGISTRY_CACHE_OUT"); fi
}

train() {  # the class cache: one registry started, used and stopped (about 30 s, once)
  java_cmd; [ ! -f "$cache" ] || return 0
  local t p port b s
  t=$(mktemp -d); port=$("$here/mariadb.sh" free-port $((20000 + RANDOM % 30000)))
  echo "making the registry's class cache (once): $cache" >&2
  REGISTRY_CACHE_OUT=$cache.$$ "$here/registry.sh" start "$t" "$port" >/dev/null
  b=http://127.0.0.1:$port/apis/ccompat/v7
  s='{"schema":"{\"type\":\"record\",\"name\":\"T\",\"fields\":[{\"name\":\"a\",\"type\":\"int\"}]}"}'
  for path in /subjects/t-value/versions /subjects/t-value /compatibility/subjects/t-value/versions/latest; do
    curl -s -o /dev/null -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' --data "$s" "$b$path" || true
  done
  for path in /schemas/ids/1 /subjects/t-value/versions/latest /subjects /config /config/t-value /schemas/ids/999; do
    curl -s -o /dev/null "$b$path" || true
  done
  curl -s -o /dev/null -X PUT -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
    --data '{"compatibility":"BACKWARD"}' "$b/config/t-value" || true
  p=$(cat "$t/registry.pid"); kill "$p"   # the JVM writes the cache as it exits
  for _ in $(seq 1 1200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$p" 2>/dev/null || true
  if [ -s "$cache.$$" ]; then mv -f "$cache.$$" "$cache"; else rm -f "$cache.$$"; fi
  rm -f "$cache.$$.config"; rm -rf "$t"
}

install_python() {
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

url_of() { echo "http://127.0.0.1:$1/apis/ccompat/v7"; }

start() {
  local dir=${1:?dir required} port=${2:?port required} owner="" pid deadline
  shift 2
  while [ $# -gt 0 ]; do
    case "$1" in
    --owner) owner=${2:?--owner PID}; shift 2 ;;
    *) echo "registry.sh start: unknown option $1" >&2; exit 2 ;;
    esac
  done
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if [ -f "$dir/registry.pid" ] && kill -0 "$(cat "$dir/registry.pid")" 2>/dev/null; then
    echo "registry already running in $dir" >&2; url_of "$(cat "$dir/registry.port")"; return 0
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "registry.sh start: port $port is taken (another server answers there)" >&2; exit 1
  fi
  install_app
  java_cmd
  mkdir -p "$dir/tmp"
  echo "=== start $(date '+%F %T') port $port" >>"$dir/registry.log"
  # shellcheck disable=SC2086
  "${J[@]}" -Djava.io.tmpdir="$dir/tmp" \
    -Dquarkus.http.host=127.0.0.1 -Dquarkus.http.port="$port" \
    -Dquarkus.management.host=127.0.0.1 -Dquarkus.management.port=0 \
    -Dapicurio.storage.kind=sql -Dapicurio.storage.sql.kind=h2 \
    -Dapicurio.datasource.jdbc.initial-size=2 -Dapicurio.datasource.jdbc.min-size=2 \
    -Dapicurio.rules.global.compatibility=BACKWARD \
    -Dapicurio.ccompat.legacy-id-mode.enabled=false \
    -Dapicurio.storage.snapshot.location="$dir/tmp" -Dapicurio.import.work-dir="$dir/tmp" \
    ${REGISTRY_OPTS:-} -jar "$app/quarkus-run.jar" </dev/null >>"$dir/registry.log" 2>&1 &
  pid=$!
  echo "$pid" >"$dir/registry.pid"; echo "$port" >"$dir/registry.port"
  [ -z "$owner" ] || "$here/tools.sh" watch "$owner" "$here/registry.sh" stop "$dir"
  deadline=$((SECONDS + ${REGISTRY_START_TIMEOUT:-120}))
  while [ $SECONDS -lt "$deadline" ]; do
    if curl -sf -o /dev/null "$(url_of "$port")/subjects" 2>/dev/null; then
      echo "schema registry (Apicurio Registry $version) ready in $dir" >&2
      url_of "$port"; return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "schema registry did not start; see $dir/registry.log" >&2; tail -n 20 "$dir/registry.log" >&2
  stop "$dir"; exit 1
}

stop() {
  local dir=${1:?dir required} pid
  [ -f "$dir/registry.pid" ] || return 0
  pid=$(cat "$dir/registry.pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/registry.pid"; rm -rf "$dir/tmp"
}

case "${1:-}" in
install) install_app; install_python; train ;;
python) echo "$venv/python" ;;
start) shift; start "$@" ;;
stop) stop "${2:?dir required}" ;;
url)
  d=${2:?dir required}
  [ -f "$d/registry.port" ] || { echo "no registry started in $d" >&2; exit 1; }
  url_of "$(cat "$d/registry.port")" ;;
*)
  echo "usage: $0 install | start DIR PORT [--owner PID] | stop DIR | url DIR | python" >&2; exit 2 ;;
esac
