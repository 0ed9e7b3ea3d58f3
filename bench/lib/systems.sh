# shellcheck shell=bash
# The three systems measured into Kafka (sourced by bench/run.sh): `sluice run --sink kafka`,
# `sluice connect` (connectors POSTed to its REST API) and Debezium on Kafka Connect
# (scripts/connect.sh). Needs common.sh, BOOT (bootstrap), BROKER_PID, ROWS, the offset poller.

WAIT_MS=${WAIT_MS:-900000}   # give up on one run after 15 minutes

# ---- Connect workers: the Java one with Debezium's plugins, and sluice connect
start_debezium_worker() { # dir: sets DBZ_PORT, DBZ_PID
  DBZ_PORT=$(free_port 38083)
  "$ROOT/scripts/connect.sh" start "$1" "$DBZ_PORT" "$BOOT" --owner $$ >&2 7>&- 8>&-
  DBZ_PID=$(cat "$1/connect.pid"); DBZ_DIR=$1
}
stop_debezium_worker() { [ -n "${DBZ_DIR:-}" ] && "$ROOT/scripts/connect.sh" stop "$DBZ_DIR" >&2; DBZ_DIR=""; }
start_sluice_worker() { # dir: sets SC_PORT, SC_PID; the same worker properties as connect.sh's
  local d=$1 name i; name=$(basename "$1"); mkdir -p "$d"
  SC_PORT=$(free_port 38183)
  cat >"$d/worker.properties" <<EOF
bootstrap.servers=$BOOT
group.id=connect-$name
config.storage.topic=connect-$name-configs
offset.storage.topic=connect-$name-offsets
status.storage.topic=connect-$name-status
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
key.converter.schemas.enable=true
value.converter.schemas.enable=true
offset.flush.interval.ms=1000
listeners=http://127.0.0.1:$SC_PORT
rest.advertised.host.name=127.0.0.1
rest.advertised.port=$SC_PORT
EOF
  "$SLUICE" connect "$d/worker.properties" --data-dir "$d/data" >"$d/connect.log" 2>&1 7>&- 8>&- &
  SC_PID=$!; SC_DIR=$d
  for ((i = 0; i < 300; i++)); do
    curl -sf "http://127.0.0.1:$SC_PORT/connectors" >/dev/null 2>&1 && return 0
    kill -0 "$SC_PID" 2>/dev/null || break
    sleep 0.1
  done
  tail -n 20 "$d/connect.log" >&2; fail "sluice connect did not start"
}
stop_sluice_worker() {
  [ -n "${SC_PID:-}" ] || return 0
  kill "$SC_PID" 2>/dev/null || true; wait "$SC_PID" 2>/dev/null || true; SC_PID=""
}

# seconds of the last poller answer: first record visible -> all visible, scaled to the N
# events (the first poll already saw first_count of them)
poll_secs() {
  awk -v f="$(pval first_ms)" -v l="$(pval last_ms)" -v c="$(pval first_count)" -v n="$(pval count)" \
    'BEGIN { s = (l - f) / 1000; if (n > c && c > 0) s = s * n / (n - c); printf "%.3f", s }'
}
poll_wait() { # topic n: send and read, failing on a timeout
  poll_send wait "$1" "$2" "$WAIT_MS"; poll_read || fail "offset poller died"
  [[ $POLL_ANSWER == reached* ]] || fail "$1: $POLL_ANSWER (expected $2 records)"
}

# one measured run of `sluice run --sink kafka` until it has caught up:
# name run connector.json data-dir topic
sluice_kafka_run() {
  local b0 b1 n
  poll_send create "$5"; poll_read   # every system writes into an existing, empty topic
  b0=$(proc_cpu "$BROKER_PID")
  poll_send wait "$5" "$ROWS" "$WAIT_MS"
  /usr/bin/time -v -o "$WORK/time.txt" "$SLUICE" --log-format json run "$3" --sink "kafka:$BOOT" \
    --data-dir "$4" --exit-when-caught-up 2>"$WORK/log.json" || { tail -n 20 "$WORK/log.json" >&2; fail "$1 failed"; }
  poll_read || fail "offset poller died"
  [[ $POLL_ANSWER == reached* ]] || fail "$1: $POLL_ANSWER"
  b1=$(proc_cpu "$BROKER_PID")
  n=$(grep '"pipeline finished"' "$WORK/log.json" | grep -o '"events":[0-9]*' | cut -d: -f2)
  [ "$n" = "$ROWS" ] || fail "$1: expected $ROWS events, got $n"
  report "$1" "$2" "$ROWS" "$(poll_secs)" "$WORK/time.txt" "own_s=$(grep '"pipeline finished"' "$WORK/log.json" |
    grep -o '"seconds":[0-9.]*' | cut -d: -f2)" "broker_cpu_s=$(sub "$b0" "$b1")"
}

# one measured run of a source connector on a Connect worker (the Java one or sluice connect),
# from its start to N records on the topic:
# name run port worker-pid topic connector.json [offsets.json]
# With offsets: the connector is created stopped (Connect's initial_state; sluice connect does not
# know it, so it is stopped after it starts), the offsets are set (KIP-875), the measurement starts
# with the resume. Without: it starts with the POST.
connect_run() {
  local name=$1 run=$2 port=$3 pid=$4 topic=$5 cj=$6 offs=${7:-} cname c0 c1 b0 b1 s i
  cname=$(grep -o '"name": *"[^"]*"' "$cj" | head -n 1 | cut -d'"' -f4)
  if [ -n "$offs" ]; then
    rest POST "$port" /connectors "$cj" >/dev/null
    for ((i = 0; i < 600; i++)); do
      s=$(connector_state "$port" "$cname"); [[ $s == *STOPPED* || $s == *RUNNING* ]] && break; sleep 0.1
    done
    if [[ $s != *STOPPED* ]]; then
      wait_state "$port" "$cname" RUNNING
      rest PUT "$port" "/connectors/$cname/stop" >/dev/null; wait_state "$port" "$cname" STOPPED
    fi
    rest PATCH "$port" "/connectors/$cname/offsets" "$offs" | grep -q 'altered successfully' ||
      fail "$name: offsets not accepted: $(rest PATCH "$port" "/connectors/$cname/offsets" "$offs")"
  fi
  poll_send create "$topic"; poll_read
  c0=$(proc_cpu "$pid"); b0=$(proc_cpu "$BROKER_PID")
  poll_send wait "$topic" "$ROWS" "$WAIT_MS"
  if [ -n "$offs" ]; then rest PUT "$port" "/connectors/$cname/resume" >/dev/null
  else rest POST "$port" /connectors "$cj" >/dev/null; fi
  POLL_CHECK="connector_ok $port $cname" poll_read || fail "$name: run $run failed"
  c1=$(proc_cpu "$pid"); b1=$(proc_cpu "$BROKER_PID")
  [[ $POLL_ANSWER == reached* ]] || fail "$name: $POLL_ANSWER"
  delete_connector "$port" "$cname"
  result "$name" "$run" "$ROWS" "$(poll_secs)" "$(sub "$c0" "$c1")" "$(proc_hwm "$pid")" "broker_cpu_s=$(sub "$b0" "$b1")"
}

# converter settings (connector JSON fragments) for Avro: sluice's Confluent AvroConverter
# against the registry's Confluent-compatible API; Debezium's Apicurio converter in Confluent
# framing against the same registry (its v2 API)
avro_sluice() {
  local k
  for k in key value; do
    printf '"%s.converter":"io.confluent.connect.avro.AvroConverter","%s.converter.schema.registry.url":"%s",' "$k" "$k" "$SR_URL"
  done | sed 's/,$//'
}
avro_debezium() {
  local k p
  for k in key value; do
    printf '"%s.converter":"io.apicurio.registry.utils.converter.AvroConverter",' "$k"
    printf '"%s.converter.apicurio.registry.url":"%s",' "$k" "$APICURIO_URL"
    for p in auto-register=true find-latest=true headers.enabled=false as-confluent=true use-id=contentId; do
      printf '"%s.converter.apicurio.registry.%s":"%s",' "$k" "${p%%=*}" "${p#*=}"
    done
  done | sed 's/,$//'
}
