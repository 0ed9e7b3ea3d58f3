#!/usr/bin/env bash
# Starts/stops a private Apache Kafka (KRaft) on loopback, for tests, demo and benchmarks. The
# jars come from Maven Central through scripts/tools.sh, once, into the tools cache.
#
#   scripts/kafka.sh install                  # Kafka, its tools, Connect runtime, log4j2 binding
#   scripts/kafka.sh start DIR PORT [--nodes N] [--owner PID]
#        1 node (default): combined broker+controller, every replication factor 1.
#        N nodes: N combined nodes, a controller quorum of N, client ports PORT..PORT+N-1;
#        with 3: default.replication.factor 3 and min.insync.replicas 2 (internal topics alike).
#        Ready when it returns: every node logged "Kafka Server started" and answers a Metadata
#        request listing all N brokers (each registered, unfenced and caught up).
#        --owner PID: the cluster stops once process PID has ended.
#   scripts/kafka.sh stop DIR                 # every node: SIGTERM, SIGKILL after 10 s
#   scripts/kafka.sh stop-node DIR I          # stop node I (1-based) of a cluster (SIGTERM)
#   scripts/kafka.sh start-node DIR I         # start it again; returns when it is back
#   scripts/kafka.sh bootstrap DIR            # 127.0.0.1:PORT[,127.0.0.1:PORT+1...]
#   scripts/kafka.sh topics DIR               # the topic names (a JVM: about 2 s)
#   scripts/kafka.sh tool CLASS ARGS...       # a Kafka CLI class, warnings on stderr, e.g.
#        org.apache.kafka.tools.consumer.ConsoleConsumer, org.apache.kafka.tools.TopicCommand
#        (env KAFKA_TOOL_OPTS: more JVM options)
#   scripts/kafka.sh lib                      # the jar directory (scripts/connect.sh uses it)
#
# DIR/node<i>/ holds node i's data, server.properties, broker.log and broker.pid. Env:
# KAFKA_HEAP_OPTS (default -Xms128m -Xmx512m), KAFKA_JVM_OPTS, KAFKA_START_TIMEOUT (90 s).
#
# Version: Kafka 4.3.2. Debezium 3.6.1.Final is built against Kafka 4.3.0 (version.kafka in
# debezium-build-parent); 4.3.2 is that line's newest patch release (fixes only, same Connect
# API), and scripts/connect.sh runs Connect from the same jars.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=4.3.2
log4j=2.25.5   # Kafka 4.3.2's log4j2, with its SLF4J 1.x binding (Kafka uses slf4j-api 1.7.36)
heap=${KAFKA_HEAP_OPTS:--Xms128m -Xmx512m}
# SerialGC: small heaps, 2 cores, several JVMs at once (fewer GC threads and less RSS than G1,
# same start-up). The JIT is left alone: C1 only starts 0.3 s faster but costs throughput.
jvm=${KAFKA_JVM_OPTS:--XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true}

lib() {  # fetch (once) and print the jar dir; the log4j2 configs go beside it
  local d f
  d=$("$here/tools.sh" maven "kafka-$version" "org.apache.kafka:kafka_2.13:$version" \
    "org.apache.kafka:kafka-tools:$version" "org.apache.kafka:connect-runtime:$version" \
    "org.apache.logging.log4j:log4j-slf4j-impl:$log4j")
  # servers: INFO to stdout (which goes to DIR/...log), the config dumps and noisiest loggers quiet
  printf '%s\n' 'appender.out.type = Console' 'appender.out.name = out' \
    'appender.out.layout.type = PatternLayout' 'appender.out.layout.pattern = [%d] %p %m (%c{1})%n' \
    'rootLogger.level = INFO' 'rootLogger.appenderRef.out.ref = out' \
    'logger.a.name = state.change.logger' 'logger.a.level = WARN' \
    'logger.b.name = kafka.request.logger' 'logger.b.level = WARN' \
    'logger.c.name = org.apache.kafka.common.config.AbstractConfig' 'logger.c.level = WARN' \
    'logger.d.name = org.apache.kafka.connect.runtime.isolation' 'logger.d.level = WARN' \
    'logger.e.name = org.reflections' 'logger.e.level = ERROR' >"$d/log4j2.properties.$$"
  # CLI tools: warnings only, on stderr
  sed 's/^rootLogger.level = INFO/rootLogger.level = WARN/; s/^appender.out.name = out/&\nappender.out.target = SYSTEM_ERR/' \
    "$d/log4j2.properties.$$" >"$d/log4j2-tools.properties.$$"
  for f in log4j2 log4j2-tools; do
    if cmp -s "$d/$f.properties.$$" "$d/$f.properties"; then rm -f "$d/$f.properties.$$"
    else mv -f "$d/$f.properties.$$" "$d/$f.properties"; fi
  done
  echo "$d/lib"
}

java_cmd() {  # sets J: the JVM with the Kafka classpath, logging and class-data archive
  local L java; L=$(lib); java=$("$here/tools.sh" java)
  # AppCDS archive of the broker's classes (install makes it): start-up 3.3 s -> 2.3 s. Named
  # after the java and the lib: it is valid for them only (else the JVM ignores it).
  jsa=$(dirname "$L")/cds-$(echo "$(readlink -f "$java") $(stat -c %Y "$L")" | cksum | cut -d' ' -f1).jsa
  J=("$java" $heap $jvm -Dlog4j2.configurationFile="$(dirname "$L")/log4j2.properties")
  if [ -f "$jsa" ]; then J+=(-XX:SharedArchiveFile="$jsa"); fi
  J+=(-cp "$L/*")
}

train() {  # make the class-data archive: one broker started and stopped (about 9 s, once)
  java_cmd; [ ! -f "$jsa" ] || return 0
  local t p; t=$(mktemp -d)
  echo "making the Kafka class-data archive (once): $jsa" >&2
  KAFKA_CDS_DUMP=$jsa.$$ "$here/kafka.sh" start "$t" "$("$here/mariadb.sh" free-port $((20000 + RANDOM % 30000)))" >/dev/null
  dir=$t; p=$(pid_of 1); kill "$p"   # the JVM writes the archive as it exits
  for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  if [ -s "$jsa.$$" ]; then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; fi
  rm -rf "$t"
}

load() {  # DIR/cluster.env: nodes, port, cports (controller ports), cid (cluster id)
  dir=$(cd "${1:?dir required}" 2>/dev/null && pwd) && [ -f "$dir/cluster.env" ] ||
    { echo "no Kafka cluster in $1" >&2; exit 1; }
  . "$dir/cluster.env"
}
bootstrap() { local i s=""; for ((i = 0; i < nodes; i++)); do s+="${s:+,}127.0.0.1:$((port + i))"; done; echo "$s"; }
pid_of() { cat "$dir/node$1/broker.pid" 2>/dev/null || true; }
alive() {  # node I's JVM runs (the pid is still that JVM, not a reused one)
  local p; p=$(pid_of "$1")
  [ -n "$p" ] && grep -qa "$dir/node$1/server.properties" "/proc/$p/cmdline" 2>/dev/null
}
up_count() { local i c=0; for ((i = 1; i <= nodes; i++)); do if alive "$i"; then c=$((c + 1)); fi; done; echo $c; }
last_run() { sed -n '/^=== start/h; /^=== start/!H; ${x;p}' "$dir/node$1/broker.log"; }

# Metadata v4 (v0-v3 are gone in Kafka 4) for no topic: the answer's 4th int32 is the number of
# brokers the node knows as registered and unfenced.
brokers_seen() {
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "\x00\x00\x00\x10\x00\x03\x00\x04\x00\x00\x00\x01\x00\x01k\x00\x00\x00\x00\x00" >&3 &&
    head -c 16 <&3 | od -An -tu1 | awk "{n = \$13 * 16777216 + \$14 * 65536 + \$15 * 256 + \$16} END {print n + 0}"' \
    _ "$1" 2>/dev/null || echo 0
}

launch() {  # launch I: node I's JVM, in the background
  local n=$dir/node$1
  echo "=== start $(date '+%F %T')" >>"$n/broker.log"
  "${J[@]}" ${KAFKA_CDS_DUMP:+-XX:ArchiveClassesAtExit=$KAFKA_CDS_DUMP} kafka.Kafka "$n/server.properties" \
    </dev/null >>"$n/broker.log" 2>&1 &
  echo $! >"$n/broker.pid"
}

wait_ready() {  # wait_ready I...: those nodes started, and every running node lists them all
  local i ok up deadline=$((SECONDS + ${KAFKA_START_TIMEOUT:-90}))
  while :; do
    ok=1
    for i in "$@"; do
      if ! alive "$i"; then
        echo "Kafka node $i did not start; see $dir/node$i/broker.log" >&2
        last_run "$i" | grep -E -A3 "^\[.*\] (ERROR|FATAL)" | head -n 20 >&2; return 1
      fi
      last_run "$i" | grep -q "Kafka Server started" || ok=0
    done
    if [ $ok = 1 ]; then
      up=$(up_count)
      for ((i = 1; i <= nodes; i++)); do
        if alive "$i" && [ "$(brokers_seen $((port + i - 1)))" -lt "$up" ]; then ok=0; fi
      done
      [ $ok = 0 ] || return 0
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      echo "Kafka not ready after ${KAFKA_START_TIMEOUT:-90} s; see $dir/node*/broker.log" >&2; return 1
    fi
    sleep 0.2
  done
}

stop_nodes() {  # stop_nodes I...: SIGTERM, wait up to 10 s, then SIGKILL
  local i busy
  for i in "$@"; do if alive "$i"; then kill "$(pid_of "$i")" 2>/dev/null || true; fi; done
  for _ in $(seq 1 100); do
    # a node whose logs are closed is done: when a whole cluster stops, the last controllers
    # would wait 5 s more for a quorum that is gone
    busy=0
    for i in "$@"; do
      if alive "$i" && ! last_run "$i" | grep -q "Shutdown complete. (LogManager)"; then busy=1; fi
    done
    [ $busy = 1 ] || break
    sleep 0.1
  done
  for _ in $(seq 1 5); do for i in "$@"; do if alive "$i"; then sleep 0.1; fi; done; done
  for i in "$@"; do
    if alive "$i"; then kill -9 "$(pid_of "$i")" 2>/dev/null || true; fi
    rm -f "$dir/node$i/broker.pid"
  done
}

write_props() {  # write_props I: node I's server.properties
  local i=$1 n=$dir/node$1 rf=$((nodes < 3 ? nodes : 3)) isr voters="" j k=1
  isr=$((rf > 1 ? rf - 1 : 1))
  for j in $cports; do voters+="${voters:+,}$k@127.0.0.1:$j"; k=$((k + 1)); done
  mkdir -p "$n/data"
  cat >"$n/server.properties" <<EOF
process.roles=broker,controller
node.id=$i
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$((port + i - 1)),CONTROLLER://127.0.0.1:$(echo $cports | cut -d' ' -f"$i")
advertised.listeners=PLAINTEXT://127.0.0.1:$((port + i - 1))
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$n/data
num.partitions=1
auto.create.topics.enable=true
default.replication.factor=$rf
min.insync.replicas=$isr
offsets.topic.replication.factor=$rf
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=$rf
transaction.state.log.min.isr=$isr
transaction.state.log.num.partitions=10
share.coordinator.state.topic.replication.factor=$rf
share.coordinator.state.topic.min.isr=$isr
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=4
background.threads=4
log.cleaner.dedupe.buffer.size=16777216
EOF
}

case "${1:-}" in
install) lib >/dev/null; train ;;
lib) lib ;;
start)
  shift
  dir=${1:?dir required}; port=${2:?port required}; shift 2
  nodes=1; owner=""
  while [ $# -gt 0 ]; do
    case "$1" in
    --nodes) nodes=${2:?}; shift 2 ;;
    --owner) owner=${2:?}; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
  java_cmd
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if [ -f "$dir/cluster.env" ]; then   # a cluster that was here: same id, controller ports, data
    . "$dir/cluster.env"
    [ "$(up_count)" = 0 ] || { echo "Kafka already running in $dir" >&2; exit 0; }
  else
    cports="" p=$((20000 + RANDOM % 30000))
    for ((i = 1; i <= nodes; i++)); do
      p=$("$here/mariadb.sh" free-port "$p"); cports+="${cports:+ }$p"; p=$((p + 1))
    done
    cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | cut -c1-22 | sed 's/^-/A/')
    printf 'nodes=%s\nport=%s\ncports="%s"\ncid=%s\n' "$nodes" "$port" "$cports" "$cid" >"$dir/cluster.env"
  fi
  fmt=()
  for ((i = 1; i <= nodes; i++)); do   # format the new nodes' storage, in parallel
    write_props "$i"
    [ -f "$dir/node$i/data/meta.properties" ] && continue
    "${J[@]}" kafka.tools.StorageTool format -t "$cid" -c "$dir/node$i/server.properties" >"$dir/node$i/format.log" 2>&1 &
    fmt+=("$i:$!")
  done
  for f in "${fmt[@]}"; do
    wait "${f#*:}" || { echo "formatting node ${f%%:*} failed:" >&2; cat "$dir/node${f%%:*}/format.log" >&2; exit 1; }
  done
  for ((i = 1; i <= nodes; i++)); do launch "$i"; done
  [ -z "$owner" ] || "$here/tools.sh" watch "$owner" "$here/kafka.sh" stop "$dir"
  wait_ready $(seq 1 "$nodes") || { stop_nodes $(seq 1 "$nodes"); exit 1; }
  echo "Apache Kafka $version ready on $(bootstrap) (dir $dir)"
  ;;
stop) [ -f "${2:?dir required}/cluster.env" ] || exit 0; load "$2"; stop_nodes $(seq 1 "$nodes") ;;
stop-node) load "$2"; stop_nodes "${3:?node number}" ;;
start-node)
  load "$2"; i=${3:?node number}; java_cmd
  alive "$i" || launch "$i"
  wait_ready "$i" || exit 1
  ;;
bootstrap) load "$2"; bootstrap ;;
topics) load "$2"; exec "$0" tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$(bootstrap)" --list ;;
tool)
  shift; L=$(lib)
  exec "$("$here/tools.sh" java)" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 ${KAFKA_TOOL_OPTS:-} \
    -Dlog4j2.configurationFile="$(dirname "$L")/log4j2-tools.properties" -cp "$L/*" "$@" ;;
*)
  echo "usage: $0 install | start DIR PORT [--nodes N] [--owner PID] | stop DIR | stop-node DIR I |" \
    "start-node DIR I | bootstrap DIR | topics DIR | tool CLASS ARGS... | lib" >&2; exit 2 ;;
esac
