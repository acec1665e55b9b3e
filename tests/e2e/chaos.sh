#!/usr/bin/env bash
# Crash anywhere (issue 17), against a real Apache Kafka broker: recd runs with a
# PinSage model, live refresh, snapshots and retraining, while events stream in.
# It is killed with -9 CHAOS_KILLS times, each kill aimed at one phase: the store
# open and view rebuild, the first full embedding, steady intake (batches wait
# for their dead letters' acks there), a refresher tick, a retraining, the swap
# and republish after a promotion, and the shutdown drain. The moments are drawn
# from CHAOS_SEED, printed first, so that a failure can be replayed.
# At the end, after a clean run:
#   - every produced event is counted exactly once, per type, and every reject is
#     on the dead-letter topic (e2e_check);
#   - the store opened cleanly at every start;
#   - each user's newest list came after the user's last event, and holds none
#     of the items the user purchased or rated; no list is still owed;
#   - the registry holds no half-written version, LATEST names a complete one,
#     and the store's record of the active model is the version that serves.
# usage: chaos.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
KILLS=${CHAOS_KILLS:-20}
SEED=${CHAOS_SEED:-$(( $(date +%s) % 100000 ))}
echo "chaos: $KILLS kills, seed $SEED (replay with CHAOS_SEED=$SEED)"
RANDOM=$SEED
RECCTL="$BUILD/tools/recctl"
LOG=""  # each start logs to its own file, so that admin_port finds this start's port
fail() { echo "FAIL: $*"; tail -40 "$LOG"; exit 1; }
# A metric, or nothing when recd is gone (never fails the script by itself).
probe() { metric "$1" "$2" 2>/dev/null || true; }
# wait_probe PORT NAME MIN TIMEOUT_S: until NAME >= MIN while recd lives; 1 otherwise.
wait_probe() {
  local t=0 v
  while [ "$t" -lt "$(($4 * 10))" ] && kill -0 "$RECD_PID" 2>/dev/null; do
    v=$(probe "$1" "$2")
    [ -n "$v" ] && awk -v h="$v" -v w="$3" 'BEGIN { exit !(h >= w) }' && return 0
    sleep 0.1; t=$((t + 1))
  done
  return 1
}
pause() { sleep "$(awk -v r="$RANDOM" -v max="$1" 'BEGIN { printf "%.3f", (r % 1000) / 1000 * max }')"; }

start_broker
EVENTS=60000
gen=(--seed 13 --events "$EVENTS" --users 1500 --items 500 --malformed-fraction 0.01)
"$BUILD/tools/recgen" "${gen[@]}" -o "$WORK/events.jsonl"
"$BUILD/tools/rectrain" --events "$WORK/events.jsonl" -o "$WORK/models" --device cpu --epochs 2 --max-batches 20 \
  >"$WORK/rectrain.log" 2>&1 || { cat "$WORK/rectrain.log"; exit 1; }
head -c 24 /dev/urandom | base64 >"$WORK/token"
chmod 600 "$WORK/token"
settings=(--set "model.dir=$WORK/models" --set model.device=cpu --set model.reload_interval_ms=500
          --set model.snapshot_interval_ms=2000 --set "admin.token_file=$WORK/token"
          --set retrain.enabled=true --set retrain.interval_days=0 --set retrain.epochs=2
          --set retrain.max_batches_per_epoch=20 --set retrain.promote_margin=-0.99)
# The same events as the file, streamed while the kills land: paced to last
# about as long as the kills (some 7 s each), so most land with events arriving.
rate=$(( EVENTS / (KILLS * 7) + 1 ))
"$BUILD/tools/recgen" "${gen[@]}" --rate "$rate" --flush-timeout-s 600 -b "$BROKERS" --summary "$WORK/summary.json" \
  >"$WORK/recgen.log" 2>&1 &
GEN_PID=$!
BACKGROUND_PIDS+=("$GEN_PID")

phases=(open embedding intake refresh retrain swap drain)
declare -A aimed landed
starts=0
for k in $(seq 1 "$KILLS"); do
  phase=${phases[$(( (k + SEED) % ${#phases[@]} ))]}
  starts=$((starts + 1))
  LOG="$WORK/recd-$starts.log"
  start_recd "$LOG" "${settings[@]}"
  port=""
  if [ "$phase" != open ]; then
    port=$(admin_port "$LOG") || fail "no admin endpoint at start $starts"
  fi
  hit=$phase
  case $phase in
    open) pause 1.5 ;;  # the store open, the view rebuild, the model load
    embedding)  # before the first full embedding finishes
      [ "$(probe "$port" recd_model_active)" = 1 ] && { kill -0 "$GEN_PID" 2>/dev/null && hit=intake || hit=idle; } ;;
    intake)
      before=$(store_total || echo 0)
      if kill -0 "$GEN_PID" 2>/dev/null; then
        wait_total "$((before + 1))" 30 >/dev/null 2>&1 || hit=idle
      else
        hit=idle  # every event is in: nothing arrives to be killed amid
      fi
      pause 0.8 ;;
    refresh)
      wait_probe "$port" recd_model_active 1 30 || true
      r0=$(probe "$port" recd_model_items_refreshed_total)
      wait_probe "$port" recd_model_items_refreshed_total "$(( ${r0:-0} + 1 ))" 15 || hit=idle
      pause 0.05 ;;
    retrain|swap)
      wait_probe "$port" recd_model_active 1 30 || true
      s0=$(probe "$port" recd_model_swaps_total)
      "$RECCTL" retrain --admin "127.0.0.1:$port" --token-file "$WORK/token" >/dev/null 2>&1 || true
      if [ "$phase" = retrain ]; then
        wait_probe "$port" recd_retrain_running 1 15 || hit=intake
        pause 1.0
      else
        wait_probe "$port" recd_model_swaps_total "$(( ${s0:-0} + 1 ))" 60 || hit=retrain
        pause 0.3
      fi ;;
    drain)
      wait_probe "$port" recd_model_active 1 30 || true
      pause 0.5
      kill -TERM "$RECD_PID" 2>/dev/null || true
      pause 0.3 ;;
  esac
  if ! kill -0 "$RECD_PID" 2>/dev/null; then
    rc=0; wait "$RECD_PID" || rc=$?
    RECD_PID=""
    [ "$phase" = drain ] && [ "$rc" = 0 ] && { hit=stopped; echo "kill #$k ($phase): recd had already stopped cleanly"; }
    [ "$hit" = stopped ] || fail "recd exited by itself (rc $rc) at start $starts, before kill #$k ($phase)"
  else
    kill -9 "$RECD_PID"; wait "$RECD_PID" 2>/dev/null || true; RECD_PID=""
  fi
  aimed[$phase]=$(( ${aimed[$phase]:-0} + 1 ))
  landed[$hit]=$(( ${landed[$hit]:-0} + 1 ))
  echo "kill #$k aimed at $phase, landed in $hit; the store holds $(store_total || echo '?') committed messages"
done
wait "$GEN_PID" || { cat "$WORK/recgen.log"; exit 1; }

# The clean run: everything applied, every list out, then a clean stop.
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
starts=$((starts + 1))
LOG="$WORK/recd-$starts.log"
start_recd "$LOG" "${settings[@]}"
port=$(admin_port "$LOG") || fail "no admin endpoint at the last start"
wait_total "$lines" 300 || fail "not every event was applied"
wait_probe "$port" recd_model_active 1 60 || fail "no model active at the end"
sleep 3  # the last sweep publishes
serving=$("$RECCTL" models --admin "127.0.0.1:$port" |
  awk -F'"' '/"version"/ { v = $4 } /"active": true/ { a = 1 } /}/ { if (a && v ~ /^v/) print v; a = 0 }')
kill -TERM "$RECD_PID"; wait "$RECD_PID" || fail "recd did not stop cleanly at the end"
RECD_PID=""

echo "kills aimed per phase:  $(for p in "${phases[@]}"; do printf '%s=%s ' "$p" "${aimed[$p]:-0}"; done)"
echo "kills landed per phase: $(for p in "${!landed[@]}"; do printf '%s=%s ' "$p" "${landed[$p]}"; done)"
# A start that failed to open its store would have exited by itself (caught
# above); only kills aimed at the open may come before the store's open line.
opens=$(cat "$WORK"/recd-*.log | grep -cF "store $WORK/store open:" || true)
[ "$opens" -le "$starts" ] && [ "$opens" -ge "$((starts - ${aimed[open]:-0}))" ] ||
  fail "$opens store opens for $starts starts"
! grep -Ei "corrupt" "$WORK"/recd-*.log || fail "the store or a model file was found corrupt after a kill"
echo "$starts starts, $opens store opens, none refused"

"$RECCTL" stats --store "$WORK/store" >"$WORK/stats.json"
"$RECCTL" read -b "$BROKERS" -t recd.events.dlq --idle-ms 2000 >"$WORK/dlq.jsonl"
"$RECCTL" read -b "$BROKERS" -t recd.recommendations --idle-ms 2000 >"$WORK/lists.jsonl"
"$RECCTL" read -b "$BROKERS" -t recd.events --idle-ms 2000 >"$WORK/events-topic.jsonl"
"$BUILD/tests/e2e_check" --summary "$WORK/summary.json" --stats "$WORK/stats.json" \
  --dlq "$WORK/dlq.jsonl" --lists "$WORK/lists.jsonl" || exit 1
"$BUILD/tests/e2e_check" --newest-lists-after "$WORK/events-topic.jsonl" --dlq "$WORK/dlq.jsonl" \
  --lists "$WORK/lists.jsonl" || exit 1
owed=$(sed -n 's/^ *"pending_lists": *\([0-9]*\).*/\1/p' "$WORK/stats.json")
[ "$owed" = 0 ] || fail "the store still owes $owed users a list after a clean stop"

# The registry: complete versions only, no leftovers, LATEST on a complete one.
for entry in "$WORK/models"/* "$WORK/models"/.[!.]*; do
  [ -e "$entry" ] || continue
  name=$(basename "$entry")
  case $name in
    LATEST|ranker) ;;
    v[0-9][0-9][0-9][0-9])
      for f in model.json model.pt items.txt embeddings.f32 ann.hnsw; do
        [ -s "$entry/$f" ] || fail "registry version $name has no $f"
      done ;;
    *) fail "registry holds a leftover: $name" ;;
  esac
done
latest=$(cat "$WORK/models/LATEST")
[ -d "$WORK/models/$latest" ] || fail "LATEST names $latest, which is not in the registry"
recorded=$(sed -n 's/^ *"active_model_version": *"\([^"]*\)".*/\1/p' "$WORK/stats.json")
promotions=$(cat "$WORK"/recd-*.log | grep -c "promoted" || true)
echo "registry: $(ls "$WORK/models" | tr '\n' ' '); LATEST $latest; the store records $recorded; $serving served last; $promotions promotion log lines"
[ -n "$serving" ] && [ "$recorded" = "$serving" ] || fail "the store records '$recorded' but '$serving' served after the last start"
echo "chaos: all checks passed"
