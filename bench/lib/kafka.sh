# shellcheck shell=bash
# Source connectors into Apache Kafka (sourced by bench/run.sh): the catch-up range read by
# `sluice run`, `sluice connect` and (with --anchor) Debezium on Kafka Connect, each run into
# fresh topics, runs of the three systems taking turns.

# mariadb_kafka json|avro
mariadb_kafka() {
  local fmt=$1 W=$WORK/mk-$1 r conv="" dconv="" tag=${1:0:1} dbz=$ANCHOR
  mkdir -p "$W"
  if [ "$fmt" = avro ]; then
    conv=$(avro_sluice); dconv=$(avro_debezium)
    [ -n "$APICURIO_URL" ] || { dbz=0; [ "$ANCHOR" = 1 ] && echo "# avro: the registry has no Apicurio API (scripts/registry.sh is not Apicurio): Debezium's Avro runs skipped" >&2; }
  fi
  start_sluice_worker "$W/sc-mariadb-$fmt"
  [ "$dbz" = 1 ] && start_debezium_worker "$W/dbz-mariadb-$fmt"
  printf '{"offsets":[{"partition":{"server":"%s"},"offset":{"file":"%s","pos":%s%s}}]}' \
    PREFIX "$START_FILE" "$START_POS" "${START_GTID:+,\"gtids\":\"$START_GTID\"}" >"$W/offsets.tmpl"
  for ((r = 1; r <= RUNS; r++)); do
    # sluice run: offsets in a file, moved back to the start of the range
    connector "$W" no_data "$FILE_OFFSETS${conv:+,$conv}" "sr$tag$r"
    rm -rf "$W/d"; file_offsets "sr$tag$r" "$W/d"
    sluice_kafka_run "sluice-run-mariadb-kafka-$fmt" "$r" "$W/c.json" "$W/d" "sr$tag$r.benchdb.bench"
    [ "$fmt" = json ] && [ "$r" = 1 ] && SINK_TOPIC=sr$tag$r.benchdb.bench   # kept for the sinks
    [ "$r" = 1 ] || drop_topics "sr$tag$r"
    # sluice connect
    mk_source "$W/sc.json" "sc$tag$r" io.debezium.connector.mysql.MySqlConnector "$conv"
    sed "s/PREFIX/sc$tag$r/" "$W/offsets.tmpl" >"$W/offsets.json"
    connect_run "sluice-connect-mariadb-kafka-$fmt" "$r" "$SC_PORT" "$SC_PID" "sc$tag$r.benchdb.bench" "$W/sc.json" "$W/offsets.json"
    drop_topics "sc$tag$r"
    # Debezium's MariaDB connector on Kafka Connect
    if [ "$dbz" = 1 ]; then
      mk_source "$W/dbz.json" "dbz$tag$r" io.debezium.connector.mariadb.MariaDbConnector "$dconv"
      sed "s/PREFIX/dbz$tag$r/" "$W/offsets.tmpl" >"$W/offsets.json"
      connect_run "debezium-mariadb-kafka-$fmt" "$r" "$DBZ_PORT" "$DBZ_PID" "dbz$tag$r.benchdb.bench" "$W/dbz.json" "$W/offsets.json"
      [ "$r" = 1 ] || drop_topics "dbz$tag$r"
    fi
  done
  stop_sluice_worker; stop_debezium_worker
  # bytes per record on the topics (run 1's), key + value
  local s
  s=$(topic_bytes "$BOOT" "sr${tag}1.benchdb.bench"); echo "record_size sluice-mariadb-$fmt $s"
  if [ "$dbz" = 1 ]; then s=$(topic_bytes "$BOOT" "dbz${tag}1.benchdb.bench"); echo "record_size debezium-mariadb-$fmt $s"; fi
  [ "$fmt" = json ] || drop_topics "sr${tag}1"
  drop_topics "dbz${tag}1"
}

# a binlog source connector for a Connect worker: file name prefix class [converter fragment]
# (snapshot.mode=recovery: the schema history topic is new, the offset is set by KIP-875)
mk_source() {
  cat >"$1" <<JSON
{"name":"$2","initial_state":"STOPPED","config":{"connector.class":"$3",
 "database.hostname":"127.0.0.1","database.port":"$PORT","database.user":"cdc","database.password":"cdc",
 "database.server.id":"$((5600 + RANDOM % 1000))","topic.prefix":"$2","table.include.list":"benchdb.bench",
 "snapshot.mode":"recovery","include.schema.changes":"false","tasks.max":"1",
 "schema.history.internal.kafka.bootstrap.servers":"$BOOT","schema.history.internal.kafka.topic":"$2-history"${4:+,$4}}}
JSON
}
drop_topics() { # prefix: the data topic and the schema history topic of one run
  poll_send delete "$1.benchdb.bench" "$1-history" "$1.public.bench"; poll_read
}

# ---- PostgreSQL: per run, one slot per system made before ROWS new inserts, read to the end
pg_source() { # file name slot [converter fragment]
  cat >"$1" <<JSON
{"name":"$2","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname":"127.0.0.1","database.port":"$PGSRC_PORT","database.user":"postgres","database.password":"postgres",
 "database.dbname":"postgres","topic.prefix":"$2","slot.name":"$3","publication.name":"bench_pub",
 "publication.autocreate.mode":"disabled","plugin.name":"pgoutput","table.include.list":"public.bench",
 "snapshot.mode":"no_data","tasks.max":"1"${4:+,$4}}}
JSON
}
postgres_kafka() { # json|avro
  local fmt=$1 W=$WORK/pk-$1 r conv="" dconv="" tag=p${1:0:1} dbz=$ANCHOR s
  mkdir -p "$W"
  if [ "$fmt" = avro ]; then
    conv=$(avro_sluice); dconv=$(avro_debezium)
    [ -n "$APICURIO_URL" ] || dbz=0
  fi
  start_sluice_worker "$W/sc-postgres-$fmt"
  [ "$dbz" = 1 ] && start_debezium_worker "$W/dbz-postgres-$fmt"
  for ((r = 1; r <= RUNS; r++)); do
    for s in sr sc dbz; do
      psqlc -c "SELECT pg_create_logical_replication_slot('${s}_$tag$r', 'pgoutput')" >/dev/null
    done
    pg_rows bench "$PG_NEXT" $((PG_NEXT + ROWS - 1)); PG_NEXT=$((PG_NEXT + ROWS))
    pg_source "$W/c.json" "sr$tag$r" "sr_$tag$r" "$FILE_OFFSETS${conv:+,$conv}"
    rm -rf "$W/d"
    sluice_kafka_run "sluice-run-postgres-kafka-$fmt" "$r" "$W/c.json" "$W/d" "sr$tag$r.public.bench"
    drop_slot "sr_$tag$r"; [ "$r" = 1 ] || drop_topics "sr$tag$r"
    pg_source "$W/sc.json" "sc$tag$r" "sc_$tag$r" "$conv"
    connect_run "sluice-connect-postgres-kafka-$fmt" "$r" "$SC_PORT" "$SC_PID" "sc$tag$r.public.bench" "$W/sc.json"
    drop_slot "sc_$tag$r"; drop_topics "sc$tag$r"
    if [ "$dbz" = 1 ]; then
      pg_source "$W/dbz.json" "dbz$tag$r" "dbz_$tag$r" "$dconv"
      connect_run "debezium-postgres-kafka-$fmt" "$r" "$DBZ_PORT" "$DBZ_PID" "dbz$tag$r.public.bench" "$W/dbz.json"
      [ "$r" = 1 ] || drop_topics "dbz$tag$r"
    fi
    drop_slot "dbz_$tag$r"
  done
  stop_sluice_worker; stop_debezium_worker
  s=$(topic_bytes "$BOOT" "sr${tag}1.public.bench"); echo "record_size sluice-postgres-$fmt $s"
  if [ "$dbz" = 1 ]; then s=$(topic_bytes "$BOOT" "dbz${tag}1.public.bench"); echo "record_size debezium-postgres-$fmt $s"; fi
  drop_topics "sr${tag}1"; drop_topics "dbz${tag}1"
}
