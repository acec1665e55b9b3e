#!/usr/bin/env bash
# The main job, on one machine with nothing else running: recd on its embedded
# Kafka cluster, fed by the generator, printing lists as they are published.
# First a PinSage model is trained on a generated history of the same shop
# (about a minute; DEMO_MODEL=0 skips it and the co-occurrence ranker serves);
# recd serves it live, re-embedding items as events arrive, and retrains it in
# the background every 7 days of the shop's event time (about every 80 s at
# the demo's rate), promoting a candidate only when it beats the active model
# (`grep retrain run/demo/recd.log`; the versions are in run/demo/models).
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

model_args=()
if [ "${DEMO_MODEL:-1}" != 0 ]; then
  echo "training a PinSage model on a generated history of the shop (rectrain; log: $dir/rectrain.log)"
  build/tools/recgen --seed 99 --events 50000 --users 2000 --items 800 -o "$dir/history.jsonl" 2>/dev/null
  build/tools/rectrain --events "$dir/history.jsonl" -o "$dir/models" --epochs 4 --max-batches 80 >"$dir/rectrain.log" 2>&1
  model_args=(--set "model.dir=$dir/models" --set retrain.enabled=true --set retrain.epochs=4
              --set retrain.max_batches_per_epoch=80)
fi
# setsid: the terminal's Ctrl-C reaches only this script, whose trap sends recd
# one SIGTERM (an orderly stop); a second signal would make recd exit at once.
setsid build/daemon/recd -c config/recd.toml --set kafka.embedded=true --set "store.path=$dir/store" \
  --set "kafka.embedded_bootstrap_file=$dir/bootstrap" --set pipeline.stats_interval_ms=5000 "${model_args[@]}" \
  >"$dir/recd.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || { echo "recd did not start; see $dir/recd.log"; tail "$dir/recd.log"; exit 1; }
brokers=$(cat "$dir/bootstrap")
echo "recd is running on an embedded Kafka cluster at $brokers (log: $dir/recd.log)"
echo "recgen is producing ~${DEMO_RATE:-500} events/s; lists follow as 'user [source]: items'. Ctrl-C to stop."
echo "Pull one: curl 'http://127.0.0.1:9464/v1/users/u1/recommendations?k=5'   (status: /v1/status, metrics: /metrics)"
build/tools/recgen --seed "${DEMO_SEED:-1}" --events "${DEMO_EVENTS:-1000000}" --users 2000 --items 800 \
  --malformed-fraction 0.01 --rate "${DEMO_RATE:-500}" -b "$brokers" 2>>"$dir/recgen.log" &
pids+=($!)
build/tools/recctl read -b "$brokers" -t recd.recommendations --follow --pretty &
pids+=($!)
wait "${pids[0]}"
