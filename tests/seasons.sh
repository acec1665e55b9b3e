#!/usr/bin/env bash
# Seasonal retraining, replayed in event time: a shop whose summer and winter
# items switch sharply on 1 April and 1 October (recgen --scenario seasons),
# two years from 1 April. One model is trained on the first six weeks; then the
# same replay runs with retraining on (seasonal recall on) and with that model
# frozen. Checked at each change to winter, on weekly prequential HR@10:
#   - HR@10 dips in the first week of the change;
#   - with retraining it is back to >= 90% of its level before the change
#     within one retrain interval (recovery: the first week from which two
#     weeks' pooled HR@10 reaches 90% of the level of the four weeks before);
#   - frozen, it stays lower over the eight weeks after the change;
#   - the second winter recovers faster than the first (seasonal recall): over
#     the first retrain interval after the change, its HR@10 regains a larger
#     share of its level (weekly days-to-90% are too coarse to tell them apart).
# usage: seasons.sh BUILD_DIR [WORK_DIR]
#   SEASONS_EVENTS / _USERS / _ITEMS size the shop (the test's defaults are small).
set -euo pipefail
BUILD=$(cd "$1" && pwd)
WORK=${2:-$(mktemp -d "${TMPDIR:-/tmp}/recd-seasons.XXXXXX")}
[ -n "${2:-}" ] || trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK"
EVENTS=${SEASONS_EVENTS:-60000}; USERS=${SEASONS_USERS:-300}; ITEMS=${SEASONS_ITEMS:-400}
INTERVAL_DAYS=${SEASONS_INTERVAL_DAYS:-14}
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
  --set retrain.pair_window_hours=336 --set retrain.epochs=10 --set retrain.promote_margin=-0.1
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
# recovery_days CSV CHANGE LEVEL: days from the change to the first week from
# which two weeks' pooled HR@10 reaches 90% of LEVEL (999: not in 12 weeks).
recovery_days() {
  local w from to
  for w in $(seq 0 11); do
    from=$(date -u -d "$2 + $((7 * w)) days" +%F); to=$(date -u -d "$2 + $((7 * w + 14)) days" +%F)
    if awk "BEGIN { exit !($(hr "$1" "$from" "$to") >= 0.9 * $3) }"; then echo $((7 * w)); return; fi
  done
  echo 999
}
first_share=""
for change in 2025-10-01 2026-10-01; do
  year=${change%%-*}
  before=$(date -u -d "$change - 28 days" +%F); week1=$(date -u -d "$change + 7 days" +%F)
  after=$(date -u -d "$change + 56 days" +%F)
  # Windows are picked by their start (weekly, epoch-aligned: Thursdays): the
  # level from the four weeks before the change, the dip from the first week from it.
  level=$(hr "$WORK/retrain.csv" "$before" "$(date -u -d "$change - 6 days" +%F)")
  dip=$(hr "$WORK/retrain.csv" "$change" "$week1")
  on=$(hr "$WORK/retrain.csv" "$change" "$after"); off=$(hr "$WORK/frozen.csv" "$change" "$after")
  recovery=$(recovery_days "$WORK/retrain.csv" "$change" "$level")
  share=$(awk "BEGIN { printf \"%.3f\", $(hr "$WORK/retrain.csv" "$change" "$(date -u -d "$change + $INTERVAL_DAYS days" +%F)") / $level }")
  frozen_recovery=$(recovery_days "$WORK/frozen.csv" "$change" "$level")
  echo "winter $year: level before $level, first week $dip; recovered after $recovery days (frozen: $frozen_recovery);" \
       "8 weeks after: retraining $on, frozen $off; first $INTERVAL_DAYS days at $share of the level"
  check "winter $year: HR@10 dips at the change ($dip < 0.7 x $level)" "$dip < 0.7 * $level"
  check "winter $year: back to >= 90% within one retrain interval ($recovery <= $INTERVAL_DAYS days)" \
    "$recovery <= $INTERVAL_DAYS"
  check "winter $year: frozen stays lower ($off < $on)" "$off < $on"
  if [ -z "$first_share" ]; then first_share=$share; else
    check "the second winter recovers faster than the first ($share > $first_share of the level in the first $INTERVAL_DAYS days)" \
      "$share > $first_share"
  fi
done
total_on=$(awk -F, 'NR > 1 { p += $2; h += $3 } END { printf "%.4f", h / p }' "$WORK/retrain.csv")
total_off=$(awk -F, 'NR > 1 { p += $2; h += $3 } END { printf "%.4f", h / p }' "$WORK/frozen.csv")
echo "two years: retraining $total_on, frozen $total_off ($(awk "BEGIN { printf \"%+.1f%%\", 100 * ($total_on / $total_off - 1) }"))"
exit $status
