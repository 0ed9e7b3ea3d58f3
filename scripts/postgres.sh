#!/usr/bin/env bash
# Starts/stops a private PostgreSQL cluster on loopback, for tests, demo and benchmarks.
#
#   scripts/postgres.sh start DIR PORT [server options…]   # initdb (once) + start; ready on return
#   scripts/postgres.sh stop DIR
#   scripts/postgres.sh sql DIR [psql args…]                # psql as postgres, database postgres
#   scripts/postgres.sh install                             # apt-get install postgresql-15 if missing
#
# The cluster runs as the postgres OS user (initdb refuses root), with trust auth, UTF-8,
# wal_level=logical (for the Postgres source) and the socket in DIR. DIR is given to the
# postgres user.
set -euo pipefail

bin() {
  local v
  for v in 17 16 15; do
    [ -x "/usr/lib/postgresql/$v/bin/pg_ctl" ] && { echo "/usr/lib/postgresql/$v/bin"; return; }
  done
  command -v pg_ctl >/dev/null 2>&1 && { dirname "$(command -v pg_ctl)"; return; }
  echo ""
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

install() {
  [ -n "$(bin)" ] && return
  if [ "$(id -u)" != 0 ]; then
    echo "PostgreSQL server missing — run: sudo apt-get install -y postgresql-15" >&2; exit 1
  fi
  echo "installing postgresql-15" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q postgresql-15 >/dev/null
}

case "${1:-}" in
install) install ;;
start)
  dir=${2:?dir required}; port=${3:?port required}; shift 3
  install
  B=$(bin)
  mkdir -p "$dir"; dir=$(cd "$dir" && pwd)
  [ "$(id -u)" = 0 ] && chown postgres "$dir"
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    as_pg "$B/initdb" -N -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
  fi
  opts="-p $port -c listen_addresses=127.0.0.1 -k $dir -c wal_level=logical -c max_replication_slots=10 -c max_wal_senders=10 -c fsync=off -c synchronous_commit=off $*"
  as_pg "$B/pg_ctl" -D "$dir/data" -w -l "$dir/server.log" start -o "$opts" >/dev/null \
    || { tail -n 20 "$dir/server.log" >&2; exit 1; }
  echo "$port" >"$dir/port"
  echo "PostgreSQL ready on 127.0.0.1:$port (dir $dir)"
  ;;
stop)
  dir=${2:?dir required}
  B=$(bin)
  [ -f "$dir/data/postmaster.pid" ] && as_pg "$B/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
sql)
  dir=${2:?dir required}; shift 2
  psql -h "$dir" -p "$(cat "$dir/port")" -U postgres -d postgres -v ON_ERROR_STOP=1 -q "$@"
  ;;
*)
  echo "usage: $0 start DIR PORT [opts] | stop DIR | sql DIR [psql args] | install" >&2; exit 2 ;;
esac
