#!/usr/bin/env bash
# End to end against a real Apache Kafka broker: 100k generated events, 1% of them
# malformed, through recd. The store's per-type counts must equal what was
# produced, every malformed message must be in the DLQ with its reason, and every
# user with an event must have a list.  usage: pipeline.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
EVENTS=${E2E_EVENTS:-100000}

start_broker
start_recd "$WORK/recd.log"
port=$(admin_port "$WORK/recd.log") || { echo "no admin endpoint in the log"; exit 1; }
early=$(metric "$port" recd_prequential_positives_total)
# The events arrive while recd runs, paced over about ten seconds as a live shop
# sends them, so a user's later positives meet the list made from their earlier
# events. (Produced all before the start, they are applied in a second or two,
# before most users hold a list, and how many get scored is a race.)
"$BUILD/tools/recgen" --seed 7 --events "$EVENTS" --users 5000 --items 2000 --rate 10000 \
  --malformed-fraction 0.01 -b "$BROKERS" --summary "$WORK/summary.json"
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
wait_total "$lines" 300 || { tail -30 "$WORK/recd.log"; exit 1; }
# The prequential metrics move as events arrive: positives scored, some hits.
sleep 1
late=$(metric "$port" recd_prequential_positives_total)
hits=$(metric "$port" recd_prequential_hits_total)
hr=$(metric "$port" recd_prequential_hr_at_10)
without=$(metric "$port" recd_prequential_without_list_total)
echo "prequential on /metrics: positives $early -> $late, hits $hits, windowed HR@10 $hr, positives of users without a list $without"
awk -v a="$early" -v b="$late" -v h="$hits" 'BEGIN { exit !(b > a && b > 1000 && h > 0) }' ||
  { echo "prequential metrics did not move: positives $early -> $late, hits $hits"; exit 1; }
kill -TERM "$RECD_PID"; wait "$RECD_PID"; rc=$?; RECD_PID=""
[ "$rc" -eq 0 ] || { echo "recd exited with $rc after SIGTERM"; tail -30 "$WORK/recd.log"; exit 1; }
grep -q "stopped cleanly" "$WORK/recd.log" || { echo "no clean stop in the log"; exit 1; }

"$BUILD/tools/recctl" stats --store "$WORK/store" >"$WORK/stats.json"
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.events.dlq --idle-ms 2000 >"$WORK/dlq.jsonl"
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.recommendations --idle-ms 2000 >"$WORK/lists.jsonl"
"$BUILD/tests/e2e_check" --summary "$WORK/summary.json" --stats "$WORK/stats.json" \
  --dlq "$WORK/dlq.jsonl" --lists "$WORK/lists.jsonl"
