#!/usr/bin/env bash
# Reproduces the pipeline issue's performance figures with one command:
#   1. Google Benchmark: decode+validate, graph apply (WAL on, batched), GraphView
#      bytes per edge, ranker cost per list;
#   2. PinSage training: one epoch over EVENTS interactions (rectrain; the GPU
#      when there is one);
#   3. end to end through a real Kafka broker on loopback: EVENTS pre-produced
#      events, then recd consumes, applies (synced WAL) and publishes lists; the
#      sustained rate is measured from recd's first commit to its last.
#   4. freshness: recd with a PinSage model while recgen produces at
#      BENCH_RATE events/s (default 5000); p50/p99 from /metrics.
#   5. retrain: the same two measures while a retraining runs in the daemon
#      (triggered by POST /v1/retrain once a quarter of the events is in):
#      the backlog's ingest rate and freshness at BENCH_RATE, each over the
#      stretch from the trigger on; BENCH_RETRAIN=0 gives the same run untriggered.
#   usage: scripts/bench.sh [EVENTS]     (default 1000000)
#   BENCH_SECTIONS="micro pinsage train e2e freshness" picks sections (default:
#   all but freshness); BENCH_BUILD=DIR measures another build (e.g. an older
#   commit's, for a before/after pair); BENCH_MODEL=1 runs the e2e section with
#   a PinSage model and its refresher (trained first on a sample of the events).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
EVENTS=${1:-1000000}
SECTIONS=" ${BENCH_SECTIONS:-micro pinsage train e2e} "
scripts/setup.sh >/dev/null
if [ -n "${BENCH_BUILD:-}" ]; then
  BUILD=$(cd "$BENCH_BUILD" && pwd)
  # That build's own config: keys differ between versions.
  export RECD_CONFIG=$(sed -n 's/^CMAKE_HOME_DIRECTORY:INTERNAL=//p' "$BUILD/CMakeCache.txt")/config/recd.toml
else
  scripts/build.sh build >/dev/null
  BUILD=$SRC/build
fi
scripts/kafka.sh fetch
want() { [[ "$SECTIONS" == *" $1 "* ]]; }

if want micro; then
echo "== micro-benchmarks (one core each)"
"$BUILD/tests/recd_bench" --benchmark_min_time=2 ${BENCH_FILTER:+--benchmark_filter=$BENCH_FILTER} 2>/dev/null
fi
if want pinsage; then
echo "== PinSage inference (d = 64; RECD_BENCH_DEVICE=cuda on a GPU host)"
"$BUILD/tests/pinsage_bench" 2>/dev/null
fi

if want train; then
echo "== PinSage training: one epoch over $EVENTS interactions (device auto)"
work=$(mktemp -d)
"$BUILD/tools/recgen" --seed 7 --events "$EVENTS" --users 50000 --items 10000 -o "$work/train.jsonl" 2>/dev/null
"$BUILD/tools/rectrain" --events "$work/train.jsonl" -o "$work/models" --epochs 1 | grep -E "^(training set|epoch|best)"
rm -rf "$work"
fi

# bench_model DIR: a small PinSage model over recgen seed 3's catalogue (the
# e2e and freshness sections' events), for runs with the refresher.
bench_model() {
  "$BUILD/tools/recgen" --seed 3 --events 200000 --users 50000 --items 10000 --no-metadata -o "$1/sample.jsonl" 2>/dev/null
  "$BUILD/tools/rectrain" --events "$1/sample.jsonl" -o "$1/models" --epochs 1 --max-batches 100 >/dev/null 2>&1
  echo "$1/models"
}

if want freshness; then
RATE=${BENCH_RATE:-5000}
echo "== freshness: recd (PinSage model on the cpu unless BENCH_MODEL=0) while $EVENTS events arrive at $RATE/s"
(
. "$SRC/tests/e2e/lib.sh"
start_broker >/dev/null
model_args=()  # BENCH_MODEL=0: the co-occurrence ranker, for comparison
[ "${BENCH_MODEL:-1}" = 0 ] || model_args=(--set "model.dir=$(bench_model "$WORK")" --set model.device=cpu)
# BENCH_RECD_ARGS: extra recd flags (e.g. "--set pipeline.publish_interval_ms=100")
start_recd "$WORK/recd.log" "${model_args[@]}" --set pipeline.stats_interval_ms=100000 ${BENCH_RECD_ARGS:-}
port=$(admin_port "$WORK/recd.log")
"$BUILD/tools/recgen" --seed 3 --events "$EVENTS" --users 50000 --items 10000 --no-metadata --duplicate-fraction 0 \
  --rate "$RATE" -b "$BROKERS" 2>/dev/null
wait_total "$EVENTS" 600
sleep 2
echo "freshness p50 $(metric "$port" recd_freshness_p50_seconds) s, p99 $(metric "$port" recd_freshness_p99_seconds) s" \
  "over $(metric "$port" recd_freshness_seconds_count) lists; $(metric "$port" recd_model_items_refreshed_total) items re-embedded"
kill -TERM "$RECD_PID"; wait "$RECD_PID" || true; RECD_PID=""
)
fi

# hist_quantile Q BEFORE AFTER: the Q-quantile of the freshness histogram's
# increase between two /metrics captures (linear within a bucket, as recd's own).
hist_quantile() {
  awk -v q="$1" '
    FNR == NR && /^recd_freshness_seconds_bucket/ { before[$1] = $2; next }
    /^recd_freshness_seconds_bucket/ { match($1, /le="[^"]*"/); le = substr($1, RSTART + 4, RLENGTH - 5)
                                        n++; bound[n] = le; cum[n] = $2 - before[$1] }
    END { total = cum[n]; if (total == 0) { print "nan"; exit }
          target = q * total; lo = 0; prev = 0
          for (i = 1; i <= n; i++) { if (cum[i] >= target) { hi = bound[i]
              if (hi == "+Inf") { print lo; exit }
              printf "%.3f\n", lo + (hi - lo) * (target - prev) / (cum[i] - prev + 1e-12); exit }
            lo = bound[i]; prev = cum[i] } }' "$2" "$3"
}

if want retrain; then
RATE=${BENCH_RATE:-5000}
epochs=${BENCH_RETRAIN_EPOCHS:-20}
echo "== during retraining (BENCH_RETRAIN=${BENCH_RETRAIN:-1}; $epochs epochs at most): backlog ingest of $EVENTS events," \
  "then freshness at $RATE events/s"
(
. "$SRC/tests/e2e/lib.sh"
start_broker >/dev/null
head -c 24 /dev/urandom | base64 >"$WORK/token"; chmod 600 "$WORK/token"
model=$(bench_model "$WORK")
args=(--set "model.dir=$model" --set model.device=cpu --set "admin.token_file=$WORK/token"
      --set "retrain.epochs=$epochs" --set pipeline.stats_interval_ms=100000)
scrape() { exec 3<>"/dev/tcp/127.0.0.1/$1"; printf 'GET /metrics HTTP/1.0\r\n\r\n' >&3; cat <&3 >"$2"; exec 3<&- 3>&-; }
# BENCH_RETRAIN=process: the child-process alternative, measured by its nearest
# equivalent: rectrain on the live store (read-only), at the same nice value
# and LibTorch thread count.
trigger() {
  case "${BENCH_RETRAIN:-1}" in
    0) ;;
    process) OMP_NUM_THREADS=1 nice -n 15 "$BUILD/tools/rectrain" --store "$WORK/store" -o "$WORK/external" --device cpu --epochs "$epochs" \
               --pair-window-hours 72 >"$WORK/external.log" 2>&1 &
             EXTERNAL=$! ;;
    *) "$BUILD/tools/recctl" retrain --admin "127.0.0.1:$1" --token-file "$WORK/token" >/dev/null ;;
  esac
}
training() {  # 1 while the training runs (in the daemon, or the external process)
  if [ "${BENCH_RETRAIN:-1}" = process ]; then kill -0 "$EXTERNAL" 2>/dev/null && echo 1 || echo 0
  else metric "$1" recd_retrain_running; fi
}
# (1) Backlog: ingest rate from the trigger (a quarter in) to the last commit.
"$BUILD/tools/recgen" --seed 3 --events "$EVENTS" --users 50000 --items 10000 --no-metadata --duplicate-fraction 0 \
  -b "$BROKERS" 2>/dev/null
start_recd "$WORK/recd.log" "${args[@]}"
port=$(admin_port "$WORK/recd.log")
wait_total "$((EVENTS / 4))" 600
n0=$(store_total); t0=$(date +%s.%N); trigger "$port"
running_at_end=0
while :; do
  n=$(store_total || echo 0); now=$(date +%s.%N)
  [ "$(training "$port")" = 1 ] && running_at_end=1 || running_at_end=0
  [ "${n:-0}" -ge "$EVENTS" ] && break
  sleep 0.2
done
awk -v n="$((n - n0))" -v s="$(awk "BEGIN {print $now - $t0}")" -v r="$running_at_end" 'BEGIN {
  printf "ingest: %d events in %.1f s after the trigger = %d events/s (training still running at the end: %s)\n", n, s, n / s, r ? "yes" : "no" }'
while [ "$(training "$port")" = 1 ]; do sleep 1; done
if [ "${BENCH_RETRAIN:-1}" = process ]; then echo "external training: $(grep -E "^best epoch" "$WORK/external.log" || tail -1 "$WORK/external.log")"
else echo "retraining: $(metric "$port" recd_retrain_last_seconds) s; candidate HR@10 $(metric "$port" recd_retrain_last_candidate_hr_at_10)," \
  "active $(metric "$port" recd_retrain_last_active_hr_at_10); promotions $(metric "$port" recd_retrain_promotions_total)"; fi
kill -TERM "$RECD_PID"; wait "$RECD_PID" || true; RECD_PID=""
# (2) Freshness at RATE: the histogram's increase from the trigger on.
"$SRC/scripts/kafka.sh" stop "$WORK/kafka" >/dev/null; rm -rf "$WORK/kafka" "$WORK/store" "$WORK/store-live"
start_broker >/dev/null
start_recd "$WORK/recd2.log" "${args[@]}"
port=$(admin_port "$WORK/recd2.log")
"$BUILD/tools/recgen" --seed 3 --events "$EVENTS" --users 50000 --items 10000 --no-metadata --duplicate-fraction 0 \
  --rate "$RATE" -b "$BROKERS" 2>/dev/null &
gen=$!
wait_total "$((EVENTS / 4))" 600
scrape "$port" "$WORK/m0"; trigger "$port"; t0=$(date +%s.%N)
wait "$gen"; wait_total "$EVENTS" 600; sleep 2
scrape "$port" "$WORK/m1"; t1=$(date +%s.%N)
echo "freshness from the trigger on ($(awk "BEGIN {printf \"%.0f\", $t1 - $t0}") s): p50 $(hist_quantile 0.5 "$WORK/m0" "$WORK/m1") s," \
  "p99 $(hist_quantile 0.99 "$WORK/m0" "$WORK/m1") s; retraining running at the end: $(training "$port")," \
  "last retraining $(metric "$port" recd_retrain_last_seconds) s"
kill -TERM "$RECD_PID"; wait "$RECD_PID" || true; RECD_PID=""
)
fi

want e2e || exit 0
echo "== end to end through a real broker: $EVENTS events${BENCH_MODEL:+, with a PinSage model and its refresher}"
. "$SRC/tests/e2e/lib.sh"
start_broker >/dev/null
model_args=()
if [ -n "${BENCH_MODEL:-}" ]; then model_args=(--set "model.dir=$(bench_model "$WORK")" --set model.device=cpu); fi
t0=$(date +%s.%N)
"$BUILD/tools/recgen" --seed 3 --events "$EVENTS" --users 50000 --items 10000 --no-metadata \
  --duplicate-fraction 0 -b "$BROKERS" 2>/dev/null
t1=$(date +%s.%N)
echo "produced $EVENTS events in $(awk "BEGIN {printf \"%.1f\", $t1 - $t0}") s (recgen, idempotent producer)"
start_recd "$WORK/recd.log" --set pipeline.stats_interval_ms=100000 "${model_args[@]}"
first_t=""; first_n=0
while :; do
  n=$(store_total || echo 0); now=$(date +%s.%N)
  if [ -z "$first_t" ] && [ "${n:-0}" -gt 0 ]; then first_t=$now; first_n=$n; fi
  [ "${n:-0}" -ge "$EVENTS" ] && break
  kill -0 "$RECD_PID" || { echo "recd died"; tail "$WORK/recd.log"; exit 1; }
  sleep 0.2
done
awk -v n="$((n - first_n))" -v s="$(awk "BEGIN {print $now - $first_t}")" 'BEGIN {
  printf "recd: %d events in %.1f s from first to last commit = %d events/s sustained\n", n, s, n / s
  print "      (consume, decode, apply with synced WAL, rank, publish)" }'
kill -TERM "$RECD_PID"; wait "$RECD_PID" || true; RECD_PID=""
grep -E "lists published" "$WORK/recd.log" | tail -1
