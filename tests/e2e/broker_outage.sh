#!/usr/bin/env bash
# A broker outage (issue 17, faults), against a real Apache Kafka broker: while
# events stream in, the broker is stopped for OUTAGE_S (30) seconds and started
# again on the same address with its data. recd keeps running and stays live
# (/healthz 200) while /readyz answers 503 and recd_brokers_reachable drops;
# when the broker is back it turns ready again by itself, the backlog drains,
# and the counts, the dead letters and every user's list are exact, as if
# nothing had happened.  usage: broker_outage.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
OUTAGE_S=${OUTAGE_S:-30}
LOG="$WORK/recd.log"
fail() { echo "FAIL: $*"; tail -40 "$LOG"; exit 1; }
start_broker
# Static membership (lib.sh's group.instance.id): librdkafka 2.0.2 at times
# raises a fatal error (the member fenced) when the coordinator comes back; recd
# then replaces its consumer in place (recd_input_restarts_total) and rides on.
start_recd "$LOG"

port=$(admin_port "$LOG") || fail "no admin endpoint in the log"
# Events stream in before, during and after the outage: the generator's producer
# waits the outage out as recd's does.
"$BUILD/tools/recgen" --seed 31 --events 40000 --users 2000 --items 600 --malformed-fraction 0.01 --rate 800 \
  --flush-timeout-s 600 -b "$BROKERS" --summary "$WORK/summary.json" >"$WORK/recgen.log" 2>&1 &
GEN_PID=$!
BACKGROUND_PIDS+=("$GEN_PID")
wait_total 5000 120 || fail "the first events were not applied"
wait_status "$port" /readyz 200 30 || fail "/readyz is not 200 with the broker up"

"$SRC/scripts/kafka.sh" stop "$WORK/kafka"
down_at=$(date +%s)
echo "broker stopped"
wait_status "$port" /readyz 503 "$OUTAGE_S" || fail "/readyz did not turn 503 within ${OUTAGE_S} s of the outage"
echo "/readyz 503 after $(( $(date +%s) - down_at )) s"
[ "$(metric "$port" recd_brokers_reachable)" = 0 ] || fail "recd_brokers_reachable did not drop"
sleep "$(( OUTAGE_S - ($(date +%s) - down_at) > 0 ? OUTAGE_S - ($(date +%s) - down_at) : 0 ))"
kill -0 "$RECD_PID" 2>/dev/null || fail "recd exited during the outage"
[ "$(http_status "$port" /healthz)" = 200 ] || fail "/healthz is not 200 during the outage: the loop must keep turning"

kill -0 "$GEN_PID" 2>/dev/null || fail "the generator finished during the outage: it was not mid-stream"
BROKERS=$("$SRC/scripts/kafka.sh" restart "$WORK/kafka")
echo "broker back after $(( $(date +%s) - down_at )) s on $BROKERS"
wait_status "$port" /readyz 200 90 || fail "/readyz did not turn 200 within 90 s of the broker's return"
echo "/readyz 200 again $(( $(date +%s) - down_at )) s after the outage began"
wait "$GEN_PID" || { cat "$WORK/recgen.log"; fail "the generator failed"; }
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
wait_total "$lines" 300 || fail "not every event was applied after the outage"
stop_recd
grep -q "brokers reachable again" "$LOG" || fail "no log line for the brokers' return"
echo "consumers replaced after a fatal error: $(grep -c 'replacing the consumer' "$LOG" || true)"

check_exact
