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
