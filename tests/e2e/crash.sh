#!/usr/bin/env bash
# Crash safety against a real broker: while events stream in, kill -9 recd at
# random moments (at least 5 times) and restart it. Counts must still be exact:
# nothing lost, nothing counted twice; every user still gets a list.
#   usage: crash.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
KILLS=${E2E_KILLS:-6}
RANDOM=${E2E_SEED:-$$}

start_broker
# Produce at a bounded rate so the kills land while recd is consuming.
"$BUILD/tools/recgen" --seed 11 --events 240000 --users 4000 --items 1500 \
  --malformed-fraction 0.01 --rate 6000 -b "$BROKERS" --summary "$WORK/summary.json" &
GEN_PID=$!
start_recd "$WORK/recd.log"
last=0
for k in $(seq 1 "$KILLS"); do
  # Kill only once this incarnation has committed something, so every kill lands
  # mid-stream; then at a random moment up to 0.8 s later.
  kill -0 "$GEN_PID" 2>/dev/null ||
    { echo "the generator finished before kill #$k: the kills would not land mid-stream"; exit 1; }
  wait_total "$((last + 1))" 60 || { tail -30 "$WORK/recd.log"; exit 1; }
  sleep "0.$((RANDOM % 800 + 100))"
  kill -9 "$RECD_PID"; wait "$RECD_PID" 2>/dev/null || true
  last=$(store_total)
  echo "kill -9 #$k: the store held $last committed messages"
  start_recd "$WORK/recd.log"
done
wait "$GEN_PID"
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
wait_total "$lines" 300 || { tail -30 "$WORK/recd.log"; exit 1; }
sleep 2  # a redelivered batch applied twice would show up as an over-count now
kill -TERM "$RECD_PID"; wait "$RECD_PID" || { echo "recd did not stop cleanly"; exit 1; }
RECD_PID=""
kills_seen=$(grep -c "store .* open:" "$WORK/recd.log")
[ "$kills_seen" -ge $((KILLS + 1)) ] || { echo "expected $((KILLS + 1)) starts, saw $kills_seen"; exit 1; }

"$BUILD/tools/recctl" stats --store "$WORK/store" >"$WORK/stats.json"
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.events.dlq --idle-ms 2000 >"$WORK/dlq.jsonl"
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.recommendations --idle-ms 2000 >"$WORK/lists.jsonl"
"$BUILD/tests/e2e_check" --summary "$WORK/summary.json" --stats "$WORK/stats.json" \
  --dlq "$WORK/dlq.jsonl" --lists "$WORK/lists.jsonl"
