# shellcheck shell=bash
# Commit -> consumer-visible latency at steady rates (sourced by bench/run.sh).
#
# For each system and rate: the connector streams table `lat` from the current position into a
# fresh topic (warm-up rows first, until one is on the topic); a generator (BenchTool gen) commits RATE
# rows/s as one INSERT ... SELECT of RATE/100 rows every 10 ms for LAT_SECONDS and logs when each
# commit returned; a tracker (BenchTool track) polls the topic's end offset (the high watermark:
# what a consumer can fetch) every millisecond and logs each change. Joined afterwards: batch k is
# visible at the first end offset >= warm-up rows + rows committed up to k. Latency per batch: visible - commit.

lat_connector() { # file system db prefix [,extra properties]
  local cls
  if [ "$3" = mariadb ]; then
    cls=io.debezium.connector.mysql.MySqlConnector; [ "$2" = debezium ] && cls=io.debezium.connector.mariadb.MariaDbConnector
    cat >"$1" <<JSON
{"name":"$4","config":{"connector.class":"$cls",
 "database.hostname":"127.0.0.1","database.port":"$PORT","database.user":"cdc","database.password":"cdc",
 "database.server.id":"$((6600 + RANDOM % 1000))","topic.prefix":"$4","table.include.list":"benchdb.lat",
 "snapshot.mode":"no_data","include.schema.changes":"false","tasks.max":"1",
 "schema.history.internal.kafka.bootstrap.servers":"$BOOT","schema.history.internal.kafka.topic":"$4-history"$5}}
JSON
  else
    cat >"$1" <<JSON
{"name":"$4","config":{"connector.class":"io.debezium.connector.postgresql.PostgresConnector",
 "database.hostname":"127.0.0.1","database.port":"$PGSRC_PORT","database.user":"postgres","database.password":"postgres",
 "database.dbname":"postgres","topic.prefix":"$4","slot.name":"${4//-/_}","publication.name":"lat_pub",
 "publication.autocreate.mode":"disabled","plugin.name":"pgoutput","table.include.list":"public.lat",
 "snapshot.mode":"no_data","tasks.max":"1"$5}}
JSON
  fi
}
lat_insert() { # db first last: rows into lat (the warm-up row)
  if [ "$1" = mariadb ]; then
    echo "INSERT INTO lat SELECT seq, CONCAT('name-',seq), 1, NOW(6), MD5(seq) FROM seq_$2_to_$3;" | sqlc benchdb
  else pg_rows lat "$2" "$3"; fi
}

# one latency run: system db rate
latency_run() {
  local sys=$1 db=$2 rate=$3 W=$WORK/lat-$1-$2-$3 prefix topic pid="" c0 c1 b0 b1 gen total rss
  mkdir -p "$W"; prefix=lat-$sys-$db-$rate
  [ "$db" = mariadb ] && topic=$prefix.benchdb.lat || topic=$prefix.public.lat
  lat_connector "$W/c.json" "$sys" "$db" "$prefix" "$([ "$sys" = sluice-run ] && echo ",$FILE_OFFSETS")"
  case $sys in
  sluice-run)
    "$SLUICE" run "$W/c.json" --sink "kafka:$BOOT" --data-dir "$W/d" 2>"$W/sluice.log" 7>&- &
    pid=$!; LAT_PID=$pid ;;
  debezium) pid=$DBZ_PID; rest POST "$DBZ_PORT" /connectors "$W/c.json" >/dev/null; wait_state "$DBZ_PORT" "$prefix" RUNNING ;;
  sluice-connect) pid=$SC_PID; rest POST "$SC_PORT" /connectors "$W/c.json" >/dev/null; wait_state "$SC_PORT" "$prefix" RUNNING ;;
  esac
  # warm-up rows, one every 2 s until one is on the topic: the connector is streaming then (a
  # connector reports RUNNING before it has read its start position)
  local i base
  for ((i = 0; i < 60; i++)); do
    lat_insert "$db" "$LAT_NEXT" "$LAT_NEXT"; LAT_NEXT=$((LAT_NEXT + 1))
    poll_send wait "$topic" 1 2000; poll_read
    [[ $POLL_ANSWER == reached* ]] && break
  done
  [[ $POLL_ANSWER == reached* ]] || fail "latency $sys $db: no warm-up row arrived in 2 minutes"
  sleep 1
  poll_send count "$topic"; poll_read; base=$(pval count)
  mkfifo "$W/track.in"
  POLL_US=1000 "${TOOL[@]}" track "$BOOT" "$topic" "$W/track.txt" <"$W/track.in" >"$W/track.out" 2>"$W/track.err" 7>&- &
  local tpid=$!; exec 8>"$W/track.in"
  for _ in $(seq 100); do grep -q ready "$W/track.out" 2>/dev/null && break; sleep 0.1; done
  c0=$(proc_cpu "$pid"); b0=$(proc_cpu "$BROKER_PID")
  if [ "$db" = mariadb ]; then
    gen=$("${TOOL[@]}" gen "jdbc:mariadb://127.0.0.1:$PORT/benchdb" admin admin mariadb lat "$LAT_NEXT" "$rate" "$LAT_SECONDS" "$W/commits.txt")
  else
    gen=$("${TOOL[@]}" gen "jdbc:postgresql://127.0.0.1:$PGSRC_PORT/postgres" postgres postgres postgres lat "$LAT_NEXT" "$rate" "$LAT_SECONDS" "$W/commits.txt")
  fi
  total=$(tail -n 1 "$W/commits.txt" | awk '{print $2}'); LAT_NEXT=$((LAT_NEXT + total))
  poll_send wait "$topic" $((total + base)) $((LAT_DRAIN_S * 1000)); poll_read
  c1=$(proc_cpu "$pid"); b1=$(proc_cpu "$BROKER_PID"); rss=$(proc_hwm "$pid")
  echo stop >&8; exec 8>&-; wait "$tpid" 2>/dev/null || true
  case $sys in
  sluice-run) kill "$pid"; wait "$pid" 2>/dev/null || true; LAT_PID="" ;;
  debezium) delete_connector "$DBZ_PORT" "$prefix" ;;
  sluice-connect) delete_connector "$SC_PORT" "$prefix" ;;
  esac
  [ "$db" = postgres ] && drop_slot "${prefix//-/_}"
  poll_send delete "$topic" "$prefix-history"; poll_read
  # join: per batch, commit time -> first end offset >= base + cumulative rows; latencies in ms
  awk -v base="$base" 'FNR == NR { tt[++m] = $1; to[m] = $2; next }
       { while (j < m && to[j] < $2 + base) j++; if (j == 0) j = 1
         if (to[j] >= $2 + base) { d = (tt[j] - $1) / 1000; print (d < 0 ? 0 : d), $2 } }' \
    "$W/track.txt" "$W/commits.txt" >"$W/lat.txt"
  sort -n "$W/lat.txt" | awk -v name="$sys-$db" -v rate="$rate" -v gen="$gen" -v total="$total" \
      -v batches="$(wc -l <"$W/commits.txt")" -v cpu="$(sub "$c0" "$c1")" -v bcpu="$(sub "$b0" "$b1")" -v rss="$rss" '
    { l[++n] = $1; if ($2 > seen) seen = $2 }
    function q(p,   i) { i = int(n * p + 0.5); if (i < 1) i = 1; if (i > n) i = n; return l[i] }
    END {
      split(gen, g, /[ =]/); for (x in g) if (g[x] == "eps") geps = g[x + 1]
      printf "latency %s rate=%d gen_eps=%s batches=%d visible=%d/%d p50_ms=%.1f p99_ms=%.1f max_ms=%.1f cpu_s=%s broker_cpu_s=%s peak_rss_mb=%d\n",
        name, rate, geps, batches, seen, total, (n ? q(0.5) : -1), (n ? q(0.99) : -1), (n ? l[n] : -1), cpu, bcpu, rss
    }'
}

mode_latency() { # db
  local db=$1 sys rate
  if [ "$db" = mariadb ]; then
    sqlc -e "CREATE DATABASE IF NOT EXISTS benchdb"
    sqlc benchdb -e "CREATE TABLE IF NOT EXISTS lat(id BIGINT PRIMARY KEY, name TEXT, amount DECIMAL(12,2), created DATETIME(6), payload TEXT) ENGINE=InnoDB"
  else
    psqlc -c "CREATE TABLE IF NOT EXISTS lat(id bigint primary key, name text, amount numeric(12,2), created timestamp, payload text)" \
      -c "CREATE PUBLICATION lat_pub FOR TABLE lat"
  fi
  for sys in $LAT_SYSTEMS; do
    case $sys in
    debezium) [ "$ANCHOR" = 1 ] || continue; start_debezium_worker "$WORK/dbz-lat-$db" ;;
    sluice-connect) start_sluice_worker "$WORK/sc-lat-$db" ;;
    esac
    for rate in $LAT_RATES; do latency_run "$sys" "$db" "$rate"; done
    stop_debezium_worker; stop_sluice_worker
  done
}
