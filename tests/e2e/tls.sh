#!/usr/bin/env bash
# TLS against a real Apache Kafka broker (issue 17, security): the broker has an
# SSL listener whose certificate (naming 127.0.0.1) a throwaway CA signs
# (scripts/kafka.sh, KAFKA_TLS=1). recd, with the CA under [kafka.client],
# creates its topics, consumes, publishes its lists and dead letters there;
# recgen and recctl connect with -X. With another CA recd stops at start, at
# once, with a message naming ssl.ca.location. Skipped (77) where openssl is
# missing.
# usage: tls.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
command -v openssl >/dev/null || { echo "SKIP: openssl is not installed"; exit 77; }
. "$SRC/tests/e2e/lib.sh"
LOG="$WORK/recd.log"
fail() { echo "FAIL: $*"; tail -30 "$LOG"; exit 1; }

KAFKA_TLS=1 start_broker
TLS=$(cat "$WORK/kafka/bootstrap_tls")
CA="$WORK/kafka/tls/ca.pem"
echo "SSL listener on $TLS"
tls=(-X security.protocol=SSL -X "ssl.ca.location=$CA")
client() {  # recd's --set arguments trusting the CA in $1
  echo --set 'kafka.client."security.protocol"=SSL' --set "kafka.client.\"ssl.ca.location\"=$1"
}

# A CA that did not sign the broker's certificate: refused at start, with the fix in the message.
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/other.key" -out "$WORK/other.pem" -days 1 \
  -subj /CN=other-ca >/dev/null 2>&1
BROKERS=$TLS
t0=$(date +%s)
# shellcheck disable=SC2046
start_recd "$LOG" $(client "$WORK/other.pem")
wait "$RECD_PID" && fail "recd started trusting the wrong CA"
RECD_PID=""
grep -q "TLS handshake with kafka.*failed.*ssl.ca.location" "$LOG" || fail "no message naming ssl.ca.location"
echo "wrong CA: recd stopped after $(( $(date +%s) - t0 )) s: $(grep -o "the TLS handshake with kafka.*" "$LOG" | head -1 | cut -c1-160)"

# The right one: everything flows through the SSL listener.
"$BUILD/tools/recgen" --seed 43 --events 10000 --users 800 --items 300 --malformed-fraction 0.01 \
  -b "$TLS" "${tls[@]}" --summary "$WORK/summary.json" >"$WORK/recgen.log" 2>&1 || { cat "$WORK/recgen.log"; exit 1; }
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
LOG="$WORK/recd-2.log"
# shellcheck disable=SC2046
start_recd "$LOG" $(client "$CA")
wait_total "$lines" 120 || fail "not every event was applied over TLS"
stop_recd
"$BUILD/tools/recctl" stats --store "$WORK/store" >"$WORK/stats.json"
"$BUILD/tools/recctl" read -b "$TLS" "${tls[@]}" -t recd.events.dlq --idle-ms 2000 >"$WORK/dlq.jsonl"
"$BUILD/tools/recctl" read -b "$TLS" "${tls[@]}" -t recd.recommendations --idle-ms 2000 >"$WORK/lists.jsonl"
"$BUILD/tests/e2e_check" --summary "$WORK/summary.json" --stats "$WORK/stats.json" \
  --dlq "$WORK/dlq.jsonl" --lists "$WORK/lists.jsonl"
