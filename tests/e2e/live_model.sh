#!/usr/bin/env bash
# End to end with the PinSage model, against a real Apache Kafka broker: a model
# trained by rectrain serves recd's lists; the refresher re-embeds as events
# arrive; users' purchases are reflected in their next lists (the items gone, their
# related items up) within the freshness bound; similar items are published;
# the freshness histogram is exported.  usage: live_model.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
BOUND_MS=${E2E_FRESHNESS_BOUND_MS:-1000}

start_broker
"$BUILD/tools/recgen" --seed 11 --events 20000 --users 1000 --items 400 -o "$WORK/events.jsonl"
"$BUILD/tools/rectrain" --events "$WORK/events.jsonl" -o "$WORK/models" --device cpu --epochs 6 --max-batches 60 \
  >"$WORK/rectrain.log" 2>&1 || { cat "$WORK/rectrain.log"; exit 1; }
lines=$(wc -l <"$WORK/events.jsonl")
"$BUILD/tools/recctl" produce -b "$BROKERS" "$WORK/events.jsonl"
# Trending light: the check below follows the purchased item's embedding
# neighbours, which the shipped blend's trending weight can keep out of a
# 20-item list altogether (then nothing moves either way and nothing is shown).
start_recd "$WORK/recd.log" --set "model.dir=$WORK/models" --set model.device=cpu \
  --set model.session_trending=0.1 --set model.returning_trending=0.1
port=$(admin_port "$WORK/recd.log") || { echo "no admin endpoint in the log"; exit 1; }
wait_total "$lines" 300 || { tail -30 "$WORK/recd.log"; exit 1; }
sleep 3  # the last sweep publishes
[ "$(metric "$port" recd_model_active)" = 1 ] || { echo "the model is not active"; tail -30 "$WORK/recd.log"; exit 1; }

"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.recommendations --idle-ms 2000 >"$WORK/before.jsonl"
# Five users each buy an item of their list: one purchase alone can leave its
# related items tied (one up, one down), so their movement is judged over all five.
"$BUILD/tests/e2e_check" --pick 5 --lists "$WORK/before.jsonl" --summary "$WORK/events.jsonl" >"$WORK/picked.txt" ||
  { cat "$WORK/picked.txt"; exit 1; }
at_ms=$(date +%s%3N)
while read -r user item; do
  echo "{\"type\":\"purchase\",\"user_id\":\"$user\",\"item_id\":\"$item\",\"ts\":$at_ms}"
  echo "$user $item $at_ms" >>"$WORK/purchases.txt"
done <"$WORK/picked.txt" >"$WORK/purchases.jsonl"
"$BUILD/tools/recctl" produce -b "$BROKERS" "$WORK/purchases.jsonl"
sleep 3
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.recommendations --idle-ms 2000 >"$WORK/after.jsonl"
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.similar-items --idle-ms 2000 >"$WORK/similar.jsonl"
refreshed=$(metric "$port" recd_model_items_refreshed_total)
p50=$(metric "$port" recd_freshness_p50_seconds); p99=$(metric "$port" recd_freshness_p99_seconds)
echo "refresher: $refreshed item embeddings computed; freshness over the run p50 ${p50}s p99 ${p99}s;" \
  "$(wc -l <"$WORK/similar.jsonl") similar-items records"
[ "$(wc -l <"$WORK/similar.jsonl")" -gt 0 ] || { echo "no similar-items records"; exit 1; }
"$BUILD/tests/e2e_check" --purchases "$WORK/purchases.txt" --lists "$WORK/after.jsonl" --similar "$WORK/similar.jsonl" --bound-ms "$BOUND_MS"
kill -TERM "$RECD_PID"; wait "$RECD_PID"; rc=$?; RECD_PID=""
[ "$rc" -eq 0 ] || { echo "recd exited with $rc after SIGTERM"; tail -30 "$WORK/recd.log"; exit 1; }
grep -q "stopped cleanly" "$WORK/recd.log" || { echo "no clean stop in the log"; exit 1; }
