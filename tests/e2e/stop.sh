#!/usr/bin/env bash
# The stop is bounded whatever runs (issue 16), against a real Apache Kafka
# broker, on a 30,000-item catalogue whose full embedding takes seconds:
#   1. SIGTERM while the model embeds the catalogue at start (systemd's
#      STATUS= says so): recd exits at once, 0;
#   2. SIGTERM while an activated version embeds the catalogue in the
#      refresher: out within pipeline.shutdown_timeout_ms + 2 s, the load
#      cancelled, and the next start serves the version the store recorded;
#   3. SIGTERM during a retraining: out within the same bound, no version
#      written, LATEST unmoved.
# usage: stop.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
RECCTL="$BUILD/tools/recctl"
LOG="$WORK/recd-0.log"
fail() { echo "FAIL: $*"; tail -30 "$LOG"; exit 1; }
TIMEOUT_MS=3000
BOUND_MS=$((TIMEOUT_MS + 2000))
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
# sigterm_within LABEL: SIGTERM recd, wait; fails beyond BOUND_MS or on a non-zero exit.
sigterm_within() {
  local t0 rc took
  t0=$(now_ms)
  kill -TERM "$RECD_PID"
  wait "$RECD_PID"; rc=$?
  RECD_PID=""
  took=$(( $(now_ms) - t0 ))
  echo "$1: SIGTERM to exit $took ms (bound $BOUND_MS ms), exit $rc"
  [ "$rc" = 0 ] || fail "$1: recd exited with $rc"
  [ "$took" -le "$BOUND_MS" ] || fail "$1: the stop took $took ms, beyond pipeline.shutdown_timeout_ms + 2 s"
}

start_broker
"$BUILD/tools/recgen" --seed 5 --events 60000 --users 4000 --items 30000 -o "$WORK/events.jsonl" >/dev/null
for _ in 1 2; do
  "$BUILD/tools/rectrain" --events "$WORK/events.jsonl" -o "$WORK/models" --device cpu --epochs 1 --max-batches 5 \
    >>"$WORK/rectrain.log" 2>&1 || { cat "$WORK/rectrain.log"; exit 1; }
done
echo v0001 >"$WORK/models/LATEST"
lines=$(wc -l <"$WORK/events.jsonl")
"$RECCTL" produce -b "$BROKERS" "$WORK/events.jsonl"
head -c 24 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token"
common=(--set "model.dir=$WORK/models" --set model.device=cpu --set model.reload_interval_ms=200
        --set "admin.token_file=$WORK/token" --set "pipeline.shutdown_timeout_ms=$TIMEOUT_MS")

# The store first, without a model.
start_recd "$LOG"
wait_total "$lines" 300 || fail "not every event was applied"
stop_recd

# 1. At start, while the catalogue embeds.
LOG="$WORK/recd-1.log"
"$BUILD/tests/notify_listener" "$WORK/notify.sock" >"$WORK/notify.log" &
BACKGROUND_PIDS+=($!)
for _ in $(seq 50); do [ -S "$WORK/notify.sock" ] && break; sleep 0.1; done
NOTIFY_SOCKET=$WORK/notify.sock start_recd "$LOG" "${common[@]}"
for _ in $(seq 600); do grep -q 'STATUS=starting: loading the model' "$WORK/notify.log" && break; sleep 0.1; done
grep -q 'STATUS=starting: loading the model' "$WORK/notify.log" || fail "the model load at start was not reported"
sleep 1
grep -q 'READY=1' "$WORK/notify.log" && fail "the catalogue embedded within a second: nothing to interrupt (calibrate the catalogue)"
sigterm_within "during the catalogue's embedding at start"
grep -q "while starting: exiting" "$LOG" || fail "no startup exit in the log"

# 2. In the refresher, while an activated version embeds the catalogue.
LOG="$WORK/recd-2.log"
start_recd "$LOG" "${common[@]}"
port=$(admin_port "$LOG") || fail "no admin endpoint"
wait_metric "$port" recd_model_active 1 300 || fail "no model active"
grep -o 'model v0001 active: .*' "$LOG" | head -1
"$RECCTL" activate v0002 --admin "127.0.0.1:$port" --token-file "$WORK/token" >/dev/null || fail "activate v0002 refused"
sleep 1.5
[ "$(metric "$port" recd_model_version)" = 1 ] || fail "v0002 finished embedding within 1.5 s: nothing to interrupt"
sigterm_within "during an activated version's embedding"
grep -q "refresher: loading model v0002: embedding cancelled by the stop" "$LOG" || fail "the load of v0002 was not cancelled"

# 3. During a retraining; the restart serves what the store recorded (v0001).
LOG="$WORK/recd-3.log"
start_recd "$LOG" "${common[@]}" --set retrain.epochs=500 --set retrain.batch_size=16
port=$(admin_port "$LOG") || fail "no admin endpoint"
wait_metric "$port" recd_model_active 1 300 || fail "no model active after the restart"
[ "$(metric "$port" recd_model_version)" = 1 ] || fail "v0001 is not the model serving after the cancelled activation"
latest=$(cat "$WORK/models/LATEST")
"$RECCTL" retrain --admin "127.0.0.1:$port" --token-file "$WORK/token" >/dev/null || fail "retrain refused"
wait_metric "$port" recd_retrain_running 1 60 || fail "no retraining started"
sleep 3
[ "$(metric "$port" recd_retrain_running)" = 1 ] || fail "the retraining ended before the stop"
sigterm_within "during a retraining"
[ "$(cat "$WORK/models/LATEST")" = "$latest" ] || fail "LATEST moved from $latest to $(cat "$WORK/models/LATEST")"
[ ! -e "$WORK/models/v0003" ] || fail "a cancelled retraining wrote v0003"
[ "$(store_total)" = "$lines" ] || fail "the store holds $(store_total) messages, not $lines"
echo "bounded stop: OK"
