# shellcheck shell=bash
# Sink connectors reading one Kafka topic (sourced by bench/run.sh): the ROWS Debezium change
# events (JSON with schemas) that `sluice run` wrote from MariaDB, into PostgreSQL by sluice's JDBC
# sink (`sluice run` with only the sink, and on `sluice connect`) and by Debezium's JDBC sink on
# Kafka Connect, with the same connector JSON; into OpenSearch by sluice's Elasticsearch sink.
# Measured from the first row in the target to all ROWS (the poller's sqlwait: max(id) every
# 20 ms over one connection); the Elasticsearch sink by its own first-to-last time.

target_count() { # pg|es table index
  if [ "$1" = pg ]; then pgsink -tA -c "SELECT count(*) FROM $2"
  else
    curl -s -X POST "http://127.0.0.1:$ES_PORT/$3/_refresh" >/dev/null
    curl -s "http://127.0.0.1:$ES_PORT/$3/_count" | grep -o '"count":[0-9]*' | cut -d: -f2
  fi
}
jdbc_sink_json() { # file name table
  cat >"$1" <<JSON
{"name":"$2","config":{"connector.class":"io.debezium.connector.jdbc.JdbcSinkConnector","tasks.max":"1",
 "topics":"$SINK_TOPIC","connection.url":"jdbc:postgresql://127.0.0.1:$PGSINK_PORT/postgres",
 "connection.username":"postgres","connection.password":"postgres","insert.mode":"upsert","delete.enabled":"true",
 "primary.key.mode":"record_key","schema.evolution":"basic","table.name.format":"$3"}}
JSON
}
sink_wait_send() { # table: the poller waits for max(id) = ROWS
  poll_send sqlwait "jdbc:postgresql://127.0.0.1:$PGSINK_PORT/postgres" postgres postgres "$ROWS" "$WAIT_MS" "SELECT coalesce(max(id), 0) FROM $1"
}
sink_check() { # name table
  local got; got=$(target_count pg "$2")
  [ "$got" = "$ROWS" ] || fail "$1: PostgreSQL holds $got rows, expected $ROWS"
  pgsink -c "DROP TABLE $2" >/dev/null
}

mode_sinks_kafka() {
  local W=$WORK/sk r t kids c0 c1 p0 p1 secs n
  mkdir -p "$W"
  [ "$ANCHOR" = 1 ] && start_debezium_worker "$W/dbz-sinks"
  start_sluice_worker "$W/sc-sinks"
  for ((r = 1; r <= RUNS; r++)); do
    # sluice run, the sink alone reading Kafka
    t=sink_sr$r; jdbc_sink_json "$W/sr.json" "$t" "$t"
    kids=$(child_count "$PGSINK_PID"); p0=$(tree_cpu "$PGSINK_PID")
    sink_wait_send "$t"
    /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/sr.json" --kafka "$BOOT" \
      --data-dir "$W/d$r" --exit-when-caught-up 2>"$W/log.json" || { tail -n 20 "$W/log.json" >&2; fail "sink run failed"; }
    poll_read; [[ $POLL_ANSWER == reached* ]] || fail "sluice-run-sink-jdbc: $POLL_ANSWER"
    settle_children "$PGSINK_PID" "$kids"; p1=$(tree_cpu "$PGSINK_PID")
    sink_check sluice-run-sink-jdbc "$t"
    report sluice-run-sink-jdbc "$r" "$ROWS" "$(poll_secs)" "$W/time.txt" "target_cpu_s=$(sub "$p0" "$p1")"
    # sluice connect, and Debezium's JDBC sink on Kafka Connect: the same JSON, POSTed
    for sys in sluice-connect debezium; do
      [ "$sys" = debezium ] && [ "$ANCHOR" != 1 ] && continue
      if [ "$sys" = debezium ]; then port=$DBZ_PORT; pid=$DBZ_PID; t=sink_dbz$r; else port=$SC_PORT; pid=$SC_PID; t=sink_sc$r; fi
      jdbc_sink_json "$W/$t.json" "$t" "$t"
      kids=$(child_count "$PGSINK_PID"); p0=$(tree_cpu "$PGSINK_PID"); c0=$(proc_cpu "$pid")
      sink_wait_send "$t"
      rest POST "$port" /connectors "$W/$t.json" >/dev/null
      POLL_CHECK="connector_ok $port $t" poll_read || fail "$sys-sink-jdbc failed"
      [[ $POLL_ANSWER == reached* ]] || fail "$sys-sink-jdbc: $POLL_ANSWER"
      c1=$(proc_cpu "$pid")
      delete_connector "$port" "$t"
      settle_children "$PGSINK_PID" "$kids"; p1=$(tree_cpu "$PGSINK_PID")
      secs=$(poll_secs)
      sink_check "$sys-sink-jdbc" "$t"
      result "$sys-sink-jdbc" "$r" "$ROWS" "$secs" "$(sub "$c0" "$c1")" "$(proc_hwm "$pid")" "target_cpu_s=$(sub "$p0" "$p1")"
    done
    # sluice's Elasticsearch sink into OpenSearch (no Debezium counterpart)
    if [ -n "${ES_PORT:-}" ]; then
      curl -s -X DELETE "http://127.0.0.1:$ES_PORT/$SINK_TOPIC" >/dev/null || true
      cat >"$W/es.json" <<JSON
{"name":"es_sr$r","config":{"connector.class":"io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
 "topics":"$SINK_TOPIC","connection.url":"http://127.0.0.1:$ES_PORT","key.ignore":"false",
 "schema.ignore":"true","behavior.on.null.values":"delete","read.timeout.ms":"120000",
 "transforms":"key,unwrap","transforms.key.type":"org.apache.kafka.connect.transforms.ExtractField\$Key",
 "transforms.key.field":"id","transforms.unwrap.type":"io.debezium.transforms.ExtractNewRecordState"}}
JSON
      c0=$(proc_cpu "$ES_PID")
      /usr/bin/time -v -o "$W/time.txt" "$SLUICE" --log-format json run "$W/es.json" --kafka "$BOOT" \
        --data-dir "$W/e$r" --exit-when-caught-up 2>"$W/log.json" || { tail -n 20 "$W/log.json" >&2; fail "es sink failed"; }
      c1=$(proc_cpu "$ES_PID")
      n=$(target_count es "" "$SINK_TOPIC")
      [ "$n" = "$ROWS" ] || fail "sluice-run-sink-es: OpenSearch holds $n documents, expected $ROWS"
      secs=$(grep '"pipeline finished"' "$W/log.json" | grep -o '"seconds":[0-9.]*' | head -n 1 | cut -d: -f2)
      report sluice-run-sink-es "$r" "$ROWS" "$secs" "$W/time.txt" "target_cpu_s=$(sub "$c0" "$c1")"
    fi
  done
  stop_sluice_worker; stop_debezium_worker
}
