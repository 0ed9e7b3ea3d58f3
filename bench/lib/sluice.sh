# shellcheck shell=bash
# sluice-only measurements (sourced by bench/run.sh): catch-up into null/file, exactly-once into
# Kafka, live into a file, the MariaDB and PostgreSQL snapshots, the embedded sinks.

# the MariaDB data set shared by the catch-up, Kafka and sink modes: ROWS inserts in the binlog,
# $DS/start.json = sluice's file offset before them; START_FILE/POS/GTID = the same position
# for KIP-875 (Connect-hosted connectors)
dataset_mariadb() {
  [ -z "${DS:-}" ] || return 0
  DS=$WORK/dataset; mkdir -p "$DS"
  reset_table
  read -r START_FILE START_POS < <(sqlc -N -e "SHOW MASTER STATUS" | awk '{print $1, $2}')
  START_GTID=$(sqlc -N -e "SELECT @@gtid_binlog_pos")
  connector "$DS"
  "$SLUICE" run "$DS/c.json" --sink null --data-dir "$DS/d" --exit-when-caught-up 2>/dev/null
  cp "$DS/d/offsets/bench.json" "$DS/start.json"
  insert_rows
}
# sluice's file offset from $DS/start.json for topic prefix $1 into data dir $2
file_offsets() {
  mkdir -p "$2/offsets"; cp -r "$DS/d/history" "$2/"
  sed "s/\"server\": *\"bench\"/\"server\": \"$1\"/" "$DS/start.json" >"$2/offsets/bench.json"; }

mode_catchup() { # catchup-null, catchup-file
  local W=$WORK/catchup sink r n secs extra spec lines
  mkdir -p "$W"; cp "$DS/c.json" "$W/c.json"
  for sink in null file; do
    for ((r = 1; r <= RUNS; r++)); do
      rm -rf "$W/d"; file_offsets bench "$W/d"; rm -f "$W/out.jsonl"
      spec=null; [ $sink = file ] && spec=file:$W/out.jsonl
      /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/c.json" --sink "$spec" \
        --data-dir "$W/d" --exit-when-caught-up 2>"$W/log.json"
      n=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
      secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
      [ "$n" = "$ROWS" ] || fail "catchup-$sink: expected $ROWS events, got $n"
      extra=""
      if [ $sink = file ]; then
        lines=$(wc -l <"$W/out.jsonl"); [ "$lines" = "$ROWS" ] || fail "file has $lines lines"
        extra="bytes_per_event=$(($(stat -c %s "$W/out.jsonl") / ROWS))"
      fi
      report "sluice-mariadb-catchup-$sink" "$r" "$n" "$secs" "$W/time.txt" $extra
    done
  done
  rm -f "$W/out.jsonl"
}

mode_eos() { # catchup-kafka-eos: events and offsets in Kafka transactions (offsets in connect-offsets)
  local W=$WORK/eos r
  mkdir -p "$W"
  for ((r = 1; r <= RUNS; r++)); do
    connector "$W" recovery '"exactly.once.support":"required"' "eos$r"
    "$SLUICE" offsets set "$W/c.json" --binlog "$START_FILE:$START_POS" --sink "kafka:$BOOT" --data-dir "$W/d" >/dev/null
    sluice_kafka_run sluice-run-mariadb-kafka-eos "$r" "$W/c.json" "$W/d" "eos$r.benchdb.bench"
    poll_send delete "eos$r.benchdb.bench"; poll_read
  done
}

mode_live() { # sluice streams first, then the rows are inserted
  local r W pid t0 t1 first last n secs e2e ins
  for ((r = 1; r <= RUNS; r++)); do
    reset_table
    W=$WORK/live$r; mkdir -p "$W"; connector "$W"
    "$SLUICE" run "$W/c.json" --sink null --data-dir "$W/d" --exit-when-caught-up 2>/dev/null
    /usr/bin/time -v -o "$W/time.txt" "$SLUICE" run "$W/c.json" --sink "file:$W/out.jsonl" --data-dir "$W/d" 2>"$W/log" &
    pid=$!
    sleep 0.5
    t0=$(now_ms); insert_rows; t1=$(now_ms)
    first=""; last=""
    for _ in $(seq 1 1200); do
      n=$(wc -l <"$W/out.jsonl" 2>/dev/null || echo 0)
      [ -z "$first" ] && [ "$n" -gt 0 ] && first=$(now_ms)
      if [ "$n" -ge "$ROWS" ]; then last=$(now_ms); break; fi
      sleep 0.05
    done
    pkill -TERM -P "$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
    [ -n "$last" ] || fail "live run $r did not deliver $ROWS events"
    [ -n "$first" ] || first=$t0
    secs=$(awk -v a="$first" -v b="$last" 'BEGIN {printf "%.3f", (b-a)/1000}')
    e2e=$(awk -v a="$t0" -v b="$last" 'BEGIN {printf "%.3f", (b-a)/1000}')
    ins=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", (b-a)/1000}')
    report "sluice-mariadb-live-file" "$r" "$ROWS" "$secs" "$W/time.txt" "e2e_s=$e2e" "insert_s=$ins"
    rm -f "$W/out.jsonl"
  done
}

mode_snapshot() { # the initial snapshot of SNAPSHOT_ROWS pre-loaded rows, per reader count
  local r t W n secs
  reset_table
  echo "INSERT INTO bench SELECT seq, CONCAT('name-',seq), (seq % 100000)/100,
        TIMESTAMP'2024-01-01 00:00:00' + INTERVAL seq SECOND, CONCAT(MD5(seq),MD5(seq+1)) FROM seq_1_to_${SNAPSHOT_ROWS};" | sqlc benchdb
  sqlc benchdb -e "ANALYZE TABLE bench" >/dev/null
  sqlc benchdb -e "SELECT COUNT(*), SUM(LENGTH(payload)) FROM bench" >/dev/null   # warm the cache
  for ((r = 1; r <= RUNS; r++)); do
    for t in $SNAPSHOT_THREADS; do
      W=$WORK/snap$r-$t; mkdir -p "$W"; connector "$W" initial_only "\"snapshot.max.threads\":\"$t\""
      /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/c.json" --sink null \
        --data-dir "$W/d" 2>"$W/log.json"
      n=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
      secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
      [ "$n" = "$SNAPSHOT_ROWS" ] || fail "snapshot: expected $SNAPSHOT_ROWS events, got $n"
      report "sluice-mariadb-snapshot-null-t$t" "$r" "$n" "$secs" "$W/time.txt"
    done
  done
}

# ---- PostgreSQL source into null: catch-up of ROWS inserts, a SNAPSHOT_ROWS snapshot, and the
# server's own pgoutput decoding rate (the ceiling for any client)
pg_null_connector() { # dir slot snapshot.mode
  cat >"$1/c.json" <<JSON
{"name":"bench","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname":"127.0.0.1","database.port":"$PGSRC_PORT","database.user":"postgres","database.dbname":"postgres",
 "topic.prefix":"bench","slot.name":"$2","publication.name":"bench_pub","publication.autocreate.mode":"disabled",
 "table.include.list":"public.nullbench","snapshot.mode":"$3","snapshot.max.threads":"2"}}
JSON
}
pg_measure() { # name run dir expected
  local n secs
  /usr/bin/time -v -o "$3/time.txt" "$SLUICE" --log-format json run "$3/c.json" --sink null \
    --data-dir "$3/d" --exit-when-caught-up 2>"$3/log.json"
  n=$(grep '"pipeline finished"' "$3/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
  secs=$(grep '"pipeline finished"' "$3/log.json" | grep -o '"seconds":[0-9.]*' | cut -d: -f2)
  [ "$n" = "$4" ] || { cat "$3/log.json" >&2; fail "$1: expected $4 events, got $n"; }
  report "$1" "$2" "$n" "$secs" "$3/time.txt"
}
mode_postgres_null() {
  local r W n t0 t1
  psqlc -c "CREATE TABLE nullbench(id bigint primary key, name text, amount numeric(12,2), created timestamp, payload text)" \
    -c "ALTER PUBLICATION bench_pub ADD TABLE nullbench"
  for ((r = 1; r <= RUNS; r++)); do
    W=$WORK/pgc$r; mkdir -p "$W"; pg_null_connector "$W" "null_c$r" no_data
    psqlc -c "TRUNCATE nullbench"
    "$SLUICE" run "$W/c.json" --sink null --data-dir "$W/d" --exit-when-caught-up 2>/dev/null   # creates the slot
    psqlc -c "SELECT pg_create_logical_replication_slot('null_d$r', 'pgoutput')" >/dev/null
    pg_rows nullbench 1 "$ROWS"
    pg_measure sluice-postgres-catchup-null "$r" "$W" "$ROWS"
    drop_slot "null_c$r"
    t0=$(date +%s.%N)
    n=$(psqlc -At -c "SELECT count(*) FILTER (WHERE get_byte(data, 0) = 73) FROM pg_logical_slot_get_binary_changes('null_d$r', NULL, NULL, 'proto_version', '1', 'publication_names', 'bench_pub')")
    t1=$(date +%s.%N)
    awk -v r="$r" -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "pg-server-decoding run=%d events=%d seconds=%.3f eps=%.0f\n", r, n, b - a, n / (b - a) }'
    drop_slot "null_d$r"
  done
  psqlc -c "TRUNCATE nullbench"
  pg_rows nullbench 1 "$SNAPSHOT_ROWS"
  psqlc -c "VACUUM ANALYZE nullbench" -c "SELECT count(*), sum(length(payload)) FROM nullbench" >/dev/null
  for ((r = 1; r <= RUNS; r++)); do
    W=$WORK/pgs$r; mkdir -p "$W"; pg_null_connector "$W" "null_s$r" initial_only
    pg_measure sluice-postgres-snapshot-null "$r" "$W" "$SNAPSHOT_ROWS"
    drop_slot "null_s$r"
  done
  psqlc -c "ALTER PUBLICATION bench_pub DROP TABLE nullbench" -c "DROP TABLE nullbench"
}

# ---- the embedded sinks: the catch-up range through sluice's JDBC sink into PostgreSQL and its
# Elasticsearch sink into OpenSearch, in one process with the source (no Kafka)
mode_sinks_embedded() {
  local W=$WORK/sinks target r tpid kids c0 c1 n secs got
  mkdir -p "$W"; cp "$DS/c.json" "$W/c.json"
  local UNWRAP='"transforms":"unwrap","transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState"'
  cat >"$W/pg.json" <<JSON
{"name":"pg","config":{"connector.class":"io.confluent.connect.jdbc.JdbcSinkConnector",
 "connection.url":"jdbc:postgresql://127.0.0.1:$PGSINK_PORT/postgres?user=postgres","topics":"bench.benchdb.bench",
 "table.name.format":"bench","insert.mode":"upsert","pk.mode":"record_key","delete.enabled":"true",
 "auto.create":"true",$UNWRAP}}
JSON
  cat >"$W/es.json" <<JSON
{"name":"es","config":{"connector.class":"io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
 "connection.url":"http://127.0.0.1:$ES_PORT","topics":"bench.benchdb.bench","key.ignore":"false",
 "schema.ignore":"true","behavior.on.null.values":"delete","read.timeout.ms":"120000",
 "transforms":"key,unwrap","transforms.key.type":"org.apache.kafka.connect.transforms.ExtractField\$Key",
 "transforms.key.field":"id","transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState"}}
JSON
  for target in $SINK_TARGETS; do
    for ((r = 1; r <= RUNS; r++)); do
      if [ "$target" = pg ]; then
        pgsink -c "DROP TABLE IF EXISTS bench" >/dev/null 2>&1; tpid=$PGSINK_PID
      else
        curl -s -X DELETE "http://127.0.0.1:$ES_PORT/bench.benchdb.bench" >/dev/null || true; tpid=$ES_PID
      fi
      rm -rf "$W/d"; file_offsets bench "$W/d"
      kids=$(child_count "$tpid"); c0=$(tree_cpu "$tpid")
      /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/c.json" "$W/$target.json" \
        --data-dir "$W/d" --exit-when-caught-up 2>"$W/log.json"
      settle_children "$tpid" "$kids"; c1=$(tree_cpu "$tpid")
      n=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"events":[0-9]*' | head -n 1 | cut -d: -f2)
      secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | head -n 1 | cut -d: -f2)
      [ "$n" = "$ROWS" ] || { cat "$W/log.json" >&2; fail "sinks-$target: expected $ROWS events, got $n"; }
      got=$(target_count "$target" bench bench.benchdb.bench)
      [ "$got" = "$ROWS" ] || fail "sinks-$target: the target holds $got rows, expected $ROWS"
      report "sluice-mariadb-sink-$target" "$r" "$n" "$secs" "$W/time.txt" "target_cpu_s=$(sub "$c0" "$c1")"
    done
  done
}
