# shellcheck shell=bash
# Helpers for bench/run.sh (sourced): process accounting, result lines, the Java helper
# (bench/lib/BenchTool.java), Kafka Connect REST calls. Needs ROOT, WORK, SLUICE.

fail() { echo "bench: $*" >&2; exit 1; }
free_port() { "$ROOT/scripts/mariadb.sh" free-port "$1"; }
now_ms() { date +%s%3N; }
HZ=$(getconf CLK_TCK)
# CPU seconds (user + system) of a live process; tree_cpu adds its reaped children (PostgreSQL's
# backends are processes)
proc_cpu() { awk -v hz="$HZ" '{printf "%.2f", ($14 + $15) / hz}' "/proc/$1/stat"; }
tree_cpu() { awk -v hz="$HZ" '{printf "%.2f", ($14 + $15 + $16 + $17) / hz}' "/proc/$1/stat"; }
# peak RSS of a live process so far (VmHWM), MB
proc_hwm() { awk '/^VmHWM/ {printf "%d", $2 / 1024}' "/proc/$1/status"; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b - a}'; }
child_count() { { cat /proc/[0-9]*/stat 2>/dev/null || true; } | awk -v p="$1" '{ sub(/.*\) /, "") } $2 == p' | wc -l; }
# wait (at most 5 s) until a server is back to `want` children, so an exited backend's CPU has been
# reaped into the server's cutime/cstime before tree_cpu reads it
settle_children() { local i; for ((i = 0; i < 50; i++)); do [ "$(child_count "$1")" -le "$2" ] && return; sleep 0.1; done; }
field() { grep -o "\"$1\":[0-9.]*" "$2" | head -n 1 | cut -d: -f2; }   # from sluice's JSON log
time_cpu() { awk -F': ' '/User time/ {u=$2} /System time/ {s=$2} END {printf "%.2f", u+s}' "$1"; }
time_rss() { awk -F': ' '/Maximum resident set size/ {printf "%d", $2/1024}' "$1"; }

# one result line: name run events seconds cpu_s peak_rss_mb [extra key=value ...]
result() {
  local name=$1 run=$2 n=$3 secs=$4 cpu=$5 rss=$6; shift 6
  awk -v name="$name" -v run="$run" -v n="$n" -v s="$secs" -v cpu="$cpu" -v rss="$rss" -v extra="$*" 'BEGIN {
    printf "%s run=%d events=%d seconds=%.3f eps=%.0f cpu_s=%s us_per_event=%.2f peak_rss_mb=%d%s\n",
      name, run, n, s, (s > 0 ? n / s : 0), cpu, (n > 0 ? cpu * 1e6 / n : 0), rss, (extra == "" ? "" : " " extra) }'
}
# a sluice process run under /usr/bin/time: name run events seconds timefile [extra ...]
report() { local name=$1 run=$2 n=$3 secs=$4 t=$5; shift 5; result "$name" "$run" "$n" "$secs" "$(time_cpu "$t")" "$(time_rss "$t")" "$@"; }

# ---- the Java helper, compiled once per invocation against Kafka's jars and the JDBC drivers
# (the drivers Debezium's plugins carry, fetched once into the tools cache by scripts/tools.sh)
tool_init() {
  local kl jl
  kl=$("$ROOT/scripts/kafka.sh" lib)
  jl=$("$ROOT/scripts/tools.sh" maven bench-jdbc org.mariadb.jdbc:mariadb-java-client:3.5.3 org.postgresql:postgresql:42.7.11)
  [ -d "$jl/lib" ] && jl=$jl/lib
  TOOL_CP="$WORK/tool:$kl/*:$jl/*"
  mkdir -p "$WORK/tool"
  javac -nowarn -d "$WORK/tool" -cp "$TOOL_CP" "$ROOT/bench/lib/BenchTool.java" >&2
  TOOL=(java -Xmx96m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dlog4j2.configurationFile="$(dirname "$kl")/log4j2-tools.properties" -cp "$TOOL_CP" BenchTool)
}
# the long-lived end-offset poller: one JVM for the whole invocation, commands through a fifo
poller_start() { # bootstrap
  mkfifo "$WORK/poll.in"; : >"$WORK/poll.out"
  "${TOOL[@]}" offsets "$1" <"$WORK/poll.in" >"$WORK/poll.out" 2>"$WORK/poll.err" &
  POLLER_PID=$!
  exec 7>"$WORK/poll.in"
  poll_read || fail "offset poller did not start: $(cat "$WORK/poll.err")"
}
poller_stop() { [ -n "${POLLER_PID:-}" ] || return 0; echo quit >&7; exec 7>&-; wait "$POLLER_PID" 2>/dev/null || true; POLLER_PID=""; }
poll_send() { POLL_LINES=$(wc -l <"$WORK/poll.out"); echo "$*" >&7; }
# the answer to the last command; while waiting, `$POLL_CHECK` (a command) runs every 2 s and
# aborts the wait by failing
poll_read() {
  local i=0 want=$(( ${POLL_LINES:-0} + 1 ))
  while [ "$(wc -l <"$WORK/poll.out")" -lt "$want" ]; do
    kill -0 "$POLLER_PID" 2>/dev/null || return 1
    i=$((i + 1))
    if [ -n "${POLL_CHECK:-}" ] && [ $((i % 40)) = 0 ]; then $POLL_CHECK || return 1; fi
    sleep 0.05
  done
  POLL_ANSWER=$(sed -n "${want}p" "$WORK/poll.out")
}
pval() { { grep -oE "(^| )$1=[0-9]+" <<<"$POLL_ANSWER" | cut -d= -f2; } || true; }
# record bytes of a topic: "records=N key_bytes=K value_bytes=V"
topic_bytes() { "${TOOL[@]}" size "$1" "$2" 2>>"$WORK/tool.err"; }

# ---- Kafka Connect REST (the Java worker and sluice connect answer alike)
rest() { # method port path [json-file]
  if [ -n "${4:-}" ]; then curl -s -X "$1" -H 'Content-Type: application/json' "http://127.0.0.1:$2$3" --data-binary "@$4"
  else curl -s -X "$1" "http://127.0.0.1:$2$3"; fi
}
connector_state() { { rest GET "$1" "/connectors/$2/status" | grep -o '"state":"[A-Z]*"' | cut -d'"' -f4 | sort -u | tr '\n' ' '; } || true; }
# fails when a task of the connector failed (prints the status)
connector_ok() { # port name
  local s; s=$(rest GET "$1" "/connectors/$2/status")
  if grep -q '"FAILED"' <<<"$s"; then echo "connector $2 failed: $s" >&2; return 1; fi
}
wait_state() { # port name STATE: at most 60 s
  local i
  for ((i = 0; i < 600; i++)); do [[ " $(connector_state "$1" "$2")" == *" $3 "* ]] && return 0; sleep 0.1; done
  fail "connector $2 did not reach $3: $(rest GET "$1" "/connectors/$2/status")"
}
delete_connector() { rest DELETE "$1" "/connectors/$2" >/dev/null || true; }
