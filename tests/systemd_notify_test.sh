#!/usr/bin/env bash
# recd under a service manager's eyes: run with its own NOTIFY_SOCKET (a unix
# datagram socket, as systemd gives a Type=notify unit) and WATCHDOG_USEC, it
# must extend the start timeout while starting, say READY=1 once a partition
# is assigned, pet the watchdog while its loop turns, report STATUS= with
# partitions, lag and the model, and say STOPPING=1 on SIGTERM, then exit 0.
# The embedded cluster stands in for the brokers: this is recd's lifecycle.
#   usage: systemd_notify_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
BUILD=$1 SRC=$2
fail() { echo "FAIL: $*"; [ -f "$work/recd.log" ] && tail -20 "$work/recd.log"; [ -f "$work/notify.log" ] && cat "$work/notify.log"; exit 1; }
while read -r name; do unset "$name"; done < <(compgen -e | grep '^RECD_.*__' || true)
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; rm -rf "$work"; }
trap cleanup EXIT

"$BUILD/tests/notify_listener" "$work/notify.sock" >"$work/notify.log" &
pids+=($!)
for _ in $(seq 50); do [ -S "$work/notify.sock" ] && break; sleep 0.1; done
[ -S "$work/notify.sock" ] || fail "the listener did not bind"

NOTIFY_SOCKET=$work/notify.sock WATCHDOG_USEC=1000000 "$BUILD/daemon/recd" -c "$SRC/config/recd.toml" \
  --set kafka.embedded=true --set "store.path=\"$work/store\"" --set 'admin.listen=""' \
  --set pipeline.shutdown_timeout_ms=3000 >"$work/recd.log" 2>&1 &
recd=$!
pids+=($recd)
for _ in $(seq 300); do grep -q ' READY=1' "$work/notify.log" && break; sleep 0.1; done
grep -q ' READY=1' "$work/notify.log" || fail "no READY=1 within 30 s"
sleep 6  # a STATUS= report comes every 5 s, the watchdog every 0.5 s
kill -TERM "$recd"
for _ in $(seq 100); do kill -0 "$recd" 2>/dev/null || break; sleep 0.1; done
kill -0 "$recd" 2>/dev/null && fail "recd still runs 10 s after SIGTERM"
wait "$recd"; rc=$?
[ "$rc" -eq 0 ] || fail "recd exited with $rc after SIGTERM, want 0"
sleep 0.2

log=$work/notify.log
line_of() { grep -n -m1 -- "$1" "$log" | cut -d: -f1; }
extend=$(line_of 'EXTEND_TIMEOUT_USEC=30000000')
starting=$(line_of 'STATUS=starting: ')
ready=$(line_of ' READY=1')
stopping=$(line_of 'STOPPING=1')
[ -n "$extend" ] || fail "no EXTEND_TIMEOUT_USEC while starting"
[ -n "$starting" ] || fail "no STATUS=starting: ... while starting"
[ "$extend" -lt "$ready" ] || fail "EXTEND_TIMEOUT_USEC came only after READY=1"
grep -q 'READY=1|STATUS=consuming [1-9][0-9]* partition(s), lag ' "$log" || fail "READY=1 without a STATUS naming the assigned partitions"
[ -n "$stopping" ] && [ "$stopping" -gt "$ready" ] || fail "no STOPPING=1 after READY=1"
status_after=$(sed -n "$((ready + 1)),${stopping}p" "$log" | grep -c 'STATUS=consuming .* lists/s, [0-9]* due')
[ "$status_after" -ge 1 ] || fail "no periodic STATUS= report between READY=1 and STOPPING=1"
grep -q 'no model (co-occurrence ranker)' "$log" || fail "STATUS= does not name the serving model"
watchdogs=$(sed -n "${ready},${stopping}p" "$log" | grep -c 'WATCHDOG=1')
[ "$watchdogs" -ge 8 ] || fail "only $watchdogs WATCHDOG=1 in the 6 s between READY=1 and STOPPING=1 (want one every 0.5 s)"
sed -n "${stopping},\$p" "$log" | grep -q 'READY=1\|EXTEND_TIMEOUT' && fail "READY or EXTEND after STOPPING=1"
echo "sd_notify: OK ($(wc -l <"$log") messages, $watchdogs watchdog pets)"
