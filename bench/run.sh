#!/usr/bin/env bash
# sluice benchmark: the anchor workload (../shared/anchor/run-anchor.sh) streamed from MariaDB.
#
#   bench/run.sh            full measurement (200,000 rows, 3 runs per mode)
#   bench/run.sh --anchor   also run Debezium 3.6 + python-mysql-replication in the same run
#                           (../shared/anchor/run-anchor.sh) and print the ratios
#   bench/run.sh --smoke    CI smoke: 20,000 rows, 1 run, checks the pipeline works end to end
#
# Workload: table bench(id bigint pk, name text, amount decimal(12,2), created datetime(6),
# payload text); rows inserted with INSERT … SELECT in autocommit batches of 10,000.
# Modes (JSON with schemas, Kafka Connect JsonConverter format, for every event):
#   catchup-null  rows already in the binlog, sluice reads from before them to the end: decode +
#                 envelope + serialize throughput, sink discards (no disk I/O)
#   catchup-file  same, into an fsynced JSON-lines file
#   catchup-kafka same, into Kafka (a noida-db broker on loopback, scripts/kafka.sh): records
#                 acknowledged by the broker (acks=all, idempotent producer) before the offset is
#                 written; broker_cpu_s is the broker's own CPU time for the run
#   catchup-kafka-eos  same with exactly.once.support=required: events and offsets in Kafka
#                 transactions (offsets in connect-offsets, moved back before each run)
#   live-file     sluice streams first, then the rows are inserted (what the anchor measures);
#                 seconds = first → last event written, e2e_s = first INSERT → last event
#   snapshot-null SNAPSHOT_ROWS rows (default 1,000,000) read by the initial snapshot
#                 (snapshot.mode=initial_only), serialized, discarded; once per reader count in
#                 SNAPSHOT_THREADS (snapshot.max.threads, default "1 2 4"; -tN in the name)
#   catchup-kafka-avro  same with Avro keys and values (io.confluent.connect.avro.AvroConverter,
#                 a rivven-schema registry, scripts/registry.sh), then the bytes per record of
#                 the JSON-with-schema and the Avro topics (bench/record_sizes.py)
#   sinks-pg      the catch-up range (ROWS inserts) into the JDBC sink (PostgreSQL 15,
#                 scripts/postgres.sh; upsert by key, ExtractNewRecordState, auto.create), in one
#                 process; target_cpu_s = the PostgreSQL server's CPU for the run
#   sinks-es      same into the Elasticsearch sink (noida-db's Elasticsearch API,
#                 scripts/search.sh), external versions; target_cpu_s = the search server's CPU
#   postgres      the same workload on PostgreSQL 15 (scripts/postgres.sh, wal_level=logical):
#                 pg-catchup = ROWS inserts already in the slot, read to the end (includes up to
#                 ~1 s to notice the end: the server's keepalive); pg-snapshot = SNAPSHOT_ROWS
#                 rows by the initial snapshot (initial_only, 2 readers); both null sink;
#                 pg-server-decoding = the same ROWS changes decoded by pgoutput inside the
#                 server (pg_logical_slot_get_binary_changes), the ceiling for any client
#   MODES         which groups to run (default "catchup kafka avro live snapshot sinks postgres")
# Prints one line per run: events, seconds, eps, cpu_s (user+sys of the sluice process),
# us_per_event (CPU), peak_rss_mb. Servers are private (scripts/mariadb.sh) on 127.0.0.1.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROWS=${ROWS:-200000}
SNAPSHOT_ROWS=${SNAPSHOT_ROWS:-1000000}
BATCH_ROWS=${BATCH_ROWS:-10000}
RUNS=${RUNS:-3}
MODES=${MODES:-catchup kafka avro live snapshot sinks postgres}
SNAPSHOT_THREADS=${SNAPSHOT_THREADS:-1 2 4}
PORT=${BENCH_PORT:-$("$ROOT/scripts/mariadb.sh" free-port 33390)}
ANCHOR=0; SMOKE=0
for a in "$@"; do
  case $a in
    --anchor) ANCHOR=1 ;;
    --smoke) SMOKE=1; ROWS=20000; SNAPSHOT_ROWS=50000; RUNS=1; SNAPSHOT_THREADS=2 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
SLUICE=${SLUICE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/sluice}
[ -x "$SLUICE" ] || (cd "$ROOT" && cargo build --release -p sluice >&2)
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 1; }
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 711 "$WORK"   # the PostgreSQL cluster below runs as the postgres user
DB=$WORK/mariadb
cleanup() {
  "$ROOT/scripts/mariadb.sh" stop "$DB" >/dev/null 2>&1 || true
  "$ROOT/scripts/kafka.sh" stop "$WORK/kafka" >/dev/null 2>&1 || true
  "$ROOT/scripts/postgres.sh" stop "$WORK/pg" >/dev/null 2>&1 || true
  "$ROOT/scripts/search.sh" stop "$WORK/es" >/dev/null 2>&1 || true
  "$ROOT/scripts/registry.sh" stop "$WORK/registry" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

"$ROOT/scripts/mariadb.sh" start "$DB" "$PORT" --innodb-buffer-pool-size=512M >&2
sqlc() { "$ROOT/scripts/mariadb.sh" sql "$DB" "$@"; }
insert_rows() {
  local s e
  for ((s = 1; s <= ROWS; s += BATCH_ROWS)); do
    e=$((s + BATCH_ROWS - 1)); [ "$e" -gt "$ROWS" ] && e=$ROWS
    echo "INSERT INTO bench SELECT seq, CONCAT('name-',seq), (seq % 100000)/100,
          TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, CONCAT(MD5(seq),MD5(seq+1)) FROM seq_${s}_to_${e};"
  done | sqlc benchdb
}
reset_table() {
  sqlc -e "DROP DATABASE IF EXISTS benchdb; CREATE DATABASE benchdb;
           CREATE TABLE benchdb.bench(id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(12,2),
             created DATETIME(6), payload TEXT) ENGINE=InnoDB; RESET MASTER;"
}
connector() { # dir [snapshot.mode] [extra "key":"value" pairs] [topic.prefix]
  cat > "$1/c.json" <<JSON
{"name":"bench","config":{"connector.class":"io.debezium.connector.mysql.MySqlConnector",
 "database.hostname":"127.0.0.1","database.port":"$PORT","database.user":"cdc","database.password":"cdc",
 "database.server.id":"5499","topic.prefix":"${4:-bench}","table.include.list":"benchdb.bench",
 "snapshot.mode":"${2:-no_data}","include.schema.changes":"false"${3:+,$3}}}
JSON
}
proc_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
# a server's CPU including its exited children (PostgreSQL backends are processes)
tree_cpu() { awk -v hz="$(getconf CLK_TCK)" '{printf "%.2f", ($14 + $15 + $16 + $17) / hz}' "/proc/$1/stat"; }
# how many child processes a pid has (PostgreSQL: its auxiliary processes plus live backends)
child_count() { cat /proc/[0-9]*/stat 2>/dev/null | awk -v p="$1" '{ sub(/.*\) /, "") } $2 == p' | wc -l; }
# wait (at most 5 s) until a server is back to `want` children, so an exited backend's CPU has been
# reaped into the server's cutime/cstime before tree_cpu reads it
settle_children() { local i; for ((i = 0; i < 50; i++)); do [ "$(child_count "$1")" -le "$2" ] && return; sleep 0.1; done; }
field() { grep -o "$1=[^ ]*" "$2" | tail -n 1 | cut -d= -f2; }
report() { # name run events seconds timefile [extra]
  local name=$1 run=$2 n=$3 secs=$4 t=$5 extra=${6:-}
  local cpu rss
  cpu=$(awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$t")
  rss=$(awk -F': ' '/Maximum resident set size/ {printf "%d", $2/1024}' "$t")
  awk -v name="$name" -v run="$run" -v n="$n" -v s="$secs" -v cpu="$cpu" -v rss="$rss" -v extra="$extra" 'BEGIN {
    printf "%s run=%d events=%d seconds=%.3f eps=%.0f cpu_s=%s us_per_event=%.2f peak_rss_mb=%d%s\n",
      name, run, n, s, (s > 0 ? n / s : 0), cpu, (n > 0 ? cpu * 1e6 / n : 0), rss, (extra == "" ? "" : " " extra) }'
}

exec 3>&1
RESULTS=$WORK/results.txt
exec > >(tee "$RESULTS") # every result line is also kept for the summary

mode() { [[ " $MODES " == *" $1 "* ]]; }

# ---- catch-up modes: the same binlog range is read RUNS times per sink
if mode catchup || mode kafka || mode avro; then
reset_table
W=$WORK/catchup; mkdir -p "$W"; connector "$W"
"$SLUICE" run "$W/c.json" --sink null --data-dir "$W/d" --exit-when-caught-up 2>/dev/null
cp "$W/d/offsets/bench.json" "$W/start.json"
insert_rows
for sink in null file; do
  mode catchup || continue
  for ((r = 1; r <= RUNS; r++)); do
    cp "$W/start.json" "$W/d/offsets/bench.json"; rm -f "$W/out.jsonl"
    spec=null; [ $sink = file ] && spec=file:$W/out.jsonl
    /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/c.json" --sink "$spec" \
      --data-dir "$W/d" --exit-when-caught-up 2> "$W/log.json"
    n=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
    secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
    [ "$n" = "$ROWS" ] || { echo "catchup-$sink: expected $ROWS events, got $n" >&2; exit 1; }
    if [ $sink = file ]; then
      lines=$(wc -l < "$W/out.jsonl"); [ "$lines" = "$ROWS" ] || { echo "file has $lines lines" >&2; exit 1; }
      extra="bytes_per_event=$(( $(stat -c %s "$W/out.jsonl") / ROWS ))"
    else extra=""; fi
    report "sluice-mariadb-catchup-$sink" "$r" "$n" "$secs" "$W/time.txt" "$extra"
  done
done
fi

# ---- catch-up into Kafka: the same binlog range, offsets in the file so every run starts alike
if mode kafka || mode avro; then
KPORT=$("$ROOT/scripts/mariadb.sh" free-port 39092)
"$ROOT/scripts/kafka.sh" start noida "$WORK/kafka" "$KPORT" >&2
BROKER_PID=$(cat "$WORK/kafka/broker.pid")
kafka_run() { # mode data-dir: one measured run of $W/c.json into the broker, reported as run $r
  local b0 b1 n secs
  b0=$(proc_cpu "$BROKER_PID")
  /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/c.json" \
    --sink "kafka:127.0.0.1:$KPORT" --data-dir "$2" --exit-when-caught-up 2> "$W/log.json"
  b1=$(proc_cpu "$BROKER_PID")
  n=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
  secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
  [ "$n" = "$ROWS" ] || { echo "$1: expected $ROWS events, got $n" >&2; cat "$W/log.json" >&2; exit 1; }
  report "sluice-mariadb-$1" "$r" "$n" "$secs" "$W/time.txt" \
    "broker_cpu_s=$(awk -v a="$b0" -v b="$b1" 'BEGIN {printf "%.2f", b - a}')"
}
# each run into fresh topics (topic.prefix benchN): the broker slows down as a topic grows, which
# would otherwise make later runs measure the broker's history rather than this run
FILE_OFFSETS='"offset.storage":"org.apache.kafka.connect.storage.FileOffsetBackingStore"'
if mode kafka; then
for ((r = 1; r <= RUNS; r++)); do
  connector "$W" no_data "$FILE_OFFSETS${KAFKA_PROPS:+,$KAFKA_PROPS}" "bench$r"
  sed "s/\"server\": *\"bench\"/\"server\": \"bench$r\"/" "$W/start.json" > "$W/d/offsets/bench.json"
  kafka_run catchup-kafka "$W/d"
done
START=$(sed -n 's/.*"file": *"\([^"]*\)".*/\1/p' "$W/start.json"):$(sed -n 's/.*"pos": *\([0-9]*\).*/\1/p' "$W/start.json")
for ((r = 1; r <= RUNS; r++)); do
  connector "$W" recovery '"exactly.once.support":"required"' "eos$r"
  "$SLUICE" offsets set "$W/c.json" --binlog "$START" --sink "kafka:127.0.0.1:$KPORT" --data-dir "$W/eos" >/dev/null
  kafka_run catchup-kafka-eos "$W/eos"
done
fi
if mode avro; then
  RPORT=$("$ROOT/scripts/mariadb.sh" free-port 38081)
  "$ROOT/scripts/registry.sh" start "$WORK/registry" "$RPORT" >&2
  AVRO="\"key.converter\":\"io.confluent.connect.avro.AvroConverter\",\"key.converter.schema.registry.url\":\"http://127.0.0.1:$RPORT\",\"value.converter\":\"io.confluent.connect.avro.AvroConverter\",\"value.converter.schema.registry.url\":\"http://127.0.0.1:$RPORT\""
  for ((r = 1; r <= RUNS; r++)); do
    connector "$W" no_data "$FILE_OFFSETS,$AVRO" "avro$r"
    sed "s/\"server\": *\"bench\"/\"server\": \"avro$r\"/" "$W/start.json" > "$W/d/offsets/bench.json"
    kafka_run catchup-kafka-avro "$W/d"
  done
  # one JSON-with-schema run into topics of its own, to compare record sizes
  connector "$W" no_data "$FILE_OFFSETS" "jsize"
  sed "s/\"server\": *\"bench\"/\"server\": \"jsize\"/" "$W/start.json" > "$W/d/offsets/bench.json"
  "$SLUICE" run "$W/c.json" --sink "kafka:127.0.0.1:$KPORT" --data-dir "$W/d" --exit-when-caught-up 2>/dev/null
  "$("$ROOT/scripts/registry.sh" python)" "$ROOT/bench/record_sizes.py" "127.0.0.1:$KPORT" \
    jsize.benchdb.bench avro1.benchdb.bench
  "$ROOT/scripts/registry.sh" stop "$WORK/registry" >&2
fi
"$ROOT/scripts/kafka.sh" stop "$WORK/kafka" >&2
fi

# ---- live mode: streaming first, then the inserts (as the anchor measures)
mode live && for ((r = 1; r <= RUNS; r++)); do
  reset_table
  W=$WORK/live$r; mkdir -p "$W"; connector "$W"
  "$SLUICE" run "$W/c.json" --sink null --data-dir "$W/d" --exit-when-caught-up 2>/dev/null
  /usr/bin/time -v -o "$W/time.txt" "$SLUICE" run "$W/c.json" --sink "file:$W/out.jsonl" --data-dir "$W/d" 2>"$W/log" &
  pid=$!
  sleep 0.5
  t0=$(date +%s%3N)
  insert_rows
  t1=$(date +%s%3N)
  first=""; last=""
  for _ in $(seq 1 1200); do
    n=$(wc -l < "$W/out.jsonl" 2>/dev/null || echo 0)
    [ -z "$first" ] && [ "$n" -gt 0 ] && first=$(date +%s%3N)
    if [ "$n" -ge "$ROWS" ]; then last=$(date +%s%3N); break; fi
    sleep 0.05
  done
  pkill -TERM -P "$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
  [ -n "$last" ] || { echo "live run $r did not deliver $ROWS events" >&2; exit 1; }
  [ -n "$first" ] || first=$t0
  secs=$(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.3f", (b-a)/1000}')
  e2e=$(awk -v a="$t0" -v b="$last" 'BEGIN {printf "%.3f", (b-a)/1000}')
  ins=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1000}')
  report "sluice-mariadb-live-file" "$r" "$ROWS" "$secs" "$W/time.txt" "e2e_s=$e2e insert_s=$ins"
done

# ---- initial snapshot of a pre-loaded table
if mode snapshot; then
reset_table
echo "INSERT INTO bench SELECT seq, CONCAT('name-',seq), (seq % 100000)/100,
      TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, CONCAT(MD5(seq),MD5(seq+1)) FROM seq_1_to_${SNAPSHOT_ROWS};" | sqlc benchdb
sqlc benchdb -e "ANALYZE TABLE bench" >/dev/null
sqlc benchdb -e "SELECT COUNT(*), SUM(LENGTH(payload)) FROM bench" >/dev/null   # warm the cache, as the anchor does
for ((r = 1; r <= RUNS; r++)); do
  for t in $SNAPSHOT_THREADS; do
    W=$WORK/snap$r-$t; mkdir -p "$W"; connector "$W" initial_only "\"snapshot.max.threads\":\"$t\""
    /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/c.json" --sink null \
      --data-dir "$W/d" 2> "$W/log.json"
    n=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
    secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
    [ "$n" = "$SNAPSHOT_ROWS" ] || { echo "snapshot: expected $SNAPSHOT_ROWS events, got $n" >&2; exit 1; }
    report "sluice-mariadb-snapshot-null-t$t" "$r" "$n" "$secs" "$W/time.txt"
  done
done
fi

# ---- sink connectors: the catch-up range into PostgreSQL (JDBC) and Elasticsearch, embedded
if mode sinks; then
reset_table
W=$WORK/sinks; mkdir -p "$W"; connector "$W"
"$SLUICE" run "$W/c.json" --sink null --data-dir "$W/d" --exit-when-caught-up 2>/dev/null
cp "$W/d/offsets/bench.json" "$W/start.json"
insert_rows
PGPORT=$("$ROOT/scripts/mariadb.sh" free-port 35432)
ESPORT=$("$ROOT/scripts/mariadb.sh" free-port 39200)
"$ROOT/scripts/postgres.sh" start "$WORK/pg" "$PGPORT" -c shared_buffers=256MB >&2
"$ROOT/scripts/search.sh" start "$WORK/es" "$ESPORT" >&2
UNWRAP='"transforms":"unwrap","transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState"'
cat > "$W/pg.json" <<JSON
{"name":"pg","config":{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector",
 "connection.url":"jdbc:postgresql://127.0.0.1:$PGPORT/postgres?user=postgres","topics":"bench.benchdb.bench",
 "table.name.format":"bench","insert.mode":"upsert","pk.mode":"record_key","delete.enabled":"true",
 "auto.create":"true",$UNWRAP}}
JSON
cat > "$W/es.json" <<JSON
{"name":"es","config":{"connector.class":"io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
 "connection.url":"http://127.0.0.1:$ESPORT","topics":"bench.benchdb.bench","key.ignore":"false",
 "schema.ignore":"true","behavior.on.null.values":"delete","read.timeout.ms":"120000",
 "transforms":"key,unwrap","transforms.key.type":"org.apache.kafka.connect.transforms.ExtractField\$Key",
 "transforms.key.field":"id","transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState"}}
JSON
PG_PID=$(head -n 1 "$WORK/pg/data/postmaster.pid")
ES_PID=$(cat "$WORK/es/search.pid")
for target in ${SINK_TARGETS:-pg es}; do
  for ((r = 1; r <= RUNS; r++)); do
    if [ $target = pg ]; then
      "$ROOT/scripts/postgres.sh" sql "$WORK/pg" -q -c "DROP TABLE IF EXISTS bench" >/dev/null 2>&1; tpid=$PG_PID
    else
      curl -s -X DELETE "http://127.0.0.1:$ESPORT/bench.benchdb.bench" >/dev/null || true; tpid=$ES_PID
    fi
    cp "$W/start.json" "$W/d/offsets/bench.json"
    kids=$(child_count "$tpid"); c0=$(tree_cpu "$tpid")
    /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/c.json" "$W/$target.json" \
      --data-dir "$W/d" --exit-when-caught-up 2> "$W/log.json"
    settle_children "$tpid" "$kids"; c1=$(tree_cpu "$tpid")
    n=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"events":[0-9]*' | head -n 1 | cut -d: -f2)
    secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | head -n 1 | cut -d: -f2)
    [ "$n" = "$ROWS" ] || { echo "sinks-$target: expected $ROWS events, got $n" >&2; cat "$W/log.json" >&2; exit 1; }
    if [ $target = pg ]; then
      got=$("$ROOT/scripts/postgres.sh" sql "$WORK/pg" -tA -c "SELECT count(*) FROM bench")
    else
      curl -s -X POST "http://127.0.0.1:$ESPORT/bench.benchdb.bench/_refresh" >/dev/null
      got=$(curl -s "http://127.0.0.1:$ESPORT/bench.benchdb.bench/_count" | grep -o '"count":[0-9]*' | cut -d: -f2)
    fi
    [ "$got" = "$ROWS" ] || { echo "sinks-$target: the target holds $got rows, expected $ROWS" >&2; exit 1; }
    report "sluice-mariadb-sink-$target" "$r" "$n" "$secs" "$W/time.txt" \
      "target_cpu_s=$(awk -v a="$c0" -v b="$c1" 'BEGIN {printf "%.2f", b - a}')"
  done
done
"$ROOT/scripts/postgres.sh" stop "$WORK/pg" >&2
"$ROOT/scripts/search.sh" stop "$WORK/es" >&2
fi

# ---- the PostgreSQL source: catch-up of ROWS inserts and a SNAPSHOT_ROWS snapshot
if mode postgres; then
PGPORT=$("$ROOT/scripts/mariadb.sh" free-port 35433)
"$ROOT/scripts/postgres.sh" start "$WORK/pgsrc" "$PGPORT" -c shared_buffers=256MB >&2
psqlc() { "$ROOT/scripts/postgres.sh" sql "$WORK/pgsrc" -q "$@"; }
pg_connector() { # dir slot snapshot.mode
  cat > "$1/c.json" <<JSON
{"name":"bench","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname":"127.0.0.1","database.port":"$PGPORT","database.user":"postgres","database.dbname":"postgres",
 "topic.prefix":"bench","slot.name":"$2","publication.name":"bench_pub","publication.autocreate.mode":"filtered",
 "table.include.list":"public.bench","snapshot.mode":"$3","snapshot.max.threads":"2"}}
JSON
}
pg_rows() { # first last
  local s e
  for ((s = $1; s <= $2; s += BATCH_ROWS)); do
    e=$((s + BATCH_ROWS - 1)); [ "$e" -gt "$2" ] && e=$2
    echo "INSERT INTO bench SELECT g, 'name-'||g, (g % 100000)/100.0, timestamp '2024-01-01' + g * interval '1 second', md5(g::text)||md5((g+1)::text) FROM generate_series($s, $e) g;"
  done | psqlc
}
pg_measure() { # name run dir expected
  /usr/bin/time -v -o "$3/time.txt" "$SLUICE" --log-format json run "$3/c.json" --sink null \
    --data-dir "$3/d" --exit-when-caught-up 2> "$3/log.json"
  n=$(grep '"pipeline finished"' "$3/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
  secs=$(grep '"pipeline finished"' "$3/log.json" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
  [ "$n" = "$4" ] || { echo "$1: expected $4 events, got $n" >&2; cat "$3/log.json" >&2; exit 1; }
  report "$1" "$2" "$n" "$secs" "$3/time.txt"
}
psqlc -c "CREATE TABLE bench(id bigint primary key, name text, amount numeric(12,2), created timestamp, payload text)"
for ((r = 1; r <= RUNS; r++)); do
  W=$WORK/pgc$r; mkdir -p "$W"; pg_connector "$W" "bench_c$r" no_data
  psqlc -c "TRUNCATE bench"
  "$SLUICE" run "$W/c.json" --sink null --data-dir "$W/d" --exit-when-caught-up 2>/dev/null  # creates the slot
  psqlc -c "SELECT pg_create_logical_replication_slot('bench_d$r', 'pgoutput')" >/dev/null
  pg_rows 1 "$ROWS"
  pg_measure sluice-postgres-catchup-null "$r" "$W" "$ROWS"
  psqlc -c "SELECT pg_drop_replication_slot('bench_c$r')" >/dev/null
  # the server's own decoding rate: the same changes decoded by pgoutput inside the server,
  # nothing sent over the wire (the ceiling for any logical replication client)
  t0=$(date +%s.%N)
  n=$(psqlc -At -c "SELECT count(*) FILTER (WHERE get_byte(data, 0) = 73) FROM pg_logical_slot_get_binary_changes('bench_d$r', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_pub')")
  t1=$(date +%s.%N)
  awk -v r="$r" -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "pg-server-decoding run=%d events=%d seconds=%.3f eps=%.0f\n", r, n, b - a, n / (b - a) }'
  psqlc -c "SELECT pg_drop_replication_slot('bench_d$r')" >/dev/null
done
psqlc -c "TRUNCATE bench"
pg_rows 1 "$SNAPSHOT_ROWS"
psqlc -c "VACUUM ANALYZE bench" -c "SELECT count(*), sum(length(payload)) FROM bench" >/dev/null
for ((r = 1; r <= RUNS; r++)); do
  W=$WORK/pgs$r; mkdir -p "$W"; pg_connector "$W" "bench_s$r" initial_only
  pg_measure sluice-postgres-snapshot-null "$r" "$W" "$SNAPSHOT_ROWS"
  psqlc -c "SELECT pg_drop_replication_slot('bench_s$r')" >/dev/null
done
"$ROOT/scripts/postgres.sh" stop "$WORK/pgsrc" >&2
fi

# ---- the anchor, in the same run
if [ "$ANCHOR" = 1 ]; then
  A=$ROOT/../shared/anchor/run-anchor.sh
  [ -f "$A" ] || { echo "anchor script $A not found" >&2; exit 1; }
  M=""
  { mode catchup || mode kafka || mode live; } && M="debezium-mariadb-stream pyrepl-mariadb-stream"
  mode snapshot && M="$M debezium-mariadb-snapshot"
  mode postgres && M="$M debezium-postgres-stream debezium-postgres-snapshot"
  MEASUREMENTS="$M" \
    STREAM_ROWS=$ROWS SNAPSHOT_ROWS=$SNAPSHOT_ROWS RUNS=$RUNS \
    bash "$A" 2>"$WORK/anchor.err" | tee "$WORK/anchor.txt" | grep -v '^SUMMARY' || true
fi

# ---- summary: medians per measurement, ratios against Debezium when it ran in this invocation
exec 1>&3
sleep 0.2
echo "# summary (medians over runs)"
awk '$2 ~ /^run=/ {
       name = $1; n[name]++; if (!(name in seen)) { seen[name] = 1; order[++k] = name }
       for (i = 2; i <= NF; i++) { split($i, kv, "="); v[name, n[name], kv[1]] = kv[2] } }
     function med(name, key,   m, i, j, t, x) {
       m = n[name]; for (i = 1; i <= m; i++) x[i] = v[name, i, key] + 0
       for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (x[j] < x[i]) { t = x[i]; x[i] = x[j]; x[j] = t }
       return (m % 2) ? x[(m + 1) / 2] : (x[m / 2] + x[m / 2 + 1]) / 2 }
     END {
       for (i = 1; i <= k; i++) {
         name = order[i]
         printf "SUMMARY %s runs=%d eps=%.0f cpu_s=%.2f us_per_event=%.2f peak_rss_mb=%.0f\n", name, n[name],
           med(name, "eps"), med(name, "cpu_s"), med(name, "cpu_s") * 1e6 / med(name, "events"), med(name, "peak_rss_mb")
       }
       for (i = 1; i <= k; i++) {
         name = order[i]; if (name !~ /^sluice/) continue
         db = (name ~ /postgres/) ? "postgres" : "mariadb"
         d = (name ~ /snapshot/) ? "debezium-" db "-snapshot" : "debezium-" db "-stream"
         if (!(d in n)) continue
         printf "RATIO %s vs %s: eps x%.1f, cpu_s /%.1f, peak_rss /%.1f\n", name, d,
           med(name, "eps") / med(d, "eps"), med(d, "cpu_s") / med(name, "cpu_s"), med(d, "peak_rss_mb") / med(name, "peak_rss_mb")
       }
     }' "$RESULTS"
