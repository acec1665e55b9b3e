#!/usr/bin/env bash
# Retention deleting records recd has not applied yet (issue 17, rule 1), on a
# real broker: recd is down while events arrive, and DeleteRecords (what
# retention does) moves every partition's log start past recd's stored offset.
# Before, recd went on from the new log start without a word. Now the default
# kafka.offset_rewind = "stop" refuses to start with a message naming the gap,
# and "reset" goes on and counts every lost record.
#   usage: retention.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"

start_broker
# gen SEED EVENTS: produces a generated stream, prints how many records it wrote.
gen() {
  "$BUILD/tools/recgen" --seed "$1" --events "$2" --users 300 --items 200 -b "$BROKERS" \
    --summary "$WORK/summary-$1.json" >/dev/null
  sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary-$1.json"
}

first=$(gen 1 3000)
start_recd "$WORK/recd.log"
wait_total "$first" 120 || { tail -30 "$WORK/recd.log"; exit 1; }
kill -TERM "$RECD_PID"; wait "$RECD_PID" || true; RECD_PID=""

# While recd is down: records it never sees, then retention deletes them all.
missed=$(gen 2 2000)
echo '{"version":1,"partitions":[' \
  '{"topic":"recd.events","partition":0,"offset":-1},{"topic":"recd.events","partition":1,"offset":-1},' \
  '{"topic":"recd.events","partition":2,"offset":-1},{"topic":"recd.events","partition":3,"offset":-1}]}' \
  >"$WORK/delete.json"
"$SRC/scripts/kafka.sh" tool org.apache.kafka.tools.DeleteRecordsCommand --bootstrap-server "$BROKERS" \
  --offset-json-file "$WORK/delete.json"
later=$(gen 3 1000)
echo "applied $first records; $missed deleted unread; $later after the deletion"

# The default rule: recd stops, applies nothing, and says what happened and what to do.
start_recd "$WORK/recd-stop.log"
rc=0; wait "$RECD_PID" || rc=$?; RECD_PID=""
[ "$rc" -ne 0 ] || { echo "recd should refuse to go on past records retention deleted"; tail -20 "$WORK/recd-stop.log"; exit 1; }
grep -q 'were deleted by retention before recd applied them' "$WORK/recd-stop.log" &&
  grep -q 'kafka.offset_rewind = "reset"' "$WORK/recd-stop.log" ||
  { echo "no message naming the gap and the fix"; tail -20 "$WORK/recd-stop.log"; exit 1; }
have=$(store_total)
[ "$have" -eq "$first" ] || { echo "the store holds $have records, expected $first: something was applied"; exit 1; }

# reset: recd goes on from the log start and counts what it lost.
start_recd "$WORK/recd-reset.log" --set kafka.offset_rewind=reset
port=$(admin_port "$WORK/recd-reset.log") || exit 1
wait_total "$((first + later))" 120 || { tail -30 "$WORK/recd-reset.log"; exit 1; }
lost=$(metric "$port" recd_records_lost_to_retention_total)
[ "$lost" = "$missed" ] || { echo "recd_records_lost_to_retention_total is $lost, expected $missed"; exit 1; }
kill -TERM "$RECD_PID"; wait "$RECD_PID"; RECD_PID=""
echo "retention: the stop rule refused with a message; reset counted $lost lost records of $missed"
