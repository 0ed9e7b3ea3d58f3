#!/usr/bin/env bash
# Records what Debezium's PostgreSQL connector emits, for the reference fixtures of
# crates/sluice/tests/postgres.rs (Debezium is the oracle: fixtures are recorded, never written).
#
#   scripts/record-postgres.sh SETUP.sql CHANGES.sql OUT.jsonl [connector.property=value ...]
#
# Starts a private PostgreSQL (scripts/postgres.sh), Kafka (scripts/kafka.sh) and Kafka Connect
# worker with Debezium's connectors (scripts/connect.sh: PostgreSQL connector 3.6.1.Final,
# JsonConverter with schemas) on loopback ports, in a temporary directory removed at the end.
# Database `ref` gets SETUP.sql; a connector (topic.prefix `ref`, plugin.name pgoutput, its own
# slot and filtered publication over table.include.list, which the extra properties must set)
# snapshots it; CHANGES.sql is run once the snapshot is on the topics, and the script waits until
# no more records arrive. OUT.jsonl gets one line per record, `{"topic","key","value"}` with key
# and value as the JsonConverter wrote them (`null` for a tombstone): the snapshot's records
# first (per topic, topics in name order), then the streamed ones in source.lsn order.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
setup=$(readlink -f "${1:?SETUP.sql required}"); changes=$(readlink -f "${2:?CHANGES.sql required}")
out=${3:?OUT.jsonl required}; shift 3
w=$(mktemp -d); chmod 755 "$w"; trap '"$here/connect.sh" stop "$w/connect" >/dev/null 2>&1 || true; "$here/kafka.sh" stop "$w/kafka" >/dev/null 2>&1 || true; "$here/postgres.sh" stop "$w/pg" >/dev/null 2>&1 || true; rm -rf "$w"' EXIT
free() { "$here/mariadb.sh" free-port "$1"; }
pg=$(free $((20000 + RANDOM % 10000))); "$here/postgres.sh" start "$w/pg" "$pg" >&2
psql() { "$here/postgres.sh" sql "$w/pg" -v ON_ERROR_STOP=1 -q "$@"; }
psql -c "CREATE DATABASE ref"; psql -d ref -f "$setup"
kp=$(free $((30000 + RANDOM % 10000))); "$here/kafka.sh" start "$w/kafka" "$kp" >&2
cp=$(free $((40000 + RANDOM % 10000))); "$here/connect.sh" start "$w/connect" "$cp" "127.0.0.1:$kp" >&2
config="\"connector.class\":\"io.debezium.connector.postgresql.PostgresConnector\",\"database.hostname\":\"127.0.0.1\",\"database.port\":\"$pg\",\"database.user\":\"postgres\",\"database.password\":\"postgres\",\"database.dbname\":\"ref\",\"topic.prefix\":\"ref\",\"slot.name\":\"ref_slot\",\"publication.name\":\"ref_pub\",\"publication.autocreate.mode\":\"filtered\",\"plugin.name\":\"pgoutput\",\"tasks.max\":\"1\""
for kv in "$@"; do config+=",\"${kv%%=*}\":\"${kv#*=}\""; done
curl -sf -XPOST -H 'Content-Type: application/json' --data "{\"name\":\"ref\",\"config\":{$config}}" \
  "http://127.0.0.1:$cp/connectors" >/dev/null
dump() {  # every record of every ref.* topic, as "topic<TAB>key<TAB>value" lines, into $w/records
  : >"$w/records"
  for t in $("$here/kafka.sh" topics "$w/kafka" | grep '^ref\.' | sort); do
    "$here/kafka.sh" tool org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "127.0.0.1:$kp" \
      --topic "$t" --from-beginning --timeout-ms 4000 --formatter-property print.key=true \
      --formatter-property key.separator=$'\t' 2>/dev/null | sed "s/^/$t\t/" >>"$w/records"
  done
}
settle() {  # dumps until two dumps in a row hold the same number of records (and at least one)
  local n=-1 m
  for _ in $(seq 1 60); do
    sleep 3; dump; m=$(wc -l <"$w/records")
    [ "$m" -gt 0 ] && [ "$m" = "$n" ] && return 0
    n=$m
  done
  echo "records kept changing; see $w/connect/connect.log" >&2; exit 1
}
settle
snapshot=$(wc -l <"$w/records")
psql -d ref -f "$changes"
settle
python3 - "$w/records" "$snapshot" >"$out" <<'PY'
import json, sys
recs = []
for line in open(sys.argv[1], encoding="utf-8"):
    topic, key, value = line.rstrip("\n").split("\t", 2)
    recs.append({"topic": topic, "key": json.loads(key), "value": json.loads(value)})
snap = [r for r in recs if r["value"] and r["value"]["payload"]["op"] == "r"]
stream = [r for r in recs if not (r["value"] and r["value"]["payload"]["op"] == "r")]
if any(r["value"] is None for r in stream):
    sys.exit("tombstones in the stream: not supported (CHANGES.sql must not delete)")
stream.sort(key=lambda r: r["value"]["payload"]["source"]["lsn"])
for r in snap + stream:
    print(json.dumps(r, ensure_ascii=False, separators=(",", ":")))
PY
echo "$(wc -l <"$out") records in $out (snapshot: $snapshot)" >&2
