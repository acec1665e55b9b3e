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

echo "tools_test: ok"
