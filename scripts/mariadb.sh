#!/usr/bin/env bash
# Starts/stops a private MariaDB (no system service) with the binlog set up for CDC.
#
#   scripts/mariadb.sh start DIR PORT [extra mariadbd options…]   # ready when it returns
#   scripts/mariadb.sh stop DIR
#   scripts/mariadb.sh sql DIR [mariadb client args…]             # root client on the socket
#   scripts/mariadb.sh free-port [FIRST]                           # first free loopback port >= FIRST
#
# DIR holds the datadir, socket and error log; PORT listens on 127.0.0.1 only. A user
# cdc/cdc with the grants Debezium documents is created on first start.
set -euo pipefail

cmd=${1:-}; dir=${2:-}
if [ "$cmd" = free-port ]; then
  p=${2:-33306}
  # taken: something listens there, or a socket (an outgoing connection's ephemeral port) holds it
  bindable() { ! command -v python3 >/dev/null ||
    python3 -c 'import socket,sys; socket.socket().bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null; }
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || ! bindable "$p"; do p=$((p + 1)); done
  echo "$p"; exit 0
fi
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start DIR PORT [opts…] | stop DIR | sql DIR [args…]" >&2; exit 2; }
sock="$dir/mysqld.sock"

client() { mariadb --no-defaults --default-character-set=utf8mb4 -S "$sock" -u root "$@"; }
alive() { mariadb-admin --no-defaults -S "$sock" -u root ping >/dev/null 2>&1; }

case "$cmd" in
start)
  port=${3:?port required}; shift 3
  command -v mariadbd >/dev/null || { echo "mariadbd not found: apt-get install mariadb-server" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd); sock="$dir/mysqld.sock"
  if alive; then echo "MariaDB already running in $dir" >&2; exit 0; fi
  mkdir -p "$dir/tmp"   # private tmpdir: parallel servers must not share temporary tables
  install() {
    rm -rf "$dir/data"
    mariadb-install-db --no-defaults --datadir="$dir/data" --user="$(id -un)" --tmpdir="$dir/tmp" \
      --auth-root-authentication-method=normal --skip-test-db >"$dir/install.log" 2>&1
  }
  if [ ! -d "$dir/data/mysql" ]; then
    install || install || { cat "$dir/install.log" >&2; exit 1; }
  fi
  mariadbd --no-defaults --datadir="$dir/data" --port="$port" --bind-address=127.0.0.1 \
    --socket="$sock" --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" --user="$(id -un)" \
    --tmpdir="$dir/tmp" \
    --server-id=1 --log-bin=mysql-bin --binlog-format=ROW --binlog-row-image=FULL \
    --binlog-row-metadata=FULL --log-slave-updates --max-allowed-packet=256M \
    --innodb-buffer-pool-size=256M --innodb-flush-log-at-trx-commit=2 --skip-name-resolve \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci "$@" >/dev/null 2>&1 &
  for _ in $(seq 1 150); do
    alive && break
    sleep 0.1
  done
  alive || { echo "MariaDB did not start; see $dir/error.log" >&2; tail -n 20 "$dir/error.log" >&2; exit 1; }
  client -e "CREATE USER IF NOT EXISTS 'cdc'@'%' IDENTIFIED BY 'cdc';
             GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT, LOCK TABLES ON *.* TO 'cdc'@'%';
             CREATE USER IF NOT EXISTS 'admin'@'%' IDENTIFIED BY 'admin';
             GRANT ALL PRIVILEGES ON *.* TO 'admin'@'%' WITH GRANT OPTION;"
  echo "MariaDB ready on 127.0.0.1:$port (dir $dir)"
  ;;
stop)
  if alive; then
    mariadb-admin --no-defaults -S "$sock" -u root shutdown
  fi
  ;;
sql)
  shift 2
  client "$@"
  ;;
*)
  echo "unknown command $cmd" >&2; exit 2 ;;
esac
