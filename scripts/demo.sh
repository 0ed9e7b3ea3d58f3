#!/usr/bin/env bash
# A working pipeline in one command: a private MariaDB, a Debezium MySQL connector config, and
# sluice streaming inserts, updates and deletes to stdout as Debezium change events.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
"$ROOT/scripts/deps.sh" demo
(cd "$ROOT" && cargo build --release -p sluice 2>&1 | tail -n 1) >&2
SLUICE=${CARGO_TARGET_DIR:-$ROOT/target}/release/sluice
DEMO=$(mktemp -d /tmp/sluice-demo.XXXXXX)
PORT=${DEMO_PORT:-$("$ROOT/scripts/mariadb.sh" free-port 33306)}
cleanup() { [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null; "$ROOT/scripts/mariadb.sh" stop "$DEMO/mariadb" >/dev/null 2>&1 || true; rm -rf "$DEMO"; }
trap cleanup EXIT
say() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

say "starting MariaDB on 127.0.0.1:$PORT (binlog ROW/FULL)"
"$ROOT/scripts/mariadb.sh" start "$DEMO/mariadb" "$PORT" >&2
sql() { "$ROOT/scripts/mariadb.sh" sql "$DEMO/mariadb" -e "$1"; }
sql "CREATE DATABASE inventory;
     CREATE TABLE inventory.customers (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(100),
       balance DECIMAL(10,2), updated DATETIME(6));
     INSERT INTO inventory.customers VALUES (1000,'Existing Customer','old@example.com',5.00,NOW(6));"

cat > "$DEMO/inventory.json" <<JSON
{
  "name": "inventory-connector",
  "config": {
    "connector.class": "io.debezium.connector.mysql.MySqlConnector",
    "database.hostname": "127.0.0.1",
    "database.port": "$PORT",
    "database.user": "cdc",
    "database.password": "cdc",
    "database.server.id": "184054",
    "topic.prefix": "dbserver1",
    "table.include.list": "inventory.customers",
    "include.schema.changes": "false",
    "value.converter.schemas.enable": "false",
    "key.converter.schemas.enable": "false"
  }
}
JSON
say "connector config ($DEMO/inventory.json) — the JSON Kafka Connect users already have"
cat "$DEMO/inventory.json" >&2

say "sluice run inventory.json   (snapshot of the existing row, then live changes; schemas off for readability)"
"$SLUICE" run "$DEMO/inventory.json" --data-dir "$DEMO/data" 2>"$DEMO/sluice.log" &
PID=$!
sleep 1
sql "INSERT INTO inventory.customers VALUES (1001,'Sally Thomas','sally@example.com',120.50,NOW(6)),
                                            (1002,'김민준','minjun@example.kr',0.99,NOW(6));
     UPDATE inventory.customers SET email='sally.thomas@example.com' WHERE id=1001;
     DELETE FROM inventory.customers WHERE id=1002;"
sleep 1.5
kill -TERM "$PID"; wait "$PID" || true; PID=""

say "committed offset (Debezium's MySQL offset format)"
cat "$DEMO"/data/offsets/*.json >&2
say "done: 1 snapshot read (op r, no lock taken), then 2 creates, 1 update, 1 delete + tombstone streamed"
