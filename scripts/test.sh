#!/usr/bin/env bash
# Set up, build, and run every test: unit, integration (embedded Kafka cluster) and
# end-to-end (a real Apache Kafka 3.9 broker, fetched with Maven and started here).
#   scripts/test.sh [ctest args...]      e.g. scripts/test.sh -L unit
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
scripts/kafka.sh fetch
ctest --test-dir build --output-on-failure --timeout 900 "$@"
