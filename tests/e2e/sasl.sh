#!/usr/bin/env bash
# SASL against a real Apache Kafka broker (issue 17, security): the broker has a
# SASL_PLAINTEXT listener (mechanism PLAIN). recd, with the credentials under
# [kafka.client], creates its topics, consumes, publishes its lists and dead
# letters there; recgen and recctl connect with -X. With a wrong password recd
# stops at start, at once, with a message naming the credentials.
# usage: sasl.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
LOG="$WORK/recd.log"
fail() { echo "FAIL: $*"; tail -30 "$LOG"; exit 1; }

KAFKA_SASL=1 start_broker
SASL=$(cat "$WORK/kafka/bootstrap_sasl")
echo "SASL_PLAINTEXT listener on $SASL"
creds=(-X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=PLAIN -X sasl.username=recd -X sasl.password=recd-secret)
client() {  # recd's --set arguments for the password $1
  echo --set 'kafka.client."security.protocol"=SASL_PLAINTEXT' --set 'kafka.client."sasl.mechanism"=PLAIN' \
    --set 'kafka.client."sasl.username"=recd' --set "kafka.client.\"sasl.password\"=$1"
}

# A wrong password: refused at start, with the fix in the message.
BROKERS=$SASL
t0=$(date +%s)
# shellcheck disable=SC2046
start_recd "$LOG" $(client wrong-secret)
wait "$RECD_PID" && fail "recd started with a wrong password"
RECD_PID=""
grep -q "refused recd's credentials.*sasl.password" "$LOG" || fail "no message naming the credentials"
echo "wrong password: recd stopped after $(( $(date +%s) - t0 )) s: $(grep -o "refused recd's credentials.*" "$LOG" | head -1 | cut -c1-160)"

# The right one: everything flows through the SASL listener.
"$BUILD/tools/recgen" --seed 41 --events 10000 --users 800 --items 300 --malformed-fraction 0.01 \
  -b "$SASL" "${creds[@]}" --summary "$WORK/summary.json" >"$WORK/recgen.log" 2>&1 || { cat "$WORK/recgen.log"; exit 1; }
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
LOG="$WORK/recd-2.log"
# shellcheck disable=SC2046
start_recd "$LOG" $(client recd-secret)
wait_total "$lines" 120 || fail "not every event was applied over SASL"
sleep 3  # the last sweep publishes
kill -TERM "$RECD_PID"; wait "$RECD_PID" || fail "recd did not stop cleanly"
RECD_PID=""
"$BUILD/tools/recctl" stats --store "$WORK/store" >"$WORK/stats.json"
"$BUILD/tools/recctl" read -b "$SASL" "${creds[@]}" -t recd.events.dlq --idle-ms 2000 >"$WORK/dlq.jsonl"
"$BUILD/tools/recctl" read -b "$SASL" "${creds[@]}" -t recd.recommendations --idle-ms 2000 >"$WORK/lists.jsonl"
"$BUILD/tests/e2e_check" --summary "$WORK/summary.json" --stats "$WORK/stats.json" \
  --dlq "$WORK/dlq.jsonl" --lists "$WORK/lists.jsonl"
