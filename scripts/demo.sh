#!/usr/bin/env bash
# The main job, on one machine with nothing else running: recd on its embedded
# Kafka cluster, fed by the generator, printing lists as they are published.
# Ctrl-C stops everything in order.  State lives in ./run/demo (deleted at start).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
dir=run/demo
rm -rf "$dir"; mkdir -p "$dir"
pids=()
stop() {
  trap - INT TERM EXIT
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  echo "demo stopped; recd's log is in $dir/recd.log"
}
trap stop INT TERM EXIT

build/daemon/recd -c config/recd.toml --set kafka.embedded=true --set "store.path=$dir/store" \
  --set "kafka.embedded_bootstrap_file=$dir/bootstrap" --set pipeline.stats_interval_ms=5000 \
  >"$dir/recd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || { echo "recd did not start; see $dir/recd.log"; tail "$dir/recd.log"; exit 1; }
brokers=$(cat "$dir/bootstrap")
echo "recd is running on an embedded Kafka cluster at $brokers (log: $dir/recd.log)"
echo "recgen is producing ~${DEMO_RATE:-500} events/s; lists follow as 'user [source]: items'. Ctrl-C to stop."
build/tools/recgen --seed "${DEMO_SEED:-1}" --events "${DEMO_EVENTS:-1000000}" --users 2000 --items 800 \
  --malformed-fraction 0.01 --rate "${DEMO_RATE:-500}" -b "$brokers" 2>>"$dir/recgen.log" &
pids+=($!)
build/tools/recctl read -b "$brokers" -t recd.recommendations --follow --pretty &
pids+=($!)
wait "${pids[0]}"
