#!/usr/bin/env bash
# Starts/stops a private Kafka Connect worker (distributed mode) with the Debezium connectors, on
# loopback, for the tests and benchmarks that run Debezium. Kafka Connect comes from the same
# jars as scripts/kafka.sh (Apache Kafka 4.3.2); the plugins from Maven Central through
# scripts/tools.sh, once, into the tools cache.
#
#   scripts/connect.sh install          # Kafka + Connect (scripts/kafka.sh install), the plugins
#   scripts/connect.sh start DIR PORT BOOTSTRAP [worker.property=value ...] [--owner PID]
#        REST on http://127.0.0.1:PORT. group.id and the internal topics are named after DIR's
#        basename NAME (connect-NAME, connect-NAME-configs|offsets|status), so workers with
#        different DIRs can share a broker; internal topics with the broker's default
#        replication factor (-1: 1 on a one-node scripts/kafka.sh cluster, 3 on three nodes,
#        where min.insync.replicas 2 would refuse the worker's writes to topics of 1 replica);
#        JsonConverter with schemas for keys and values; offsets flushed every second. Extra
#        property=value arguments come last in worker.properties, so they override.
#        Ready when it returns: GET /connector-plugins lists the Debezium MySQL, MariaDB and
#        Postgres connectors. --owner PID: the worker stops once process PID has ended.
#   scripts/connect.sh stop DIR         # SIGTERM, SIGKILL after 20 s
#   scripts/connect.sh plugins          # the plugin.path directory
#
# DIR holds worker.properties, connect.log and connect.pid. Env: CONNECT_HEAP_OPTS (default
# -Xms128m -Xmx768m), CONNECT_JVM_OPTS, CONNECT_START_TIMEOUT (120 s).
#
# Plugins, one directory each under plugin.path:
#   debezium-mysql     io.debezium.connector.mysql.MySqlConnector          3.6.1.Final
#   debezium-postgres  io.debezium.connector.postgresql.PostgresConnector  3.6.1.Final
#   debezium-mariadb   io.debezium.connector.mariadb.MariaDbConnector      3.5.0.Final (*)
#   debezium-jdbc      io.debezium.connector.jdbc.JdbcSinkConnector        3.5.0.Final (*)
#   apicurio-converter io.apicurio.registry.utils.converter.AvroConverter  2.6.13.Final (**)
# (*) Maven Central here serves neither at 3.6.x (3.5.0.Final is the newest that resolves);
#     each plugin has its own class loader, so the versions do not mix.
# (**) no 3.x converter is served; the 2.6 one talks to an Apicurio Registry 3.x through its
#     v2 API: <side>.converter.apicurio.registry.url=http://HOST:PORT/apis/registry/v2 and
#     ...auto-register=true, ...find-latest=true (Apicurio framing: ids in record headers);
#     for Confluent framing (magic byte + 4-byte id, the id the registry's ccompat API serves)
#     add ...headers.enabled=false, ...as-confluent=true, ...use-id=contentId.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
plugins=$("$here/tools.sh" dir)/connect-plugins
heap=${CONNECT_HEAP_OPTS:--Xms128m -Xmx768m}
jvm=${CONNECT_JVM_OPTS:--XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}
# Kept out of every plugin directory, as Debezium's own plugin archives do: Kafka, Connect, SLF4J
# and Jackson are the worker's. Connect loads Kafka's API from its classpath anyway; a second
# Jackson breaks Debezium's CloudEventsConverter (it reflects on the worker's JsonConverter with
# its own Jackson types); the converter's connect-json 3.9 does not run on Kafka 4. (Jackson's
# jsr310 module stays: the worker has none, and it runs on the worker's Jackson.)
shared=(org.apache.kafka:{kafka-clients,connect-api,connect-runtime,connect-json} org.slf4j:slf4j-api
  com.fasterxml.jackson.core:jackson-{core,databind,annotations} com.fasterxml.jackson.datatype:jackson-datatype-jdk8
  com.fasterxml.jackson.dataformat:jackson-dataformat-yaml com.fasterxml.jackson.module:jackson-module-afterburner)

plugin() {  # plugin NAME COORD: fetch one plugin into $plugins/NAME
  local name=$1; shift
  "$here/tools.sh" maven "connect-plugins/$name" "$@" "${shared[@]/#/!}" >/dev/null
  rm -f "$plugins/$name"/{pom.xml,maven.log}
  if ls "$plugins/$name/lib" | grep -E '^(kafka-clients|connect-[a-z]+|slf4j-api|jackson-(core|databind|annotations))-[0-9]'; then
    echo "plugin $name carries jars the worker must provide (above)" >&2; exit 1
  fi
}

java_cmd() {  # sets J: the worker's JVM; jsa: its class-data archive (made by install)
  local lib java; lib=$("$here/kafka.sh" lib); java=$("$here/tools.sh" java)
  jsa=$(dirname "$lib")/connect-cds-$(echo "$(readlink -f "$java") $(stat -c %Y "$lib")" | cksum | cut -d' ' -f1).jsa
  J=("$java" $heap $jvm -Dlog4j2.configurationFile="$(dirname "$lib")/log4j2.properties")
  if [ -n "${CONNECT_CDS_DUMP:-}" ]; then J+=(-XX:ArchiveClassesAtExit="$CONNECT_CDS_DUMP")
  elif [ -f "$jsa" ]; then J+=(-XX:SharedArchiveFile="$jsa"); fi   # start-up 3.5 s -> 2.3 s
  J+=(-cp "$lib/*" org.apache.kafka.connect.cli.ConnectDistributed)
}

install() {
  "$here/kafka.sh" install
  plugin debezium-mysql io.debezium:debezium-connector-mysql:3.6.1.Final
  plugin debezium-postgres io.debezium:debezium-connector-postgres:3.6.1.Final
  plugin debezium-mariadb io.debezium:debezium-connector-mariadb:3.5.0.Final
  plugin debezium-jdbc io.debezium:debezium-connector-jdbc:3.5.0.Final
  plugin apicurio-converter io.apicurio:apicurio-registry-utils-converter:2.6.13.Final
  # its jars have no ServiceLoader manifests: Kafka's tool writes them (in a shim jar), so that
  # the worker finds every plugin the fast way (plugin.discovery=service_load)
  local shim=$plugins/apicurio-converter/connect-plugin-path-shim-1.0.0.jar
  if [ ! "$shim" -nt "$plugins/apicurio-converter/lib.done" ]; then
    local tmp; tmp=$(mktemp -d)   # (the tool leaves a jar in its temporary directory)
    KAFKA_TOOL_OPTS=-Djava.io.tmpdir=$tmp "$here/kafka.sh" tool org.apache.kafka.tools.ConnectPluginPath \
      sync-manifests --plugin-location "$plugins/apicurio-converter" >/dev/null
    rm -rf "$tmp"
    if [ -f "$shim" ]; then touch "$shim"; fi   # (left as it was if it was right already)
  fi
  # the class-data archive: one worker (and a broker for it) started and stopped, once
  java_cmd; [ -z "${CONNECT_CDS_DUMP:-}" ] && [ ! -f "$jsa" ] || return 0
  echo "making the Kafka Connect class-data archive (once): $jsa" >&2
  local t kp p; t=$(mktemp -d); kp=$("$here/mariadb.sh" free-port $((20000 + RANDOM % 30000)))
  "$here/kafka.sh" start "$t/kafka" "$kp" >/dev/null
  CONNECT_CDS_DUMP=$jsa.$$ "$here/connect.sh" start "$t/connect" "$("$here/mariadb.sh" free-port $((kp + 1)))" \
    "127.0.0.1:$kp" >/dev/null || true
  p=$(cat "$t/connect/connect.pid" 2>/dev/null) && kill "$p" 2>/dev/null || true   # it writes the archive as it exits
  for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  "$here/kafka.sh" stop "$t/kafka"
  if [ -s "$jsa.$$" ]; then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; fi
  rm -rf "$t"
}

alive() { local p; p=$(cat "$dir/connect.pid" 2>/dev/null) && grep -qa "$dir/worker.properties" "/proc/$p/cmdline" 2>/dev/null; }
ready() {
  local l; l=$(curl -sf --max-time 2 "http://127.0.0.1:$port/connector-plugins" 2>/dev/null) || return 1
  grep -q MySqlConnector <<<"$l" && grep -q MariaDbConnector <<<"$l" && grep -q PostgresConnector <<<"$l"
}
stop() {
  alive || { rm -f "$dir/connect.pid"; return 0; }
  local p; p=$(cat "$dir/connect.pid")
  kill "$p" 2>/dev/null || true
  for _ in $(seq 1 200); do alive || break; sleep 0.1; done
  if alive; then kill -9 "$p" 2>/dev/null || true; fi
  rm -f "$dir/connect.pid"
}

case "${1:-}" in
install) install ;;
plugins) echo "$plugins" ;;
start)
  dir=${2:?dir required}; port=${3:?port required}; bootstrap=${4:?bootstrap servers required}; shift 4
  extra=(); owner=""
  while [ $# -gt 0 ]; do
    case "$1" in
    --owner) owner=${2:?}; shift 2 ;;
    *=*) extra+=("$1"); shift ;;
    *) echo "not a worker property=value: $1" >&2; exit 2 ;;
    esac
  done
  install >/dev/null
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd); name=$(basename "$dir")
  if alive; then echo "Kafka Connect already running in $dir" >&2; exit 0; fi
  cat >"$dir/worker.properties" <<EOF
bootstrap.servers=$bootstrap
group.id=connect-$name
config.storage.topic=connect-$name-configs
offset.storage.topic=connect-$name-offsets
status.storage.topic=connect-$name-status
config.storage.replication.factor=-1
offset.storage.replication.factor=-1
status.storage.replication.factor=-1
offset.storage.partitions=5
status.storage.partitions=1
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$port
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$port
plugin.path=$plugins
plugin.discovery=service_load
EOF
  [ ${#extra[@]} = 0 ] || printf '%s\n' "${extra[@]}" >>"$dir/worker.properties"
  java_cmd
  echo "=== start $(date '+%F %T')" >>"$dir/connect.log"
  "${J[@]}" "$dir/worker.properties" </dev/null >>"$dir/connect.log" 2>&1 &
  echo $! >"$dir/connect.pid"
  [ -z "$owner" ] || "$here/tools.sh" watch "$owner" "$here/connect.sh" stop "$dir"
  deadline=$((SECONDS + ${CONNECT_START_TIMEOUT:-120}))
  until ready; do
    if ! alive; then
      echo "Kafka Connect did not start; see $dir/connect.log" >&2; tail -n 30 "$dir/connect.log" >&2; exit 1
    fi
    if [ $SECONDS -ge $deadline ]; then
      echo "Kafka Connect not ready after ${CONNECT_START_TIMEOUT:-120} s; see $dir/connect.log" >&2; stop; exit 1
    fi
    sleep 0.2
  done
  echo "Kafka Connect ready on http://127.0.0.1:$port (dir $dir)"
  ;;
stop) dir=$(cd "${2:?dir required}" 2>/dev/null && pwd) || exit 0; stop ;;
*)
  echo "usage: $0 install | start DIR PORT BOOTSTRAP [property=value ...] [--owner PID] | stop DIR | plugins" >&2
  exit 2 ;;
esac
