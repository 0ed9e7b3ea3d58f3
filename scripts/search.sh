#!/usr/bin/env bash
# Starts/stops a private OpenSearch node on loopback, for tests, demo and benchmarks: the
# Elasticsearch-compatible REST API the Elasticsearch sink writes to. OpenSearch's jars come from
# Maven Central through scripts/tools.sh, once, into the tools cache; a small launcher
# (scripts/java/opensearch/SluiceSearchNode.java, compiled there by javac) runs one node with its
# modules given as classpath plugins: transport-netty4 (HTTP), analysis-common, mapper-extras,
# reindex (_delete_by_query, _reindex), and lang-painless only with OPENSEARCH_PAINLESS=1. No
# security plugin: plain HTTP, no users.
#
#   scripts/search.sh install                      # fetch the jars, compile the launcher, make the
#                                                  # class-data archive (for CI, up front)
#   scripts/search.sh start DIR PORT [--owner PID] # ready when it returns: GET / answers and the
#        cluster health is yellow or green. HTTP on 127.0.0.1:PORT, transport on a free loopback
#        port, discovery.type single-node. --owner PID: the node stops once process PID has ended.
#   scripts/search.sh stop DIR                     # SIGTERM, SIGKILL after 15 s
#
# DIR holds config/ (opensearch.yml, log4j2.properties, written at each start), data/, tmp/,
# search.log (the node's log, INFO), search.pid (the JVM) and search.ready (the HTTP address,
# written by the node once started). Starting again on the same DIR keeps the indices.
# Env: OPENSEARCH_HEAP (the heap's maximum, default 512m: 50k small documents need less than
# 256m), OPENSEARCH_JVM_OPTS (more JVM options), OPENSEARCH_PAINLESS=1 (load lang-painless),
# SEARCH_START_TIMEOUT (seconds, default 90).
#
# Settings beside the defaults: disk watermarks off (tests run on full-ish disks),
# action.auto_create_index true, the parent circuit breaker on accounted memory instead of the
# heap's real use (with the serial GC the heap is often nearly full between collections).
#
# Version: OpenSearch 2.19.6, the newest line that runs on Java 17 (3.x needs Java 21).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
version=2.19.6
heap=${OPENSEARCH_HEAP:-512m}
# the heap starts at 128 MB (or less) and grows to OPENSEARCH_HEAP when needed: the serial GC
# keeps the RSS near what the node uses (210 MB started, 285 MB after 50k small documents)
mb() { local v=${1,,}; case $v in *g) echo $((${v%g} * 1024)) ;; *m) echo "${v%m}" ;; *k) echo $((${v%k} / 1024)) ;; *) echo $((v / 1048576)) ;; esac; }
xms=$(( $(mb "$heap") < 128 ? $(mb "$heap") : 128 ))m
plugins=(org.opensearch.transport.Netty4Plugin org.opensearch.analysis.common.CommonAnalysisPlugin
  org.opensearch.index.mapper.MapperExtrasPlugin org.opensearch.index.reindex.ReindexPlugin)
# Painless (scripts: _update with a script, _update_by_query) costs 1 s of start-up and 110 MB of
# RSS, and nothing here uses scripts: only with OPENSEARCH_PAINLESS=1
if [ "${OPENSEARCH_PAINLESS:-0}" = 1 ]; then plugins+=(org.opensearch.painless.PainlessPlugin); fi

lib() {  # fetch (once) and print the jar dir
  "$here/tools.sh" maven "opensearch-$version" "org.opensearch:opensearch:$version" \
    "org.opensearch.plugin:transport-netty4-client:$version" "org.opensearch.plugin:analysis-common:$version" \
    "org.opensearch.plugin:mapper-extras-client:$version" "org.opensearch.plugin:lang-painless:$version" \
    "org.opensearch.plugin:reindex-client:$version" \
    "org.apache.logging.log4j:log4j-core:2.25.4" >/dev/null   # OpenSearch's own log4j (optional in its pom)
  echo "$("$here/tools.sh" dir)/opensearch-$version/lib"
}

launcher() {  # compile (once per source and jar set) and print the launcher's jar
  local L=$1 java=$2 src=$here/java/opensearch/SluiceSearchNode.java key c bin d f
  key=$(cat "$src" "$(dirname "$L")/lib.done" | cksum | cut -d' ' -f1)
  c=$(dirname "$L")/launcher-$key.jar   # a jar, not a class dir: a class-data archive needs jars
  if [ ! -f "$c" ]; then
    bin=$(dirname "$(readlink -f "$java")")
    [ -x "$bin/javac" ] && [ -x "$bin/jar" ] ||
      { echo "javac and jar not found beside $java: install a JDK (apt-get install openjdk-17-jdk-headless)" >&2; exit 1; }
    d=$c.$$.d; rm -rf "$d"; mkdir -p "$d"   # (tests may start several nodes at once)
    "$bin/javac" --release 11 -nowarn -d "$d/classes" -cp "$L/*" "$src" >&2
    "$bin/jar" cf "$d/launcher.jar" -C "$d/classes" .
    mv -f "$d/launcher.jar" "$c"; rm -rf "$d"
    for f in "$(dirname "$L")"/launcher-*.jar "$(dirname "$L")"/cds-*.jsa; do   # older launchers
      [ "$f" = "$c" ] || rm -f "$f"
    done
  fi
  echo "$c"
}

java_cmd() {  # sets J: the JVM with OpenSearch's classpath, options and class-data archive
  local L C java major locale native
  L=$(lib); java=$("$here/tools.sh" java); C=$(launcher "$L" "$java")
  major=$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  # OpenSearch's own launcher: COMPAT locale data for its date formats; COMPAT is gone in Java 23
  if [ "${major:-17}" -ge 23 ]; then locale=SPI,CLDR; else locale=SPI,COMPAT; fi
  # Lucene's native madvise on Java 22+ (else a warning in the log)
  if [ "${major:-17}" -ge 22 ]; then native=--enable-native-access=ALL-UNNAMED; else native=; fi
  # AppCDS archive of the node's classes (install makes it), valid for this java and lib only
  jsa=$(dirname "$L")/cds-$(echo "$(readlink -f "$java") $(stat -c %Y "$L") $C" | cksum | cut -d' ' -f1).jsa
  # the options OpenSearch's launcher sets (SystemJvmOptions, jvm.options), less AlwaysPreTouch
  # (RSS) and G1: SerialGC for a small heap on 2 cores, with several JVMs at once
  J=("$java" "-Xms$xms" "-Xmx$heap" -XX:+UseSerialGC -XX:+ExitOnOutOfMemoryError -Xss1m
    -Djava.awt.headless=true -Dfile.encoding=UTF-8 -Djna.nosys=true -XX:-OmitStackTraceInFastThrow
    -XX:+ShowCodeDetailsInExceptionMessages "-Djava.locale.providers=$locale"
    -Dopensearch.networkaddress.cache.ttl=60 -Dopensearch.networkaddress.cache.negative.ttl=10
    -Dio.netty.noUnsafe=true -Dio.netty.noKeySetOptimization=true -Dio.netty.recycler.maxCapacityPerThread=0
    -Dio.netty.allocator.numDirectArenas=0 -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true $native)
  if [ -f "$jsa" ]; then J+=(-XX:SharedArchiveFile="$jsa" -Xlog:cds=off -Xlog:cds+dynamic=off); fi
  J+=(${OPENSEARCH_JVM_OPTS:-} -cp "$L/*:$C")
}

alive() {  # the JVM of DIR runs (the pid is still that JVM, not a reused one)
  local p; p=$(cat "$dir/search.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && tr '\0' '\n' 2>/dev/null <"/proc/$p/cmdline" | grep -qxF -- "-Dopensearch.path.home=$dir"
}

http_get() {  # http_get PATH: the response (status line, headers, body) over plain bash TCP
  timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
    printf "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" "$2" >&3 && cat <&3' _ "$port" "$1" 2>/dev/null || true
}

write_config() {
  mkdir -p "$dir/config" "$dir/data" "$dir/logs" "$dir/tmp"
  cat >"$dir/config/opensearch.yml" <<EOF
cluster.name: sluice
node.name: sluice
discovery.type: single-node
network.host: 127.0.0.1
http.port: $port
transport.port: 0
path.data: $dir/data
path.logs: $dir/logs
cluster.routing.allocation.disk.threshold_enabled: false
action.auto_create_index: true
indices.breaker.total.use_real_memory: false
EOF
  # to stdout, which goes to DIR/search.log: INFO (about 40 lines a start, 2 an index created)
  cat >"$dir/config/log4j2.properties" <<'EOF'
status = error
appender.console.type = Console
appender.console.name = console
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] %m%n
rootLogger.level = info
rootLogger.appenderRef.console.ref = console
logger.dangling.name = org.opensearch.gateway.DanglingIndicesState
logger.dangling.level = error
EOF
}

train() {  # make the class-data archive: one node started and stopped (once, 10-30 s)
  local t p; java_cmd; [ ! -f "$jsa" ] || return 0
  t=$(mktemp -d)
  echo "making the OpenSearch class-data archive (once): $jsa" >&2
  if OPENSEARCH_PAINLESS=1 SEARCH_CDS_DUMP=$jsa.$$ "$here/search.sh" start "$t" "$("$here/mariadb.sh" free-port $((20000 + RANDOM % 30000)))" >/dev/null; then
    p=$(cat "$t/search.pid"); kill "$p"   # the JVM writes the archive as it exits: give it time
    for _ in $(seq 1 1200); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  fi
  if [ -s "$jsa.$$" ]; then mv -f "$jsa.$$" "$jsa"; else rm -f "$jsa.$$"; echo "(no class-data archive made)" >&2; fi
  rm -rf "$t"
}

case "${1:-}" in
install) java_cmd; train ;;
start)
  dir=${2:?dir required}; port=${3:?port required}; shift 3
  owner=""
  while [ $# -gt 0 ]; do
    case "$1" in
    --owner) owner=${2:?}; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
    esac
  done
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  if alive; then echo "search server already running in $dir" >&2; exit 0; fi
  java_cmd
  write_config
  echo "=== start $(date '+%F %T') port $port" >>"$dir/search.log"
  rm -f "$dir/search.ready"
  "${J[@]}" ${SEARCH_CDS_DUMP:+-XX:ArchiveClassesAtExit=$SEARCH_CDS_DUMP} \
    -Djava.io.tmpdir="$dir/tmp" -XX:ErrorFile="$dir/logs/hs_err_pid%p.log" \
    -Dopensearch.path.home="$dir" -Dopensearch.path.conf="$dir/config" -Dsluice.ready.file="$dir/search.ready" \
    SluiceSearchNode "${plugins[@]}" </dev/null >>"$dir/search.log" 2>&1 &
  pid=$!; echo $pid >"$dir/search.pid"
  [ -z "$owner" ] || "$here/tools.sh" watch "$owner" "$here/search.sh" stop "$dir"
  deadline=$((SECONDS + ${SEARCH_START_TIMEOUT:-90}))
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then   # (not alive: until exec, the pid is a bash)
      echo "OpenSearch did not start; see $dir/search.log" >&2
      run=$(sed -n '/^=== start/h; /^=== start/!H; ${x;p}' "$dir/search.log")
      grep -E -A2 -m5 'did not start:|\]\[(ERROR|FATAL)|^Error|^Exception' <<<"$run" | head -n 15 >&2 ||
        tail -n 15 <<<"$run" >&2
      exit 1
    fi
    # the launcher writes search.ready once the node started (HTTP bound: this is our node on
    # PORT, not another server), then health (it waits up to 1 s for yellow) and GET /
    if [ -f "$dir/search.ready" ] && http_get '/_cluster/health?wait_for_status=yellow&timeout=1s' | grep -qE '"status":"(green|yellow)"'; then
      root=$(http_get /)
      if [[ $root == "HTTP/1."?" 200"* ]]; then
        echo "OpenSearch $version ready on http://127.0.0.1:$port (dir $dir)"
        exit 0
      fi
    fi
    if [ $SECONDS -ge "$deadline" ]; then
      echo "OpenSearch not ready after ${SEARCH_START_TIMEOUT:-90} s; see $dir/search.log" >&2
      "$here/search.sh" stop "$dir"; exit 1
    fi
    sleep 0.2
  done
  ;;
stop)
  dir=$(cd "${2:?dir required}" 2>/dev/null && pwd) || exit 0
  if alive; then
    pid=$(cat "$dir/search.pid")
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 150); do alive || break; sleep 0.1; done
    if alive; then kill -9 "$pid" 2>/dev/null || true; fi
  fi
  rm -f "$dir/search.pid" "$dir/search.ready"
  ;;
*)
  echo "usage: $0 install | start DIR PORT [--owner PID] | stop DIR" >&2; exit 2 ;;
esac
