#!/usr/bin/env bash
# Id flood (issue 17, bounded memory): FLOOD_SESSIONS (default 1,000,000) clicks,
# each by a new random session id, spread through a steady stream of 2,000 real
# users' 100,000 events, all through a real Apache Kafka broker, with
# store.max_users = FLOOD_MAX_USERS (50,000). Every 2 s it samples recd's RSS.
# It fails when
#   - RSS passes FLOOD_MAX_RSS MiB (500, with store.memtable_budget_mb = 64)
#     at any sample;
#   - the store holds more than the cap and its 1/16 slack of live users
#     (sampled, and at the end), or an id space beyond that and one batch's new
#     users (freed ids are not reused);
#   - fewer users were evicted than the flood's excess over the cap;
#   - anything is lost or counted twice: per-type counts, the edges left plus
#     those evicted, the DLQ, a list for every user the store still holds
#     (e2e_check). An evicted user may have none: evicted while its list was
#     due, as ranking falls more than the cap of users behind such a flood.
# That the real users' lists are unchanged by an evicted flood is shown
# exactly, in event time, by ReplayTest.AnEvictedSessionFloodLeavesRealUsersListsAsWithoutIt.
# usage: flood.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
FLOOD_SESSIONS=${FLOOD_SESSIONS:-1000000}
FLOOD_MAX_USERS=${FLOOD_MAX_USERS:-50000}
FLOOD_MAX_RSS=${FLOOD_MAX_RSS:-500}
# RocksDB's write buffers have a cap of their own (store.memtable_budget_mb,
# 512 MiB by default), which a flood of writes fills: held at 64 MiB here, so
# that the bound measures what the users cost.
FLOOD_RECD_ARGS=${FLOOD_RECD_ARGS:---set store.memtable_budget_mb=64}
LOG="$WORK/recd.log"
RECCTL="$BUILD/tools/recctl"
fail() { echo "FAIL: $*"; tail -40 "$LOG"; exit 1; }
start_broker

start_recd "$LOG" --set "store.max_users=$FLOOD_MAX_USERS" $FLOOD_RECD_ARGS
port=$(admin_port "$LOG") || fail "no admin endpoint in the log"
wait_status "$port" /readyz 200 120 || fail "recd did not turn ready"

"$BUILD/tools/recgen" --seed 29 --users 2000 --items 1500 --events 100000 --days 60 \
  --flood-sessions "$FLOOD_SESSIONS" -b "$BROKERS" --flush-timeout-s 600 \
  --summary "$WORK/summary.json" >"$WORK/recgen.log" 2>&1 &
GEN_PID=$!
BACKGROUND_PIDS+=("$GEN_PID")
start=$(date +%s)
echo "flood: $FLOOD_SESSIONS session ids among 2000 users' 100000 events; store.max_users = $FLOOD_MAX_USERS"
printf '%6s %9s %9s %9s %12s\n' t_s rss_mib users evicted memtable_mib | tee "$WORK/samples.txt"
sample() {
  kill -0 "$RECD_PID" 2>/dev/null || fail "recd stopped during the flood"
  printf '%6d %9s %9s %9s %12s\n' $(( $(date +%s) - start )) \
    "$(awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$RECD_PID/status")" \
    "$(metric "$port" recd_graph_users)" "$(metric "$port" recd_users_evicted_total)" \
    "$(( $(metric "$port" recd_store_memtable_bytes) >> 20 ))" | tee -a "$WORK/samples.txt"
}
while kill -0 "$GEN_PID" 2>/dev/null; do sleep 2; sample; done
wait "$GEN_PID" || { cat "$WORK/recgen.log"; fail "the generator failed"; }
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
while ! [ "$(store_total || echo 0)" -ge "$lines" ]; do
  [ $(( $(date +%s) - start )) -lt 900 ] || fail "not every event was applied"
  sleep 2; sample
done
# The last sessions' lists, then their eviction, drain with the sweeps.
for _ in $(seq 150); do [ "$(metric "$port" recd_lists_due)" = 0 ] && break; sleep 2; done
[ "$(metric "$port" recd_lists_due)" = 0 ] || fail "lists still due 300 s after the last event was applied"
sample
drained=$(( $(date +%s) - start ))
rss_max=$(awk 'NR > 1 && $2 > m { m = $2 } END { print m }' "$WORK/samples.txt")
rss_last=$(awk 'END { print $2 }' "$WORK/samples.txt")
stop_recd
"$RECCTL" stats --store "$WORK/store" >"$WORK/stats.json"
stat() { sed -n "s/^ *\"$1\": *\([0-9]*\).*/\1/p" "$WORK/stats.json"; }
users=$(stat users); user_ids=$(stat user_ids); evicted=$(stat evicted_users)
users_max=$(awk 'NR > 1 && $3 > m { m = $3 } END { print m }' "$WORK/samples.txt")
slack=$(( FLOOD_MAX_USERS + FLOOD_MAX_USERS / 16 ))
echo "flood: drained ${drained} s after the start; RSS max ${rss_max} MiB, last ${rss_last} MiB (bound ${FLOOD_MAX_RSS});" \
     "live users ${users} (max ${users_max}), user ids ${user_ids}, evicted ${evicted}"
awk -v r="$rss_max" -v b="$FLOOD_MAX_RSS" 'BEGIN { exit !(r < b) }' || fail "RSS reached ${rss_max} MiB (bound ${FLOOD_MAX_RSS})"
[ "$users_max" -le "$slack" ] || fail "$users_max live users at one sample, over the cap and its slack ($slack)"
[ "$users" -le "$slack" ] || fail "$users live users, over the cap and its slack ($slack)"
[ "$user_ids" -le $(( slack + 10000 + 1000 )) ] || fail "the user id space grew to $user_ids: freed ids are not reused"
[ "$evicted" -ge $(( FLOOD_SESSIONS + 2000 - slack )) ] || fail "only $evicted users evicted"
"$RECCTL" users --store "$WORK/store" >"$WORK/live_users.txt"
real_live=$(grep -cv '^anon-' "$WORK/live_users.txt" || true)
echo "flood: ${real_live} real users are in the store at the end; the others' last event was older than ${FLOOD_MAX_USERS} other users' (evicted)"
check_exact --live-users "$WORK/live_users.txt"
