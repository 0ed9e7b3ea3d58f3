#!/usr/bin/env bash
# Java tools from Maven Central, fetched once into a tools cache (SLUICE_TOOLS, default
# ~/.cache/sluice-tools) by Maven itself, for the servers the tests and benchmarks start
# (Apache Kafka, Kafka Connect + Debezium, OpenSearch, Apicurio Registry).
#
#   scripts/tools.sh maven NAME COORD...   resolve COORDs (group:artifact:version[:type[:classifier]])
#                                          with their runtime dependencies into $SLUICE_TOOLS/NAME/lib;
#                                          prints that directory. Nothing is fetched when the same
#                                          list was resolved before (Maven's ~/.m2 is the cache).
#   scripts/tools.sh java                  prints the java to run them with (JAVA_HOME, else PATH)
#   scripts/tools.sh dir                   prints $SLUICE_TOOLS
#   scripts/tools.sh watch PID CMD...      runs CMD (in the background, detached from the caller's
#                                          output) once process PID has ended: a test process passes
#                                          its own pid so the servers it started stop with it, even
#                                          when it is killed or never drops them
#
# A failed fetch names the artifacts Maven could not get, and leaves no half-filled lib/ behind.
# Exclusions: a COORD written as `!group:artifact` excludes that artifact from every dependency
# (for jars two libraries both bring, e.g. a second SLF4J binding).
set -euo pipefail
tools=${SLUICE_TOOLS:-$HOME/.cache/sluice-tools}

need_mvn() {
  command -v mvn >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing maven" >&2
    apt-get -o DPkg::Lock::Timeout=600 update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q maven >/dev/null
  else
    echo "mvn not found: install Maven 3.8+ (apt-get install maven)" >&2; exit 1
  fi
}

java_bin() {
  if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; return; fi
  command -v java >/dev/null 2>&1 || { echo "java not found: install OpenJDK 17+ (apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
  command -v java
}

# pom.xml listing the coordinates as dependencies (and the exclusions on each of them)
write_pom() {
  local pom=$1; shift
  local deps="" excl="" c g a v t k
  for c in "$@"; do
    [[ $c == '!'* ]] || continue
    IFS=: read -r g a <<<"${c#!}"
    excl+="<exclusion><groupId>$g</groupId><artifactId>$a</artifactId></exclusion>"
  done
  for c in "$@"; do
    [[ $c == '!'* ]] && continue
    IFS=: read -r g a v t k <<<"$c"
    [ -n "$v" ] || { echo "tools.sh: '$c' is not group:artifact:version" >&2; exit 2; }
    deps+="<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version>"
    [ -n "${t:-}" ] && deps+="<type>$t</type>"
    [ -n "${k:-}" ] && deps+="<classifier>$k</classifier>"
    deps+="<exclusions>$excl</exclusions></dependency>"
  done
  cat >"$pom" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>sluice.tools</groupId><artifactId>fetch</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>$deps</dependencies>
</project>
POM
}

fetch() {
  local name=${1:?name}; shift
  [ $# -gt 0 ] || { echo "tools.sh maven $name: no coordinates" >&2; exit 2; }
  local dir=$tools/$name want
  want=$(printf '%s\n' "$@")
  if [ -f "$dir/lib.done" ] && [ "$(cat "$dir/lib.done")" = "$want" ]; then echo "$dir"; return; fi
  need_mvn
  mkdir -p "$dir"
  # one fetch of NAME at a time (parallel tests may start the same server for the first time)
  exec 9>"$dir/.lock"; flock 9
  if [ -f "$dir/lib.done" ] && [ "$(cat "$dir/lib.done")" = "$want" ]; then echo "$dir"; return; fi
  rm -rf "$dir/lib" "$dir/lib.tmp" "$dir/lib.done"
  write_pom "$dir/pom.xml" "$@"
  echo "fetching $name from Maven ($*): once, cached in $dir" >&2
  if ! mvn -B -q -f "$dir/pom.xml" -DoutputDirectory="$dir/lib.tmp" -DincludeScope=runtime \
      org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies >"$dir/maven.log" 2>&1; then
    rm -rf "$dir/lib.tmp"
    echo "could not fetch $name from Maven; the artifacts it could not get:" >&2
    grep -oE "(Could not (find|resolve|transfer) artifact|Failure to find|Could not resolve dependencies for project|Non-resolvable)[^\[]*" \
      "$dir/maven.log" | sed "s/ *-> *$//; s/^/  /" | sort -u >&2 || true
    echo "(whole Maven log: $dir/maven.log)" >&2
    exit 1
  fi
  mv "$dir/lib.tmp" "$dir/lib"
  echo "$want" >"$dir/lib.done"
  echo "$dir"
}

watch() {
  local owner=${1:?owner pid}; shift
  [ $# -gt 0 ] || { echo "tools.sh watch $owner: no command" >&2; exit 2; }
  ( trap '' HUP
    while kill -0 "$owner" 2>/dev/null; do sleep 1; done
    "$@" ) </dev/null >/dev/null 2>&1 &
}

case "${1:-}" in
maven) shift; fetch "$@" ;;
watch) shift; watch "$@" ;;
java) java_bin ;;
dir) echo "$tools" ;;
*) echo "usage: $0 maven NAME COORD... | java | dir | watch PID CMD..." >&2; exit 2 ;;
esac
