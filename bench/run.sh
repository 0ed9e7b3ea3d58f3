#!/usr/bin/env bash
# sluice benchmarks, and (--anchor) the same workloads through Debezium on Kafka Connect, on the
# same Apache Kafka, in the same invocation. Results in docs/benchmarks.md.
#
#   bench/run.sh                  sluice only (200,000 rows, 3 runs per measurement)
#   bench/run.sh --anchor         + Debezium on Kafka Connect (scripts/connect.sh) beside it, ratios
#   bench/run.sh --smoke          CI: 20,000 rows, 1 run, every mode once, sluice only (< 2 min)
#   bench/run.sh --smoke --anchor the same with a tiny Debezium side (so it does not rot)
#
# Env: ROWS (200000), SNAPSHOT_ROWS (1000000), RUNS (3), MODES (below, default all),
# SNAPSHOT_THREADS ("1 2 4"), SINK_TARGETS ("pg es": the embedded sinks), LAT_RATES
# ("1000 10000 50000" events/s), LAT_SECONDS (10), LAT_DRAIN_S (120), LAT_SYSTEMS
# ("sluice-run sluice-connect debezium"), LAT_DBS ("mariadb postgres"), SLUICE (the binary).
#
# Servers: private, on 127.0.0.1, started here by the project's scripts: MariaDB
# (scripts/mariadb.sh), PostgreSQL 15 (scripts/postgres.sh), Apache Kafka 4.3 KRaft, one node
# (scripts/kafka.sh), Kafka Connect 4.3 with Debezium 3.5/3.6 (scripts/connect.sh), the schema
# registry (scripts/registry.sh), OpenSearch (scripts/search.sh).
#
# Workload: table bench(id bigint pk, name text, amount decimal(12,2), created datetime(6),
# payload text), ROWS rows inserted with INSERT ... SELECT in autocommit batches of 10,000,
# already in the binlog (or the slot) when a connector starts: it reads from before them to the end.
#
# Modes (MODES, groups; * = with Debezium under --anchor):
#   catchup   sluice-mariadb-catchup-null|file: the range into nothing / an fsynced file
#   kafka   * MariaDB -> Kafka, JSON with schemas: sluice-run (`sluice run --sink kafka`),
#             sluice-connect (connector POSTed to `sluice connect`), debezium (MariaDbConnector
#             on Kafka Connect); + sluice-run-mariadb-kafka-eos (exactly-once)
#   avro    * the same with Avro (sluice: io.confluent.connect.avro.AvroConverter; Debezium:
#             Apicurio's AvroConverter in Confluent framing; one registry)
#   pg-kafka, pg-avro *  PostgreSQL -> Kafka, the same three systems (PostgresConnector)
#   latency * commit -> consumer-visible at LAT_RATES (bench/lib/latency.sh)
#   sinks   * one Kafka topic of ROWS change events into PostgreSQL: sluice's JDBC sink
#             (sluice-run, sluice-connect) and Debezium's JDBC sink on Connect; sluice's
#             Elasticsearch sink into OpenSearch; and the embedded sinks (source -> sink in one
#             sluice process: sluice-mariadb-sink-pg|es)
#   postgres  PostgreSQL source into nothing: catch-up, 1M-row snapshot, the server's own decoding
#   live      sluice streams first, then the rows are inserted, into a file
#   snapshot  MariaDB initial snapshot of SNAPSHOT_ROWS rows per reader count
#
# Into Kafka, every run writes fresh topics. A run is timed by one long-lived end-offset poller
# (bench/lib/BenchTool.java): from the first record visible on the topic to all ROWS (scaled to
# ROWS). cpu_s: the sluice process (/usr/bin/time) or the worker's JVM / sluice connect
# (/proc/PID/stat delta over the run); peak_rss_mb: /usr/bin/time or VmHWM (the worker's peak
# so far); broker_cpu_s: the Kafka broker's CPU over the run.
# Output: one line per run, then `SUMMARY` medians and `RATIO` sluice vs Debezium lines.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ANCHOR=0; SMOKE=0
for a in "$@"; do
  case $a in
  --anchor) ANCHOR=1 ;;
  --smoke) SMOKE=1 ;;
  *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done
if [ $SMOKE = 1 ]; then
  ROWS=${ROWS:-20000}; SNAPSHOT_ROWS=${SNAPSHOT_ROWS:-50000}; RUNS=${RUNS:-1}; SNAPSHOT_THREADS=${SNAPSHOT_THREADS:-2}
  LAT_RATES=${LAT_RATES:-1000}; LAT_SECONDS=${LAT_SECONDS:-2}; LAT_DBS=${LAT_DBS:-mariadb}
  LAT_SYSTEMS=${LAT_SYSTEMS:-sluice-run debezium}
fi
ROWS=${ROWS:-200000}
SNAPSHOT_ROWS=${SNAPSHOT_ROWS:-1000000}
BATCH_ROWS=${BATCH_ROWS:-10000}
RUNS=${RUNS:-3}
MODES=${MODES:-catchup kafka avro pg-kafka pg-avro sinks latency postgres live snapshot}
SNAPSHOT_THREADS=${SNAPSHOT_THREADS:-1 2 4}
SINK_TARGETS=${SINK_TARGETS:-pg es}
LAT_RATES=${LAT_RATES:-1000 10000 50000}
LAT_SECONDS=${LAT_SECONDS:-10}
LAT_DRAIN_S=${LAT_DRAIN_S:-120}
LAT_SYSTEMS=${LAT_SYSTEMS:-sluice-run sluice-connect debezium}
LAT_DBS=${LAT_DBS:-mariadb postgres}
SLUICE=${SLUICE:-${CARGO_TARGET_DIR:-$ROOT/target}/release/sluice}
[ -x "$SLUICE" ] || (cd "$ROOT" && cargo build --release -p sluice >&2)
[ -x /usr/bin/time ] || { echo "/usr/bin/time missing: apt-get install time" >&2; exit 1; }
mode() { [[ " $MODES " == *" $1 "* ]]; }
any_mode() { local m; for m in "$@"; do mode "$m" && return 0; done; return 1; }

WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
chmod 711 "$WORK"   # the PostgreSQL clusters run as the postgres user
. "$ROOT/bench/lib/common.sh"
. "$ROOT/bench/lib/systems.sh"
. "$ROOT/bench/lib/sluice.sh"
. "$ROOT/bench/lib/kafka.sh"
. "$ROOT/bench/lib/latency.sh"
. "$ROOT/bench/lib/sinks.sh"
cleanup() {
  set +e
  [ -n "${LAT_PID:-}" ] && kill "$LAT_PID" 2>/dev/null
  [ -n "${POLLER_PID:-}" ] && kill "$POLLER_PID" 2>/dev/null
  stop_sluice_worker; stop_debezium_worker
  "$ROOT/scripts/mariadb.sh" stop "$WORK/mariadb" >/dev/null 2>&1
  "$ROOT/scripts/kafka.sh" stop "$WORK/kafka" >/dev/null 2>&1
  "$ROOT/scripts/postgres.sh" stop "$WORK/pgsrc" >/dev/null 2>&1
  "$ROOT/scripts/postgres.sh" stop "$WORK/pgsink" >/dev/null 2>&1
  "$ROOT/scripts/search.sh" stop "$WORK/es" >/dev/null 2>&1
  "$ROOT/scripts/registry.sh" stop "$WORK/registry" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---- MariaDB
PORT=${BENCH_PORT:-$(free_port 33390)}
"$ROOT/scripts/mariadb.sh" start "$WORK/mariadb" "$PORT" --innodb-buffer-pool-size=512M >&2
sqlc() { "$ROOT/scripts/mariadb.sh" sql "$WORK/mariadb" "$@"; }
insert_rows() {
  local s e
  for ((s = 1; s <= ROWS; s += BATCH_ROWS)); do
    e=$((s + BATCH_ROWS - 1)); [ "$e" -gt "$ROWS" ] && e=$ROWS
    echo "INSERT INTO bench SELECT seq, CONCAT('name-',seq), (seq % 100000)/100,
          TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, CONCAT(MD5(seq),MD5(seq+1)) FROM seq_${s}_to_${e};"
  done | sqlc benchdb
}
# a fresh benchdb.bench and binlog (one transaction in it, so that the start has a GTID position)
reset_table() {
  sqlc -e "DROP DATABASE IF EXISTS benchdb; RESET MASTER; CREATE DATABASE benchdb;
           CREATE TABLE benchdb.bench(id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(12,2),
             created DATETIME(6), payload TEXT) ENGINE=InnoDB;"
}
connector() { # dir [snapshot.mode] [extra "key":"value" pairs] [topic.prefix]: $dir/c.json for sluice run
  cat >"$1/c.json" <<JSON
{"name":"bench","config":{"connector.class":"io.debezium.connector.mysql.MySqlConnector",
 "database.hostname":"127.0.0.1","database.port":"$PORT","database.user":"cdc","database.password":"cdc",
 "database.server.id":"5499","topic.prefix":"${4:-bench}","table.include.list":"benchdb.bench",
 "snapshot.mode":"${2:-no_data}","include.schema.changes":"false"${3:+,$3}}}
JSON
}
FILE_OFFSETS='"offset.storage":"org.apache.kafka.connect.storage.FileOffsetBackingStore"'

# ---- PostgreSQL (source and sink targets), on demand
psqlc() { "$ROOT/scripts/postgres.sh" sql "$WORK/pgsrc" -q "$@"; }
pgsink() { "$ROOT/scripts/postgres.sh" sql "$WORK/pgsink" -q "$@"; }
pg_rows() { # table first last
  local s e
  for ((s = $2; s <= $3; s += BATCH_ROWS)); do
    e=$((s + BATCH_ROWS - 1)); [ "$e" -gt "$3" ] && e=$3
    echo "INSERT INTO $1 SELECT g, 'name-'||g, (g % 100000)/100.0, timestamp '2024-01-01' + g * interval '1 second', md5(g::text)||md5((g+1)::text) FROM generate_series($s, $e) g;"
  done | psqlc
}
drop_slot() { # name: once no walsender holds it (terminated after 5 s)
  local i
  for ((i = 0; i < 100; i++)); do
    [ "$(psqlc -At -c "SELECT count(*) FROM pg_replication_slots WHERE slot_name = '$1' AND active")" = 0 ] && break
    [ $i = 50 ] && psqlc -c "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '$1' AND active" >/dev/null
    sleep 0.1
  done
  psqlc -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$1'" >/dev/null
}
start_pgsrc() {
  [ -z "${PGSRC_PORT:-}" ] || return 0
  PGSRC_PORT=$(free_port 35433)
  # synchronous_commit on (scripts/postgres.sh sets off): a walsender sends only flushed WAL, so
  # with off a commit reaches a replication client up to wal_writer_delay (200 ms) later
  "$ROOT/scripts/postgres.sh" start "$WORK/pgsrc" "$PGSRC_PORT" -c shared_buffers=256MB -c synchronous_commit=on >&2 7>&-
  psqlc -c "CREATE TABLE bench(id bigint primary key, name text, amount numeric(12,2), created timestamp, payload text)" \
    -c "CREATE PUBLICATION bench_pub FOR TABLE bench"
  PG_NEXT=1
}

exec 3>&1
RESULTS=$WORK/results.txt
exec > >(tee "$RESULTS")   # every result line is also kept for the summary
echo "# $(date -u '+%F %T') UTC, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), ROWS=$ROWS RUNS=$RUNS anchor=$ANCHOR MODES=\"$MODES\""

# ---- Kafka, the poller, the registry, OpenSearch, as the modes need them
if any_mode kafka avro pg-kafka pg-avro sinks latency; then
  KPORT=$(free_port 39092)
  "$ROOT/scripts/kafka.sh" start "$WORK/kafka" "$KPORT" --owner $$ >&2
  BOOT=$("$ROOT/scripts/kafka.sh" bootstrap "$WORK/kafka")
  BROKER_PID=$(cat "$WORK/kafka/node1/broker.pid")
  tool_init; poller_start "$BOOT"
fi
SR_URL="" APICURIO_URL="" ES_PORT="" ES_PID=""
if any_mode avro pg-avro; then
  RPORT=$(free_port 38081)
  "$ROOT/scripts/registry.sh" start "$WORK/registry" "$RPORT" --owner $$ >&2 7>&-
  # Apicurio Registry: the Confluent-compatible API for sluice, its v2 API for Apicurio's converter
  if curl -sf "http://127.0.0.1:$RPORT/apis/ccompat/v7/subjects" >/dev/null 2>&1; then
    SR_URL=http://127.0.0.1:$RPORT/apis/ccompat/v7; APICURIO_URL=http://127.0.0.1:$RPORT/apis/registry/v2
  else SR_URL=http://127.0.0.1:$RPORT; fi
fi
if mode sinks; then
  PGSINK_PORT=$(free_port 35434)
  "$ROOT/scripts/postgres.sh" start "$WORK/pgsink" "$PGSINK_PORT" -c shared_buffers=256MB >&2 7>&-
  PGSINK_PID=$(head -n 1 "$WORK/pgsink/data/postmaster.pid")
  if [[ " $SINK_TARGETS " == *" es "* ]]; then
    ES_PORT=$(free_port 39200)
    "$ROOT/scripts/search.sh" start "$WORK/es" "$ES_PORT" --owner $$ >&2 7>&-
    ES_PID=$(cat "$WORK/es/search.pid")
  fi
fi

# ---- the MariaDB data set: catch-up, Kafka, sinks
if any_mode catchup kafka avro sinks; then dataset_mariadb; fi
mode catchup && mode_catchup
mode kafka && { mariadb_kafka json; mode_eos; }
mode avro && mariadb_kafka avro
if mode sinks; then
  mode_sinks_embedded
  if [ -z "${SINK_TOPIC:-}" ]; then   # the topic the kafka mode keeps, else one made here
    connector "$WORK/dataset" no_data "$FILE_OFFSETS" sink; rm -rf "$WORK/dataset/s"; file_offsets sink "$WORK/dataset/s"
    "$SLUICE" run "$WORK/dataset/c.json" --sink "kafka:$BOOT" --data-dir "$WORK/dataset/s" --exit-when-caught-up 2>/dev/null
    SINK_TOPIC=sink.benchdb.bench
  fi
  mode_sinks_kafka
  poll_send delete "$SINK_TOPIC"; poll_read
fi
if any_mode pg-kafka pg-avro postgres || { mode latency && [[ " $LAT_DBS " == *" postgres "* ]]; }; then start_pgsrc; fi
mode pg-kafka && postgres_kafka json
mode pg-avro && postgres_kafka avro
mode postgres && mode_postgres_null
if mode latency; then
  LAT_NEXT=1
  for db in $LAT_DBS; do mode_latency "$db"; done
fi
mode live && mode_live
mode snapshot && mode_snapshot

# ---- summary: medians per measurement, ratios against Debezium's measurement of the same mode
exec 1>&3
sleep 0.2
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
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
         printf "SUMMARY %s runs=%d eps=%.0f cpu_s=%.2f us_per_event=%.2f peak_rss_mb=%.0f broker_cpu_s=%.2f target_cpu_s=%.2f\n", name, n[name],
           med(name, "eps"), med(name, "cpu_s"), med(name, "cpu_s") * 1e6 / med(name, "events"), med(name, "peak_rss_mb"),
           med(name, "broker_cpu_s"), med(name, "target_cpu_s")
       }
       for (i = 1; i <= k; i++) {
         name = order[i]; if (name !~ /^sluice-(run|connect)-/) continue
         d = name; sub(/^sluice-(run|connect)-/, "debezium-", d)
         if (!(d in n)) continue
         printf "RATIO %s vs %s: eps x%.1f, cpu_s /%.1f, peak_rss /%.1f, broker_cpu_s /%.1f\n", name, d,
           med(name, "eps") / med(d, "eps"), med(d, "cpu_s") / med(name, "cpu_s"), med(d, "peak_rss_mb") / med(name, "peak_rss_mb"),
           (med(name, "broker_cpu_s") > 0 ? med(d, "broker_cpu_s") / med(name, "broker_cpu_s") : 0)
       }
     }' "$RESULTS"
grep -E '^(latency|record_size)' "$RESULTS" | sort -s -k1,1 || true
