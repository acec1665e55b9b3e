#!/usr/bin/env bash
# Retraining and the model registry end to end, against a real Apache Kafka
# broker: the on-demand trigger needs the bearer token; a kill -9 during
# training leaves the previous model active and the store exact; a retraining
# that completes is recorded and promoted, swapped in and recorded in the
# store; `recctl activate` rolls back; a crash between LATEST and the store's
# record (LATEST ahead) restarts on the recorded model.
# usage: retrain.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
RECCTL="$BUILD/tools/recctl"

LOG="$WORK/recd-1.log"
fail() { echo "FAIL: $*"; tail -40 "$LOG"; exit 1; }
active_version() { "$RECCTL" models --admin "127.0.0.1:$1" | awk -F'"' '/"version"/ { v = $4 } /"active": true/ { a = 1 } /}/ { if (a) print v; a = 0 }'; }

start_broker
"$BUILD/tools/recgen" --seed 5 --events 20000 --users 800 --items 300 -o "$WORK/events.jsonl"
"$BUILD/tools/rectrain" --events "$WORK/events.jsonl" -o "$WORK/models" --device cpu --epochs 3 --max-batches 30 \
  >"$WORK/rectrain.log" 2>&1 || { cat "$WORK/rectrain.log"; exit 1; }
lines=$(wc -l <"$WORK/events.jsonl")
"$RECCTL" produce -b "$BROKERS" "$WORK/events.jsonl"
head -c 24 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token"
common=(--set "model.dir=$WORK/models" --set model.device=cpu --set model.reload_interval_ms=500
        --set "admin.token_file=$WORK/token")

# 1. A long training, killed with -9 while it runs.
start_recd "$LOG" "${common[@]}" --set retrain.epochs=500 --set retrain.batch_size=16
port=$(admin_port "$LOG") || fail "no admin endpoint in the log"
wait_total "$lines" 300 || fail "not all events applied"
[ "$(active_version "$port")" = v0001 ] || fail "v0001 is not the active model"
if "$RECCTL" retrain --admin "127.0.0.1:$port" 2>/dev/null; then fail "retrain accepted without the token"; fi
"$RECCTL" retrain --admin "127.0.0.1:$port" --token-file "$WORK/token" || fail "retrain refused with the token"
wait_metric "$port" recd_retrain_running 1 30 || fail "no retraining started"
sleep 2
[ "$(metric "$port" recd_retrain_running)" = 1 ] || fail "the retraining ended before the kill"
kill -9 "$RECD_PID"; wait "$RECD_PID" 2>/dev/null || true; RECD_PID=""
echo "killed recd -9 during training"
[ "$(cat "$WORK/models/LATEST")" = v0001 ] || fail "LATEST moved: $(cat "$WORK/models/LATEST")"
[ ! -e "$WORK/models/v0002" ] || fail "a version appeared from a killed training"

# 2. Restart: the same model, the same store; then a short training that completes and is promoted.
LOG="$WORK/recd-2.log"
start_recd "$LOG" "${common[@]}" --set retrain.epochs=2 --set retrain.promote_margin=-0.99
port=$(admin_port "$LOG") || fail "no admin endpoint after the restart"
wait_metric "$port" recd_model_active 1 60 || fail "no model active after the restart"
[ "$(active_version "$port")" = v0001 ] || fail "v0001 is not active after the restart"
[ "$(store_total)" = "$lines" ] || fail "the store holds $(store_total) messages, not $lines"
"$RECCTL" retrain --admin "127.0.0.1:$port" --token-file "$WORK/token" || fail "retrain refused"
wait_metric "$port" recd_retrains_total 1 300 || fail "the retraining did not finish"
wait_metric "$port" recd_model_swaps_total 1 60 || fail "the promoted model was not swapped in"
grep -q "retrain: candidate v0002 trained" "$LOG" || fail "no decision logged"
[ "$(active_version "$port")" = v0002 ] || fail "v0002 is not active after its promotion"
"$RECCTL" models --admin "127.0.0.1:$port" | grep -q '"parent": "v0001"' || fail "v0002's parent is not recorded"

# 3. Rollback by the operator.
if "$RECCTL" activate v0009 --admin "127.0.0.1:$port" --token-file "$WORK/token" 2>/dev/null; then
  fail "activating a missing version was accepted"
fi
"$RECCTL" activate v0001 --admin "127.0.0.1:$port" --token-file "$WORK/token" || fail "activate refused"
wait_metric "$port" recd_model_swaps_total 2 60 || fail "the rollback was not swapped in"
[ "$(active_version "$port")" = v0001 ] || fail "v0001 is not active after the rollback"

# 4. A crash between LATEST and the store's record: LATEST ahead of the store.
sleep 1  # the swap's record is written on the pipeline thread's next turn
kill -9 "$RECD_PID"; wait "$RECD_PID" 2>/dev/null || true; RECD_PID=""
echo v0002 >"$WORK/models/LATEST"
LOG="$WORK/recd-3.log"
start_recd "$LOG" "${common[@]}"
port=$(admin_port "$LOG") || fail "no admin endpoint after the second restart"
wait_metric "$port" recd_model_active 1 60 || fail "no model active after the second restart"
grep -q "restored v0001 as the active model" "$LOG" || fail "the recorded model was not restored"
[ "$(active_version "$port")" = v0001 ] || fail "v0001 is not active after a crash mid-swap"
[ "$(store_total)" = "$lines" ] || fail "the store holds $(store_total) messages, not $lines"
kill -TERM "$RECD_PID"; wait "$RECD_PID"; rc=$?; RECD_PID=""
[ "$rc" -eq 0 ] || fail "recd exited with $rc after SIGTERM"
grep -q "stopped cleanly" "$LOG" || fail "no clean stop in the log"
echo "retrain e2e passed"
