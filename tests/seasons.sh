#!/usr/bin/env bash
# Seasonal retraining, replayed in event time: a shop whose summer and winter
# items switch sharply on 1 April and 1 October (recgen --scenario seasons),
# two years from 1 April. One model is trained on the first six weeks; then the
# same replay runs with retraining on (seasonal recall on) and with that model
# frozen. Checked at each change to winter, on weekly prequential HR@10:
#   - HR@10 dips in the first week of the change;
#   - with retraining it is back to >= 90% of its level before the change
#     within one retrain interval;
#   - frozen, it stays lower over the weeks after the change;
#   - the second winter recovers faster than the first (seasonal recall).
# usage: seasons.sh BUILD_DIR [WORK_DIR]
#   SEASONS_EVENTS / _USERS / _ITEMS size the shop (the test's defaults are small).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/recd-seasons.XXXXXX")}
[ -n "${2:-}" ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK"
EVENTS=${SEASONS_EVENTS:-60000}; USERS=${SEASONS_USERS:-600}; ITEMS=${SEASONS_ITEMS:-500}
INTERVAL_DAYS=14
events="$WORK/seasons.jsonl"
"$BUILD/tools/recgen" --seed "${SEASONS_SEED:-11}" --scenario seasons --start 2025-04-01T00:00:00Z --days 730 \
  --events "$EVENTS" --users "$USERS" --items "$ITEMS" --duplicate-fraction 0 -o "$events" 2>/dev/null
"$BUILD/tools/rectrain" --events "$events" --until 2025-05-15T00:00:00Z -o "$WORK/init" --device cpu \
  --pair-window-hours 336 --epochs 10 >"$WORK/rectrain.log" 2>&1 || { cat "$WORK/rectrain.log"; exit 1; }

replay() {  # replay NAME [--set ...]
  local name=$1; shift
  rm -rf "$WORK/models-$name"; cp -r "$WORK/init" "$WORK/models-$name"
  "$BUILD/daemon/recd" replay --events "$events" --metrics-out "$WORK/$name.csv" --window-hours 168 \
    --set "model.dir=$WORK/models-$name" --set model.device=cpu --set 'daemon.log_level="warn"' "$@" \
    >"$WORK/$name.out" 2>&1 || { tail -20 "$WORK/$name.out"; exit 1; }
  grep "^replayed" "$WORK/$name.out" | sed "s/^/$name: /"
}
replay frozen
replay retrain --plot "$WORK/retrain.png" --set retrain.enabled=true --set "retrain.interval_days=$INTERVAL_DAYS" \
  --set retrain.pair_window_hours=336 --set retrain.epochs=10
grep -E "^model: " "$WORK/retrain.out"
[ -s "$WORK/retrain.png" ] || { echo "no plot drawn"; exit 1; }

# hr CSV FROM UNTIL: HR@10 pooled over the weekly windows starting in [FROM, UNTIL).
hr() {
  awk -F, -v from="$2" -v until="$3" 'NR > 1 && $1 >= from && $1 < until { p += $2; h += $3 }
    END { printf "%.4f\n", p ? h / p : 0 }' "$1"
}
status=0
check() {  # check DESCRIPTION CONDITION(awk expression over the variables)
  if awk "BEGIN { exit !($2) }"; then echo "ok:   $1"; else echo "FAIL: $1"; status=1; fi
}
first_recovery=""
for change in 2025-10-01 2026-10-01; do
  year=${change%%-*}
  before=$(date -u -d "$change - 28 days" +%F); week1=$(date -u -d "$change + 7 days" +%F)
  within=$(date -u -d "$change + $INTERVAL_DAYS days" +%F); after=$(date -u -d "$change + 56 days" +%F)
  # Windows are picked by their start (weekly, epoch-aligned: Thursdays): the
  # level from the four weeks before the change, the dip from the first week from it.
  level=$(hr "$WORK/retrain.csv" "$before" "$(date -u -d "$change - 6 days" +%F)")
  dip=$(hr "$WORK/retrain.csv" "$change" "$week1")
  back=$(hr "$WORK/retrain.csv" "$within" "$(date -u -d "$change + $INTERVAL_DAYS days + 7 days" +%F)")
  on=$(hr "$WORK/retrain.csv" "$change" "$after"); off=$(hr "$WORK/frozen.csv" "$change" "$after")
  recovery=$(hr "$WORK/retrain.csv" "$change" "$within")
  echo "winter $year: level before $level, first week $dip, the week after one interval $back;" \
       "8 weeks after: retraining $on, frozen $off; first $INTERVAL_DAYS days $recovery"
  check "winter $year: HR@10 dips at the change ($dip < 0.7 x $level)" "$dip < 0.7 * $level"
  check "winter $year: back to >= 90% within one retrain interval ($back >= 0.9 x $level)" "$back >= 0.9 * $level"
  check "winter $year: frozen stays lower ($off < $on)" "$off < $on"
  if [ -z "$first_recovery" ]; then first_recovery=$recovery; else
    check "the second winter recovers faster than the first ($recovery > $first_recovery over the first $INTERVAL_DAYS days)" \
      "$recovery > $first_recovery"
  fi
done
total_on=$(awk -F, 'NR > 1 { p += $2; h += $3 } END { printf "%.4f", h / p }' "$WORK/retrain.csv")
total_off=$(awk -F, 'NR > 1 { p += $2; h += $3 } END { printf "%.4f", h / p }' "$WORK/frozen.csv")
echo "two years: retraining $total_on, frozen $total_off ($(awk "BEGIN { printf \"%+.1f%%\", 100 * ($total_on / $total_off - 1) }"))"
exit $status
