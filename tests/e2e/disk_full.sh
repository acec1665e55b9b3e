#!/usr/bin/env bash
# A full disk (issue 17, faults): recd's store lives on a small tmpfs of its own,
# and while events stream in through a real Apache Kafka broker the tmpfs is
# filled to the last byte. recd keeps running and stays live (/healthz 200),
# holds its batch uncommitted, reads no further, reports it (/readyz 503,
# recd_store_writable 0, recd_store_write_failures_total), and retries. When
# the filler is deleted it resumes by itself, and the counts, the dead letters
# and every user's list are exact.  usage: disk_full.sh BUILD_DIR SRC_DIR
# Needs root (or CAP_SYS_ADMIN) to mount the tmpfs; exits 77 (skipped) without.
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
. "$SRC/tests/e2e/lib.sh"
FULL_S=${FULL_S:-20}
LOG="$WORK/recd.log"
mkdir -p "$WORK/store"
# 48 MiB: RocksDB's write-ahead log asks to preallocate ~70 MiB (1.1 x the 64 MiB
# write buffer), which fails whole on a tmpfs this small, so each append takes
# real pages and a full disk shows at the next write, as on a real disk.
if ! mount -t tmpfs -o size=48m recd-e2e-disk "$WORK/store" 2>"$WORK/mount.err"; then
  echo "SKIPPED: cannot mount a tmpfs here ($(cat "$WORK/mount.err")): run as root to test a full disk"
  exit 77
fi
unmount_store() {
  [ -n "$RECD_PID" ] && kill -9 "$RECD_PID" 2>/dev/null || true
  umount -l "$WORK/store" 2>/dev/null || true
  cleanup
}
trap unmount_store EXIT
fail() { echo "FAIL: $*"; tail -40 "$LOG"; exit 1; }
start_broker
start_recd "$LOG"
port=$(admin_port "$LOG") || fail "no admin endpoint in the log"

"$BUILD/tools/recgen" --seed 41 --events 60000 --users 1500 --items 500 --malformed-fraction 0.01 --rate 1000 \
  -b "$BROKERS" --summary "$WORK/summary.json" >"$WORK/recgen.log" 2>&1 &
GEN_PID=$!
BACKGROUND_PIDS+=("$GEN_PID")
wait_total 3000 120 || fail "the first events were not applied"
wait_status "$port" /readyz 200 30 || fail "/readyz is not 200 before the disk fills"
[ "$(metric "$port" recd_store_writable)" = 1 ] || fail "recd_store_writable is not 1 before the disk fills"

dd if=/dev/zero of="$WORK/store/filler" bs=64k 2>/dev/null || true  # until "No space left on device"
full_at=$(date +%s)
echo "disk full: $(df -h "$WORK/store" | tail -1)"
wait_status "$port" /readyz 503 30 || fail "/readyz did not turn 503 within 30 s of the disk filling"
echo "/readyz 503 after $(( $(date +%s) - full_at )) s"
[ "$(metric "$port" recd_store_writable)" = 0 ] || fail "recd_store_writable did not drop"
wait_metric "$port" recd_store_write_failures_total 1 10 || fail "no refused write counted"
held=$(store_total)
sleep "$FULL_S"
kill -0 "$RECD_PID" 2>/dev/null || fail "recd exited on a full disk"
[ "$(http_status "$port" /healthz)" = 200 ] || fail "/healthz is not 200 on a full disk: the loop must keep turning"
[ "$(store_total)" = "$held" ] || fail "the store committed while the disk was full ($held, then $(store_total))"
failures=$(metric "$port" recd_store_write_failures_total)
echo "held at $held committed messages for ${FULL_S} s; $failures refused writes, retried with backoff"
kill -0 "$GEN_PID" 2>/dev/null || fail "the generator finished while the disk was full: it was not mid-stream"

rm -f "$WORK/store/filler"
freed_at=$(date +%s)
wait_status "$port" /readyz 200 60 || fail "/readyz did not turn 200 within 60 s of space returning"
echo "/readyz 200 again $(( $(date +%s) - freed_at )) s after space returned"
[ "$(metric "$port" recd_store_writable)" = 1 ] || fail "recd_store_writable is not 1 after space returned"
grep -q "the store takes writes again" "$LOG" || fail "no log line for the store's return"
wait "$GEN_PID" || { cat "$WORK/recgen.log"; fail "the generator failed"; }
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
wait_total "$lines" 300 || fail "not every event was applied after space returned"
stop_recd
check_exact
