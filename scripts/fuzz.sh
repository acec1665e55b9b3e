#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz) with clang in BUILD_DIR and runs
# each for SECONDS from its seeds: tests/fuzz/corpus/<target>/ and the binary
# seeds fuzz_seeds writes with this build's own writers. Stops at the first
# crash, leak or timeout, with the input saved in BUILD_DIR/fuzz-artifacts/
# (replay: BUILD_DIR/tests/fuzz/<target> <file>); then make it a unit test.
# usage: scripts/fuzz.sh [BUILD_DIR (build-fuzz)] [SECONDS (60)]
set -euo pipefail
SRC=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$SRC/build-fuzz}
SECONDS_EACH=${2:-${FUZZ_SECONDS:-60}}
TARGETS=(fuzz_decoder fuzz_config fuzz_records fuzz_state_files)
command -v clang++-14 >/dev/null || { echo "fuzz: clang++-14 is missing: run scripts/setup.sh" >&2; exit 1; }
if [ ! -f "$BUILD/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DRECD_FUZZ=ON -DRECD_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD" --target "${TARGETS[@]}" fuzz_seeds
WORK=$(mktemp -d "${TMPDIR:-/tmp}/recd-fuzz.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
ARTIFACTS="$BUILD/fuzz-artifacts"
mkdir -p "$ARTIFACTS"
"$BUILD/tests/fuzz/fuzz_seeds" "$WORK/seeds"
status=0
for target in "${TARGETS[@]}"; do
  seeds=()
  for dir in "$SRC/tests/fuzz/corpus/$target" "$WORK/seeds/$target"; do
    [ -d "$dir" ] && seeds+=("$dir")
  done
  mkdir -p "$WORK/corpus/$target"
  max_len=4096
  [ "$target" = fuzz_decoder ] && max_len=70000  # past the decoder's 64 KiB limit
  echo "fuzz: $target for ${SECONDS_EACH} s"
  if ! "$BUILD/tests/fuzz/$target" -max_total_time="$SECONDS_EACH" -max_len="$max_len" -timeout=10 \
      -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$ARTIFACTS/$target-" \
      "$WORK/corpus/$target" "${seeds[@]}" >"$WORK/$target.log" 2>&1; then
    tail -60 "$WORK/$target.log"
    echo "fuzz: $target FAILED; the input is in $ARTIFACTS" >&2
    status=1
    continue
  fi
  grep -E "^stat::number_of_executed_units|^stat::new_units_added|cov:" "$WORK/$target.log" | tail -3
done
exit $status
