#!/usr/bin/env bash
# recgen, recreplay and rectrain: determinism, formats, model directories and precise errors.
#   usage: tools_test.sh BUILD_DIR
set -euo pipefail
BUILD=$(cd "$1" && pwd)
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# recgen: the same seed gives the same bytes; another seed does not.
"$BUILD/tools/recgen" --seed 5 --events 2000 --users 50 --items 40 -o "$work/a.jsonl" 2>/dev/null
"$BUILD/tools/recgen" --seed 5 --events 2000 --users 50 --items 40 -o "$work/b.jsonl" 2>/dev/null
"$BUILD/tools/recgen" --seed 6 --events 2000 --users 50 --items 40 -o "$work/c.jsonl" 2>/dev/null
cmp -s "$work/a.jsonl" "$work/b.jsonl" || fail "recgen is not deterministic"
cmp -s "$work/a.jsonl" "$work/c.jsonl" && fail "recgen ignores --seed"
grep -q '"season":"winter"' "$work/a.jsonl" || fail "recgen catalogue lacks seasons"

# recgen: seasonal popularity — winter items take a larger share of interactions
# in Dec–Feb than in Jun–Aug, and summer items the other way round.
"$BUILD/tools/recgen" --seed 9 --events 40000 --users 300 --items 200 --days 365 \
  --start 2025-01-01T00:00:00Z --duplicate-fraction 0 -o "$work/year.jsonl" 2>/dev/null
read -r winter_in_winter winter_in_summer summer_in_winter summer_in_summer < <(awk '
  /"type":"item"/ { match($0, /"item_id":"[^"]*"/); id = substr($0, RSTART + 11, RLENGTH - 12)
                    match($0, /"season":"[a-z]*"/); season[id] = substr($0, RSTART + 10, RLENGTH - 11); next }
  /"item_id"/ { match($0, /"item_id":"[^"]*"/); id = substr($0, RSTART + 11, RLENGTH - 12)
                match($0, /"ts":"[0-9]*-[0-9]*/); m = substr($0, RSTART + 11, 2) + 0
                cold = (m == 12 || m <= 2); warm = (m >= 6 && m <= 8)
                if (season[id] == "winter") { ww += cold; ws += warm }
                if (season[id] == "summer") { sw += cold; ss += warm } }
  END { print ww, ws, sw, ss }' "$work/year.jsonl")
[ "$winter_in_winter" -gt $((winter_in_summer * 3 / 2)) ] ||
  fail "winter items: $winter_in_winter interactions in Dec-Feb vs $winter_in_summer in Jun-Aug"
[ "$summer_in_summer" -gt $((summer_in_winter * 3 / 2)) ] ||
  fail "summer items: $summer_in_summer interactions in Jun-Aug vs $summer_in_winter in Dec-Feb"

# recreplay: MovieLens u.data (tab, epoch seconds), sorted by time on output.
printf '196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n' >"$work/u.data"
"$BUILD/tools/recreplay" "$work/u.data" --id-prefix ml- -o "$work/ml.jsonl" 2>/dev/null
[ "$(wc -l <"$work/ml.jsonl")" = 3 ] || fail "u.data: expected 3 events"
head -1 "$work/ml.jsonl" | grep -q '"user_id":"ml-22".*"rating":1.0\|"rating":1.0.*"user_id":"ml-22"' || fail "u.data: not sorted by time or wrong fields: $(head -1 "$work/ml.jsonl")"
grep -q '"ts":"1997-12-04T15:55:49.000Z"' "$work/ml.jsonl" || fail "u.data: time not converted"

# ratings.dat ("::"), RecBole .inter (typed header), CSV with click/purchase flags.
printf '1::1193::5::978300760\n' >"$work/ratings.dat"
"$BUILD/tools/recreplay" "$work/ratings.dat" -o "$work/dat.jsonl" 2>/dev/null
grep -q '"item_id":"1193"' "$work/dat.jsonl" || fail "ratings.dat"
printf 'user_id:token\titem_id:token\ttimestamp:float\nu1\ti1\t1700000000\n' >"$work/x.inter"
"$BUILD/tools/recreplay" "$work/x.inter" -o "$work/inter.jsonl" 2>/dev/null
grep -q '"type":"click"' "$work/inter.jsonl" || fail ".inter without rating should be clicks"
printf 'customer_id,item_id,timestamp,click,purchase\nc1,i1,2024-05-01T10:00:00Z,1,1\nc2,i2,1714557600000,1,0\n' >"$work/x.csv"
"$BUILD/tools/recreplay" "$work/x.csv" -o "$work/csv.jsonl" 2>/dev/null
[ "$(grep -c '"type":"click"' "$work/csv.jsonl")" = 2 ] || fail "csv clicks"
[ "$(grep -c '"type":"purchase"' "$work/csv.jsonl")" = 1 ] || fail "csv purchases"

# A malformed file fails with file:line, what was wrong and what is accepted.
printf 'customer_id,item_id,timestamp,click,purchase\nc1,i1,noon,1,0\n' >"$work/bad.csv"
if out=$("$BUILD/tools/recreplay" "$work/bad.csv" -o "$work/bad.jsonl" 2>&1); then fail "bad csv accepted"; fi
echo "$out" | grep -q 'bad.csv:2: timestamp "noon"' || fail "unclear error: $out"

# rectrain: from an events file to versioned model directories; LATEST follows.
"$BUILD/tools/rectrain" --events "$work/a.jsonl" -o "$work/models" --epochs 2 --device cpu --dim 16 --hidden 16 \
  >"$work/train1.txt" 2>&1 || fail "rectrain: $(cat "$work/train1.txt")"
for f in model.pt model.json metrics.json items.txt embeddings.f32 ann.hnsw; do
  [ -s "$work/models/v0001/$f" ] || fail "rectrain: v0001/$f missing"
done
[ "$(cat "$work/models/LATEST")" = v0001 ] || fail "rectrain: LATEST is not v0001"
[ "$(wc -l <"$work/models/v0001/items.txt")" = 40 ] || fail "rectrain: expected 40 items in items.txt"
[ "$(stat -c %s "$work/models/v0001/embeddings.f32")" = $((40 * 16 * 4)) ] || fail "rectrain: embeddings.f32 size"
grep -q '"best_epoch"' "$work/models/v0001/metrics.json" || fail "rectrain: metrics.json lacks best_epoch"
"$BUILD/tools/rectrain" --events "$work/a.jsonl" -o "$work/models" --epochs 1 --device cpu --dim 16 --hidden 16 >/dev/null 2>&1 ||
  fail "rectrain: second run failed"
[ "$(cat "$work/models/LATEST")" = v0002 ] || fail "rectrain: LATEST did not move to v0002"
set +e
"$BUILD/tools/rectrain" --events "$work/nope.jsonl" -o "$work/models" >"$work/err.txt" 2>&1; rc=$?
set -e
[ "$rc" = 2 ] && grep -q "cannot read" "$work/err.txt" || fail "rectrain: a missing file should exit 2 with a reason (rc $rc): $(cat "$work/err.txt")"

# recd replay + receval --prequential: the evaluator recomputes the replay's own
# prequential figures from its lists alone (same positives, same hits).
"$BUILD/daemon/recd" replay --events "$work/a.jsonl" --lists-out "$work/lists.jsonl" --metrics-out "$work/m.csv" \
  --set daemon.log_level=warn >"$work/replay.txt" 2>&1 || fail "replay: $(cat "$work/replay.txt")"
"$BUILD/tools/receval" "$work/a.jsonl" --prequential --lists "$work/lists.jsonl" --json "$work/pq.json" \
  >"$work/pq.md" 2>&1 || fail "receval --prequential: $(cat "$work/pq.md")"
replay_hr=$(sed -n 's/.*prequential HR@10 \([0-9.]*\) NDCG@10 [0-9.]* over \([0-9]*\) positives.*/\1 \2/p' "$work/replay.txt")
eval_hr=$(awk -F'|' '/recd replay lists/ { split($5, a, " "); gsub(/ /, "", $3); printf "%.4f %s", a[1], $3; exit }' "$work/pq.md")
[ -n "$replay_hr" ] && [ "$replay_hr" = "$eval_hr" ] || fail "replay says '$replay_hr', receval says '$eval_hr'"
for m in popularity "recent popularity" item-kNN; do grep -q "| $m" "$work/pq.md" || fail "receval --prequential: no $m row"; done
head -1 "$work/m.csv" | grep -q '^window_start,positives,hits,hr_at_10' || fail "replay CSV header"

# receval --prequential on a hand-checked log: both protocols, two baselines'
# figures worked out by hand (docs/evaluation.md explains the protocols).
cat >"$work/hand.jsonl" <<'JSONL'
{"type":"click","user_id":"u1","item_id":"a","ts":"2025-01-01T00:01:00Z"}
{"type":"click","user_id":"u2","item_id":"b","ts":"2025-01-01T00:02:00Z"}
{"type":"click","user_id":"u2","item_id":"a","ts":"2025-01-01T00:03:00Z"}
{"type":"click","user_id":"u1","item_id":"b","ts":"2025-01-01T00:04:00Z"}
{"type":"purchase","user_id":"u1","item_id":"a","ts":"2025-01-01T00:05:00Z"}
{"type":"purchase","user_id":"u2","item_id":"c","ts":"2025-01-01T00:06:00Z"}
{"type":"click","user_id":"u1","item_id":"c","ts":"2025-01-01T00:07:00Z"}
JSONL
"$BUILD/tools/receval" "$work/hand.jsonl" --prequential --baselines recently-viewed,unseen-recent-popularity \
  >"$work/hand.md" 2>&1 || fail "receval on the hand log: $(cat "$work/hand.md")"
row() {  # row PROTOCOL MODEL: "scored no-list HR NDCG" from the protocol's table
  awk -F'|' -v p="$1" -v m="$2" '/^### protocol: / { cur = $0; sub(/^### protocol: /, "", cur) }
    cur == p && $2 == " " m " " { split($5, h, " "); split($6, n, " "); gsub(/ /, "", $3); gsub(/ /, "", $4)
                                  print $3, $4, h[1], n[1]; exit }' "$work/hand.md"
}
# Recently viewed. Positives: u1 buys a holding [b, a] (rank 2: 1/log2 3 = 0.6309);
# u2 buys c, which no list can hold yet. Discovery: hits at rank 2 for u2-a, u1-b and
# u1-c, the miss u2-c; u1-a and u2-b came before their users had a list.
[ "$(row positives "recently viewed")" = "2 0 0.5000 0.3155" ] || fail "recently viewed, positives: $(row positives "recently viewed")"
[ "$(row discovery "recently viewed")" = "4 2 0.7500 0.4732" ] || fail "recently viewed, discovery: $(row discovery "recently viewed")"
# Unseen recent popularity never lists a touched item: it misses both purchases,
# and lists u2-a, u1-b and u1-c first.
m="recent popularity (7-day half-life), unseen"
[ "$(row positives "$m")" = "2 0 0.0000 0.0000" ] || fail "unseen popularity, positives: $(row positives "$m")"
[ "$(row discovery "$m")" = "4 2 0.7500 0.7500" ] || fail "unseen popularity, discovery: $(row discovery "$m")"
"$BUILD/tools/receval" "$work/hand.jsonl" --prequential --baselines nope >/dev/null 2>"$work/err.txt" &&
  fail "receval accepted an unknown baseline"
grep -q "unknown baseline 'nope'" "$work/err.txt" || fail "unknown baseline: $(cat "$work/err.txt")"

# recgen --scenario shop: deterministic, every line valid, and each phenomenon present.
shop=(--scenario shop --seed 4 --users 200 --items 300 --events 20000 --days 120 --start 2025-10-01T00:00:00Z)
"$BUILD/tools/recgen" "${shop[@]}" -o "$work/shop.jsonl" --summary "$work/shop.json" 2>/dev/null
"$BUILD/tools/recgen" "${shop[@]}" -o "$work/shop2.jsonl" 2>/dev/null
cmp -s "$work/shop.jsonl" "$work/shop2.jsonl" || fail "recgen --scenario shop is not deterministic"
[ "$(wc -l <"$work/shop.jsonl")" = "$(awk '/"lines"/ { gsub(/[^0-9]/, ""); print }' "$work/shop.json")" ] || fail "shop: summary line count"
measured() { awk -v k="\"$1\"" '$1 == k":" { gsub(/,/, "", $2); print $2 }' "$work/shop.json"; }
check_share() {  # check_share KEY LOW HIGH
  local v; v=$(measured "$1")
  awk -v v="$v" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v != "" && v >= lo && v <= hi) }' || fail "shop: $1 = '$v', expected in [$2, $3]"
}
check_share share_views 0.9 0.99
check_share purchases_preceded_by_a_view_of_the_item 0.9 1
check_share repeat_views 0.1 0.6
check_share sessions_of_two_or_more_views 0.5 0.9
check_share share_sessions_anonymous 0.2 0.4
check_share share_interactions_on_items_released_after_start 0.02 0.5
check_share customer_interactions_matching_their_style 0.3 1
grep -q '"available":"false"' "$work/shop.jsonl" || fail "shop: no item sells out"
grep -q '"user_id":"anon' "$work/shop.jsonl" || fail "shop: no anonymous visitor"
"$BUILD/tools/receval" "$work/shop.jsonl" --prequential --baselines recently-viewed >"$work/shop.md" 2>&1 ||
  fail "receval on the shop log: $(cat "$work/shop.md")"

echo "tools_test: ok"
