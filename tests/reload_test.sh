#!/usr/bin/env bash
# SIGHUP (`systemctl reload recd`): the file is read again; keys that can
# change live apply to the next list (here ranker.k 10 -> 5, seen through the
# pull API after the user's next event), each logged; a changed key that
# needs a restart is logged and not applied; a broken file is refused and
# recd runs on unchanged. The embedded cluster stands in for the brokers.
#   usage: reload_test.sh BUILD_DIR SOURCE_DIR
set -uo pipefail
BUILD=$1
fail() { echo "FAIL: $*"; tail -30 "$work/recd.log"; exit 1; }
while read -r name; do unset "$name"; done < <(compgen -e | grep '^RECD_.*__' || true)
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/setup.sh installs it)"; exit 77; }
work=$(mktemp -d)
recd=""
cleanup() { [ -n "$recd" ] && kill -9 "$recd" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
write_config() {  # K BATCH_MAX_EVENTS
  cat >"$work/recd.toml" <<TOML
[kafka]
embedded = true
embedded_bootstrap_file = "$work/bootstrap"
[store]
path = "$work/store"
[admin]
listen = "127.0.0.1:0"
[ranker]
k = $1
[pipeline]
batch_max_events = $2
TOML
}
get() { curl -s -o "$work/body" -w '%{http_code}' "http://127.0.0.1:$port$1"; }
field() { sed -n "s/.*\"$1\":\\([^,}]*\\).*/\\1/p" "$work/body"; }

write_config 10 10000
"$BUILD/daemon/recd" -c "$work/recd.toml" >"$work/recd.log" 2>&1 &
recd=$!
for _ in $(seq 300); do
  port=$(sed -n 's/.*admin endpoint on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$work/recd.log" | tail -1)
  [ -n "$port" ] && [ -s "$work/bootstrap" ] && break; sleep 0.1
done
[ -n "$port" ] || fail "no admin endpoint"
brokers=$(cat "$work/bootstrap")
"$BUILD/tools/recgen" --seed 5 --events 3000 --users 100 --items 200 -b "$brokers" >"$work/recgen.log" 2>&1 ||
  { cat "$work/recgen.log"; fail "recgen"; }
user=u7
for _ in $(seq 300); do
  [ "$(get "/v1/users/$user/recommendations")" = 200 ] && grep -q '"published":true' "$work/body" && break; sleep 0.2
done
grep -q '"published":true' "$work/body" || fail "$user has no published list: $(cat "$work/body")"
[ "$(field total)" = 10 ] || fail "$user's list holds $(field total) items with k = 10: $(cat "$work/body")"

# k 10 -> 5 (live), batch_max_events (restart only).
write_config 5 5000
kill -HUP "$recd"
for _ in $(seq 100); do grep -q 'reload: ranker.k 10 -> 5' "$work/recd.log" && break; sleep 0.1; done
grep -q "reload: ranker.k 10 -> 5 ($work/recd.toml:9)" "$work/recd.log" || fail "the reload of ranker.k was not logged"
grep -q 'reload: pipeline.batch_max_events changed (10000 -> 5000, .*) but needs a restart; not applied' "$work/recd.log" ||
  fail "the restart-only key was not named"
before=$(field generated_at)
now=$(date -u +%Y-%m-%dT%H:%M:%S.000Z)
printf '{"event_id":"reload-1","type":"click","user_id":"%s","item_id":"i3","ts":"%s"}\n' "$user" "$now" |
  "$BUILD/tools/recctl" produce -b "$brokers" - || fail "recctl produce"
for _ in $(seq 300); do
  get "/v1/users/$user/recommendations" >/dev/null
  [ "$(field generated_at)" != "$before" ] && grep -q '"published":true' "$work/body" && break; sleep 0.1
done
[ "$(field generated_at)" != "$before" ] || fail "no new list for $user after the event"
[ "$(field total)" = 5 ] || fail "the list after the reload holds $(field total) items, want 5: $(cat "$work/body")"

# A broken file: refused, recd runs on with k = 5.
printf '[ranker]\nk = "five"\n' >"$work/recd.toml"
kill -HUP "$recd"
for _ in $(seq 100); do grep -q 'reload refused' "$work/recd.log" && break; sleep 0.1; done
grep -q 'reload refused, the running configuration stays' "$work/recd.log" &&
  grep -q "ranker.k at $work/recd.toml:2 must be an integer" "$work/recd.log" || fail "the broken reload was not refused by name"
[ "$(get /healthz)" = 200 ] || fail "recd is not healthy after a refused reload"
kill -TERM "$recd"; wait "$recd"; rc=$?; recd=""
[ "$rc" = 0 ] || fail "recd exited with $rc"
echo "SIGHUP reload: OK"
