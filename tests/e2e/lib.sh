# Shared by the end-to-end scripts: a real Kafka broker in $WORK, torn down on exit.
# Needs BUILD (the build directory) and SRC (the source tree).
set -euo pipefail
WORK=$(mktemp -d "${TMPDIR:-/tmp}/recd-e2e.XXXXXX")
RECD_PID=""
BACKGROUND_PIDS=()  # other processes a test starts (a generator): killed on exit
cleanup() {
  [ -n "$RECD_PID" ] && kill -9 "$RECD_PID" 2>/dev/null || true
  for pid in "${BACKGROUND_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  "$SRC/scripts/kafka.sh" stop "$WORK/kafka" || true
  if [ "${KEEP_WORK:-0}" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start_broker() {
  BROKERS=$("$SRC/scripts/kafka.sh" start "$WORK/kafka")
  echo "broker on $BROKERS"
  "$BUILD/tools/recctl" create-topics -b "$BROKERS" -p 4
}

# start_recd LOG [extra --set args...]: runs recd against $BROKERS with its store in $WORK/store.
start_recd() {
  local log=$1; shift
  "$BUILD/daemon/recd" -c "${RECD_CONFIG:-$SRC/config/recd.toml}" \
    --set "kafka.brokers=$BROKERS" --set "store.path=$WORK/store" \
    --set kafka.group_instance_id=recd-e2e --set admin.listen=127.0.0.1:0 --set pipeline.stats_interval_ms=2000 \
    --set 'kafka.consumer."session.timeout.ms"=10000' "$@" >>"$log" 2>&1 &
  RECD_PID=$!
}

# store_total: events applied + duplicates + rejected, as the store has committed them.
store_total() {
  "$BUILD/tools/recctl" committed --store "$WORK/store" 2>/dev/null
}

# wait_total N TIMEOUT_S: waits until the store has committed N messages.
wait_total() {
  local want=$1 timeout=$2 t=0 have=0
  while [ "$t" -lt "$timeout" ]; do
    have=$(store_total || echo 0)
    [ "$have" -ge "$want" ] && return 0
    if [ -n "$RECD_PID" ] && ! kill -0 "$RECD_PID" 2>/dev/null; then
      echo "recd exited before committing $want messages (the store holds $have)" >&2
      return 1
    fi
    sleep 1; t=$((t + 1))
  done
  echo "timed out: the store holds $have of $want messages" >&2
  return 1
}

# admin_port LOG: the admin endpoint's port, once recd has logged it. recd logs it
# after topic creation and the store's open, which a loaded CI machine and a broker
# still loading its coordinators can stretch; correctness, not start-up time, is
# under test here, so it waits up to two minutes while recd lives, and shows recd's
# log when it gives up.
admin_port() {
  local log=$1 t=0
  while [ "$t" -lt 1200 ]; do
    port=$(sed -n 's/.*admin endpoint on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$log" | tail -1)
    [ -n "$port" ] && { echo "$port"; return 0; }
    if [ -n "$RECD_PID" ] && ! kill -0 "$RECD_PID" 2>/dev/null; then break; fi
    sleep 0.1; t=$((t + 1))
  done
  { echo "recd's log when the admin endpoint was still missing:"; tail -30 "$log"; } >&2
  return 1
}

# metric PORT NAME: one value from /metrics (bash's /dev/tcp: no curl needed).
metric() {
  local port=$1 name=$2
  exec 3<>"/dev/tcp/127.0.0.1/$port"
  printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
  awk -v n="$name" '$1 == n { print $2 }' <&3
  exec 3<&- 3>&-
}

# http_status PORT PATH: the HTTP status code of a GET (bash's /dev/tcp: no curl needed).
http_status() {
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
  awk 'NR == 1 { print $2 }' <&3
  exec 3<&- 3>&-
}
# wait_status PORT PATH CODE TIMEOUT_S
wait_status() {
  local t=0
  while [ "$t" -lt "$(($4 * 5))" ]; do
    [ "$(http_status "$1" "$2")" = "$3" ] && return 0
    sleep 0.2; t=$((t + 1))
  done
  return 1
}

# wait_metric PORT NAME VALUE TIMEOUT_S: until /metrics shows NAME >= VALUE.
wait_metric() {
  local port=$1 name=$2 want=$3 timeout=$4 t=0 have
  while [ "$t" -lt "$((timeout * 5))" ]; do
    have=$(metric "$port" "$name")
    if [ -n "$have" ] && awk -v h="$have" -v w="$want" 'BEGIN { exit !(h >= w) }'; then return 0; fi
    sleep 0.2; t=$((t + 1))
  done
  echo "timed out waiting for $name >= $want (last: ${have:-none})" >&2
  return 1
}

# stop_recd: lets the last sweep publish, then stops recd with SIGTERM; fails
# (the script's own `fail`) unless it exits 0.
stop_recd() {
  sleep 3
  kill -TERM "$RECD_PID"; wait "$RECD_PID" || fail "recd did not stop cleanly"
  RECD_PID=""
}

# check_exact [E2E_CHECK ARGS...]: the store's per-type counts, every reject on
# the dead-letter topic and every user's list, against what recgen produced
# ($WORK/summary.json).
check_exact() {
  "$BUILD/tools/recctl" stats --store "$WORK/store" >"$WORK/stats.json"
  "$BUILD/tools/recctl" read -b "$BROKERS" -t recd.events.dlq --idle-ms 2000 >"$WORK/dlq.jsonl"
  "$BUILD/tools/recctl" read -b "$BROKERS" -t recd.recommendations --idle-ms 2000 >"$WORK/lists.jsonl"
  "$BUILD/tests/e2e_check" --summary "$WORK/summary.json" --stats "$WORK/stats.json" \
    --dlq "$WORK/dlq.jsonl" --lists "$WORK/lists.jsonl" "$@"
}
