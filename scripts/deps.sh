#!/usr/bin/env bash
# Installs what sluice needs, only when it is missing, for one purpose:
#
#   scripts/deps.sh demo    MariaDB server + client (Debian packages): all the demo needs
#   scripts/deps.sh test    + GNU time, sqlite3, curl, g++ (fuzzing), openssl (TLS tests), PostgreSQL 15, Java 17 + Maven (Debian
#                           packages), then the Java servers fetched once from Maven Central into
#                           the tools cache: Apache Kafka (scripts/kafka.sh), OpenSearch
#                           (scripts/search.sh), Apicurio Registry and the Python Avro reader
#                           (scripts/registry.sh), Kafka Connect with Debezium's connectors
#                           (scripts/connect.sh: the oracle of tests/differential.rs; on a fresh
#                           machine about 2 more minutes, the plugins and a class-data archive)
#   scripts/deps.sh bench   the same as test (kept for bench/run.sh)
#
# Safe to run repeatedly. Without root, it prints the apt-get line to run instead.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
what=${1:-test}
case "$what" in demo | test | bench) ;; *) echo "usage: $0 demo|test|bench" >&2; exit 2 ;; esac
command -v cargo >/dev/null 2>&1 || { echo "cargo not found: install the Rust toolchain (rustup) first" >&2; exit 1; }

missing=()
have() { command -v "$1" >/dev/null 2>&1; }
have mariadbd && have mariadb-install-db || missing+=(mariadb-server)
have mariadb && have mariadb-admin || missing+=(mariadb-client)
if [ "$what" != demo ]; then
  [ -x /usr/bin/time ] || missing+=(time)
  have sqlite3 || missing+=(sqlite3)
  have curl || missing+=(curl)
  have java || missing+=(openjdk-17-jre-headless)
  have javac || missing+=(openjdk-17-jdk-headless)
  have mvn || missing+=(maven)
  have c++ || missing+=(g++) # libFuzzer, for scripts/fuzz.sh
  have openssl || missing+=(openssl) # the TLS tests make their certificates
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "missing packages: ${missing[*]} — run: sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  echo "installing ${missing[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q "${missing[@]}" >/dev/null
fi
[ "$what" = demo ] && exit 0

"$here/postgres.sh" install
"$here/kafka.sh" install
"$here/search.sh" install
"$here/registry.sh" install
"$here/connect.sh" install
exit 0
