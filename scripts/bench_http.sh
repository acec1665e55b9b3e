#!/usr/bin/env bash
# The pull API's figures (issue 16), on a live recd fed through a real Kafka
# broker on loopback, with wrk (Debian's):
#   1. HTTP_USERS users (default 100,000) get a list; then wrk asks for random
#      users' lists at about HTTP_RATE requests/s (default 2,000; connections
#      that each wait 10 ms between requests) for HTTP_SECONDS (default 30):
#      latency percentiles as wrk measures them;
#   2. ingest with and without those requests, side by side: recgen produces
#      HTTP_BACKLOG events (default 300,000) as fast as it can while recd
#      applies them; the rate is recd's, from its first new commit to its last;
#   3. uncached: after a restart the shelf is empty and each user's first answer
#      is made on the pipeline thread (the command queue), then kept: wrk at
#      about 200 requests/s; then users recd does not know (always the queue).
#   usage: scripts/bench_http.sh     (BENCH_BUILD=DIR measures another build)
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
BUILD=$(cd "${BENCH_BUILD:-build}" && pwd)
USERS=${HTTP_USERS:-100000}
RATE=${HTTP_RATE:-2000}
DURATION=${HTTP_SECONDS:-30}
BACKLOG=${HTTP_BACKLOG:-300000}
command -v wrk >/dev/null || { echo "wrk is not installed: scripts/setup.sh installs it" >&2; exit 1; }
. "$SRC/tests/e2e/lib.sh"
fail() { echo "FAIL: $*" >&2; exit 1; }

# pull.lua: a random id of $WORK/ids.txt per request; each connection waits 10 ms between requests.
cat >"$WORK/pull.lua" <<LUA
local ids = {}
for line in io.lines("$WORK/ids.txt") do ids[#ids + 1] = line end
math.randomseed(os.time())
request = function()
  return wrk.format("GET", "/v1/users/" .. ids[math.random(1, #ids)] .. "/recommendations")
end
delay = function() return 10 end
LUA
wrk_run() {  # wrk_run CONNECTIONS SECONDS PORT: latency percentiles and the request rate
  wrk -t2 -c"$1" -d"$2"s --latency -s "$WORK/pull.lua" "http://127.0.0.1:$3" |
    grep -E "^ +(50|90|99)%|Requests/sec|Non-2xx|Socket errors|requests in"
}
# apply_rate N SEED [wrk ARGS...]: produces N events while recd runs (and wrk,
# if given), and prints recd's apply rate over them.
apply_rate() {
  local n=$1 seed=$2; shift 2
  local before target t0 t1 have wrk_pid=""
  before=$(store_total); target=$((before + n))
  [ $# -gt 0 ] && { wrk_run "$@" >"$WORK/wrk-during.txt" & wrk_pid=$!; sleep 1; }
  "$BUILD/tools/recgen" --seed "$seed" --events "$n" --users "$USERS" --items 10000 --duplicate-fraction 0 \
    --start 2026-06-01T00:00:00Z -b "$BROKERS" 2>/dev/null &
  local gen=$!
  t0=""; have=$before
  while [ "$have" -lt "$target" ]; do
    have=$(store_total); now=$(date +%s.%N)
    [ -z "$t0" ] && [ "$have" -gt "$before" ] && { t0=$now; first=$have; }
    sleep 0.2
  done
  t1=$(date +%s.%N)
  wait "$gen"
  [ -n "$wrk_pid" ] && wait "$wrk_pid"
  awk -v n="$((have - first))" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f events/s\n", n / (b - a) }'
}

start_broker >/dev/null
echo "== $USERS users' histories ($((USERS * 3)) events), applied and ranked"
"$BUILD/tools/recgen" --seed 5 --events $((USERS * 3)) --users "$USERS" --items 10000 --duplicate-fraction 0 \
  --summary "$WORK/summary.json" -b "$BROKERS" 2>/dev/null
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
start_recd "$WORK/recd.log" --set pipeline.stats_interval_ms=100000
port=$(admin_port "$WORK/recd.log")
wait_total "$lines" 900 || fail "the history was not applied"
for _ in $(seq 1 1500); do [ "$(metric "$port" recd_lists_due)" = 0 ] && break; sleep 0.2; done
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.recommendations --idle-ms 3000 |
  grep -o '"key":"[^"]*"' | cut -d'"' -f4 | sort -u >"$WORK/ids.txt"
echo "users with a list: $(wc -l <"$WORK/ids.txt") ($(metric "$port" recd_lists_due) due); the requests ask for them"

echo "== cached: wrk, $((RATE / 100)) connections each waiting 10 ms, ${DURATION} s, no ingest"
wrk_run $((RATE / 100)) "$DURATION" "$port"

echo "== ingest of $BACKLOG events without requests"
apply_rate "$BACKLOG" 21
echo "== ingest of $BACKLOG events while wrk asks at about $RATE/s"
apply_rate "$BACKLOG" 22 $((RATE / 100)) "$DURATION" "$port"
echo "   wrk during that ingest:"; sed 's/^/   /' "$WORK/wrk-during.txt"

echo "== uncached: restarted (empty shelf), wrk 2 connections each waiting 10 ms, ${DURATION} s"
kill -TERM "$RECD_PID"; wait "$RECD_PID" || true
start_recd "$WORK/recd-2.log" --set pipeline.stats_interval_ms=100000
port=$(admin_port "$WORK/recd-2.log")
wait_status "$port" /readyz 200 120 || fail "not ready after the restart"
wrk_run 2 "$DURATION" "$port"
echo "== unknown users (every answer from the pipeline thread: the cold-start list), wrk 2 connections, ${DURATION} s"
seq 1 100000 | sed 's/^/nobody-/' >"$WORK/ids.txt"
wrk_run 2 "$DURATION" "$port"
kill -TERM "$RECD_PID"; wait "$RECD_PID" || true; RECD_PID=""
