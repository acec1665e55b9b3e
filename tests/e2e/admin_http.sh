#!/usr/bin/env bash
# The admin HTTP server and the pull API on a live recd, against a real Apache
# Kafka broker, with curl (issue 16):
#   - /metrics parses with promtool (when installed: Debian's prometheus);
#   - GET /v1/users/{id}/recommendations answers each user's newest list on the
#     topic, in order; an unknown user gets the cold-start list; paging, the
#     category filter and bad parameters;
#   - 404 and 405 are JSON naming the routes;
#   - a client that connects and sends nothing, and one that never finishes its
#     headers, delay neither /metrics nor SIGTERM;
#   - GET /v1/items/{id}/similar (co-occurrence: no model here) and
#     GET /v1/users/{id}, through recctl too; unknown ids 404;
#   - POST /v1/checkpoint (token) writes a copy of the store, and the restart
#     runs on that copy: a known user's list is made on demand (an empty shelf).
# usage: admin_http.sh BUILD_DIR SRC_DIR
BUILD=$(cd "$1" && pwd); SRC=$(cd "$2" && pwd)
command -v curl >/dev/null || { echo "SKIP: curl is not installed (scripts/setup.sh installs it)"; exit 77; }
. "$SRC/tests/e2e/lib.sh"
LOG="$WORK/recd.log"
fail() { echo "FAIL: $*"; tail -30 "$LOG"; exit 1; }
get() {  # get PATH: the body in $WORK/body, the status code printed
  curl -s -o "$WORK/body" -w '%{http_code}' "http://127.0.0.1:$port$1"
}

start_broker
"$BUILD/tools/recgen" --seed 17 --events 20000 --users 1000 --items 400 --malformed-fraction 0.01 \
  -b "$BROKERS" --summary "$WORK/summary.json" >"$WORK/recgen.log" 2>&1 || { cat "$WORK/recgen.log"; exit 1; }
lines=$(sed -n 's/^ *"lines": *\([0-9]*\).*/\1/p' "$WORK/summary.json")
printf 'e2e-admin-token-0123456789\n' >"$WORK/token"; chmod 600 "$WORK/token"
start_recd "$LOG" --set pipeline.shutdown_timeout_ms=5000 --set admin.read_timeout_ms=60000 --set "admin.token_file=\"$WORK/token\""
port=$(admin_port "$LOG") || exit 1
wait_total "$lines" 180 || fail "not every event was applied"

# Two stalled clients, held open through everything below and the stop.
exec 5<>"/dev/tcp/127.0.0.1/$port"
exec 6<>"/dev/tcp/127.0.0.1/$port"
printf 'GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n' >&6

[ "$(get /metrics)" = 200 ] || fail "/metrics with stalled clients connected"
if command -v promtool >/dev/null; then
  promtool check metrics <"$WORK/body" || fail "promtool check metrics refused /metrics"
  echo "promtool check metrics: OK"
else
  echo "promtool not installed: /metrics not linted"
fi
[ "$(get /v1/status)" = 200 ] || fail "/v1/status"
grep -q '"events_applied":' "$WORK/body" && grep -q '"version":' "$WORK/body" || fail "/v1/status lacks fields: $(cat "$WORK/body")"
[ "$(get /v1/nothing)" = 404 ] || fail "an unknown route"
grep -q '"error":"not_found"' "$WORK/body" && grep -q 'GET /v1/users/{id}/recommendations' "$WORK/body" || fail "404 body: $(cat "$WORK/body")"
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X DELETE "http://127.0.0.1:$port/v1/status")
[ "$code" = 405 ] && grep -q '"error":"method_not_allowed"' "$WORK/body" || fail "DELETE /v1/status: $code $(cat "$WORK/body")"
[ "$(get '/v1/users/u1/recommendations?k=abc')" = 400 ] || fail "a bad k"

# Settled: nothing due, nothing in flight; then every sampled user's pulled
# list is their newest on the topic.
settled=0
for _ in $(seq 1 300); do
  [ "$(metric "$port" recd_lists_due)" = 0 ] && { settled=1; break; }
  sleep 0.2
done
[ "$settled" = 1 ] || fail "lists still due after a minute"
sleep 2
"$BUILD/tools/recctl" read -b "$BROKERS" -t recd.recommendations --idle-ms 2000 >"$WORK/lists.jsonl"
# (awk, not head: an early exit would SIGPIPE the pipeline under pipefail)
users=$(grep -o '"key":"[^"]*"' "$WORK/lists.jsonl" | cut -d'"' -f4 | sort -u | awk 'NR <= 200')
[ -n "$users" ] || fail "no lists on the topic"
: >"$WORK/pulled.jsonl"
for u in $users; do
  [ "$(get "/v1/users/$u/recommendations")" = 200 ] || fail "GET $u: $(cat "$WORK/body")"
  cat "$WORK/body" >>"$WORK/pulled.jsonl"
done
"$BUILD/tests/e2e_check" --lists "$WORK/lists.jsonl" --pulled "$WORK/pulled.jsonl" || fail "pulled lists differ from the topic"

# Paging and filters on one user's list.
u=$(awk 'NR == 1' <<<"$users")
get "/v1/users/$u/recommendations" >/dev/null
all=$(grep -o '"item_id":"[^"]*"' "$WORK/body" | cut -d'"' -f4 | tr '\n' ' ')
listed=$(wc -w <<<"$all")
get "/v1/users/$u/recommendations?k=2&offset=1" >/dev/null
page=$(grep -o '"item_id":"[^"]*"' "$WORK/body" | cut -d'"' -f4 | tr '\n' ' ')
[ "$page" = "$(cut -d' ' -f2-3 <<<"$all") " ] || fail "offset 1, k 2 of [$all] gave [$page]"
first=$(cut -d' ' -f1 <<<"$all")
get "/v1/users/$u/recommendations?exclude=$first" >/dev/null
grep -q "\"item_id\":\"$first\"" "$WORK/body" && fail "exclude=$first still lists it"
# Past the published list: ranked deeper on demand, not shelved.
[ "$(get "/v1/users/$u/recommendations?k=$((listed + 20))")" = 200 ] || fail "a deeper page: $(cat "$WORK/body")"
deep=$(grep -o '"item_id":"[^"]*"' "$WORK/body" | cut -d'"' -f4)
[ "$(wc -l <<<"$deep")" -gt "$listed" ] || fail "k=$((listed + 20)) gave $(wc -l <<<"$deep") items, no deeper than the list's $listed"
[ "$(sort -u <<<"$deep" | wc -l)" = "$(wc -l <<<"$deep")" ] || fail "the deeper list repeats items"
[ "$(awk -v n="$listed" 'NR <= n' <<<"$deep" | tr '\n' ' ')" = "$all" ] || fail "the deeper list does not begin with the published one"
grep -q '"published":false' "$WORK/body" || fail "a deeper list is marked published"
get "/v1/users/$u/recommendations" >/dev/null
grep -q '"published":true' "$WORK/body" || fail "a deeper page replaced the shelved list"
echo "a deeper page: $(wc -l <<<"$deep") items where the published list holds $listed"
category=$(grep -ho '"category":"[^"]*"' "$WORK/pulled.jsonl" | cut -d'"' -f4 | awk 'NR == 1')
[ -n "$category" ] || fail "no pulled item carries its category (recgen's items have one)"
pulled_with=$(grep -o "\"category\":\"$category\"" "$WORK/pulled.jsonl" | wc -l)
# A category page holds only that category, and at least what the published
# list held of it (up to k): a thin list is ranked deeper.
: >"$WORK/filtered.jsonl"
for user in $users; do
  get "/v1/users/$user/recommendations?k=5&category=$category" >/dev/null
  got=$(grep -o "\"category\":\"$category\"" "$WORK/body" | wc -l || true)
  had=$(grep "\"user_id\":\"$user\"" "$WORK/pulled.jsonl" | grep -o "\"category\":\"$category\"" | wc -l || true)
  [ "$got" -le 5 ] && [ "$got" -ge "$(( had < 5 ? had : 5 ))" ] ||
    fail "category=$category&k=5 for $user: $got items where the published list held $had: $(cat "$WORK/body")"
  cat "$WORK/body" >>"$WORK/filtered.jsonl"
done
others=$(grep -o '"category":"[^"]*"' "$WORK/filtered.jsonl" | grep -vc "\"$category\"" || true)
kept=$(grep -o "\"category\":\"$category\"" "$WORK/filtered.jsonl" | wc -l)
[ "$others" = 0 ] || fail "category=$category: $others items of other categories"
echo "category=$category&k=5: $kept items over $(awk 'END { print NR }' "$WORK/filtered.jsonl") users (the published lists held $pulled_with), none of another"
# recctl's view of the same: a table, or the daemon's JSON.
"$BUILD/tools/recctl" recommend "$u" --k 3 --admin "127.0.0.1:$port" >"$WORK/recctl.txt" || fail "recctl recommend"
grep -q "^user $u: personalized list" "$WORK/recctl.txt" && [ "$(grep -c '^ *[0-9]  ' "$WORK/recctl.txt")" = 3 ] ||
  fail "recctl recommend: $(cat "$WORK/recctl.txt")"
"$BUILD/tools/recctl" recommend "$u" --offset 1 --k 2 --json --admin "127.0.0.1:$port" >"$WORK/recctl.json"
[ "$(grep -o '"item_id":"[^"]*"' "$WORK/recctl.json" | cut -d'"' -f4 | tr '\n' ' ')" = "$page" ] ||
  fail "recctl recommend --offset 1 --k 2: $(cat "$WORK/recctl.json")"
"$BUILD/tools/recctl" status --admin "127.0.0.1:$port" | grep -q "^events_applied " || fail "recctl status"
[ "$(get /v1/users/nobody-at-all/recommendations)" = 200 ] && grep -q '"source":"cold_start"' "$WORK/body" ||
  fail "an unknown user: $(cat "$WORK/body")"
grep -q '"item_id"' "$WORK/body" || fail "the cold-start list is empty"

# Related items (co-occurrence without a model) and a user's profile.
item=$(grep -o '"item_id":"[^"]*"' "$WORK/pulled.jsonl" | cut -d'"' -f4 | awk 'NR == 1')
[ "$(get "/v1/items/$item/similar?k=5")" = 200 ] || fail "similar items of $item: $(cat "$WORK/body")"
grep -q '"source":"co_occurrence"' "$WORK/body" || fail "similar items without a model: $(cat "$WORK/body")"
related=$(grep -o '"item_id":"[^"]*"' "$WORK/body" | cut -d'"' -f4 | grep -vx "$item" | wc -l)
[ "$related" -ge 1 ] && [ "$related" -le 5 ] || fail "similar ?k=5 of $item gave $related other items: $(cat "$WORK/body")"
[ "$(grep -o "\"item_id\":\"$item\"" "$WORK/body" | wc -l)" = 1 ] || fail "$item is listed as similar to itself"
[ "$(get "/v1/items/$item/similar?k=50&category=$category")" = 200 ] || fail "similar with a category"
[ "$(grep -o '"category":"[^"]*"' "$WORK/body" | grep -vc "\"$category\"" || true)" = 0 ] ||
  fail "similar ?category=$category lists other categories: $(cat "$WORK/body")"
[ "$(get /v1/items/no-such-item/similar)" = 404 ] || fail "similar items of an unknown item"
[ "$(get "/v1/users/$u")" = 200 ] || fail "GET /v1/users/$u: $(cat "$WORK/body")"
grep -q '"interactions":[1-9]' "$WORK/body" && grep -q '"published":true' "$WORK/body" ||
  fail "the profile of $u: $(cat "$WORK/body")"
[ "$(get /v1/users/nobody-at-all)" = 404 ] || fail "the profile of an unknown user"
"$BUILD/tools/recctl" similar "$item" --k 3 --admin "127.0.0.1:$port" >"$WORK/recctl.txt" &&
  grep -q "^item $item: [1-3] related items by co-occurrence" "$WORK/recctl.txt" || fail "recctl similar: $(cat "$WORK/recctl.txt")"
"$BUILD/tools/recctl" user "$u" --admin "127.0.0.1:$port" >"$WORK/recctl.txt" &&
  grep -q "^user $u: [1-9][0-9]* interactions" "$WORK/recctl.txt" || fail "recctl user: $(cat "$WORK/recctl.txt")"

# A checkpoint of the live store: refused without the token, written with it.
code=$(curl -s -o "$WORK/body" -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/checkpoint?dir=$WORK/backup")
[ "$code" = 401 ] || fail "a checkpoint without the token: $code"
"$BUILD/tools/recctl" checkpoint "$WORK/backup" --token-file "$WORK/token" --admin "127.0.0.1:$port" >"$WORK/body" ||
  fail "recctl checkpoint: $(cat "$WORK/body")"
grep -q "\"dir\":\"$WORK/backup\"" "$WORK/body" && [ -f "$WORK/backup/CURRENT" ] || fail "no checkpoint in $WORK/backup: $(cat "$WORK/body")"
"$BUILD/tools/recctl" checkpoint "$WORK/backup" --token-file "$WORK/token" --admin "127.0.0.1:$port" 2>"$WORK/body" &&
  fail "a checkpoint over an existing directory was accepted"
grep -q 'exists' "$WORK/body" || fail "a checkpoint over an existing directory: $(cat "$WORK/body")"
[ "$("$BUILD/tools/recctl" committed --store "$WORK/backup")" = "$lines" ] || fail "the checkpoint does not hold every event"
echo "similar items, user profile and checkpoint: OK"

# SIGTERM with both stalled clients still connected (their read deadline is a minute away).
t0=$(date +%s)
kill -TERM "$RECD_PID"; wait "$RECD_PID" || fail "recd did not stop cleanly"
RECD_PID=""
took=$(( $(date +%s) - t0 ))
[ "$took" -le 12 ] || fail "the stop took $took s with stalled clients connected (shutdown_timeout_ms 5000)"
echo "SIGTERM with two stalled admin clients: stopped in $took s"
exec 5<&- 5>&- 6<&- 6>&-

# A restart on the checkpoint starts with an empty shelf: a known user's list is made on demand.
LOG="$WORK/recd-2.log"
start_recd "$LOG" --set "store.path=\"$WORK/backup\""
port=$(admin_port "$LOG") || exit 1
wait_status "$port" /readyz 200 60 || fail "not ready after the restart"
republished=$(metric "$port" recd_lists_published_total)
[ "$(get "/v1/users/$u/recommendations")" = 200 ] || fail "after the restart: $(cat "$WORK/body")"
grep -q '"item_id"' "$WORK/body" && ! grep -q '"source":"cold_start"' "$WORK/body" ||
  fail "after the restart $u got no list of their own: $(cat "$WORK/body")"
# A list left unacknowledged at the stop is republished at the start; otherwise it is made on demand.
[ "$republished" != 0 ] || grep -q '"published":false' "$WORK/body" ||
  fail "after the restart $u's list was not made on demand: $(cat "$WORK/body")"
[ "$(get "/v1/users/$u/recommendations")" = 200 ] || fail "asked again after the restart"
stop_recd
echo "admin HTTP end to end: OK"
