#!/usr/bin/env bash
# Install every build, test and run dependency of recd from Debian 12's packages.
# (libopenblas0-pthread: without it Debian's LibTorch runs on the reference BLAS,
# about 4x slower. clang-14 and libclang-rt-14-dev: the libFuzzer harnesses,
# scripts/fuzz.sh. openssl: the throwaway CA of the TLS test, tests/e2e/tls.sh.
# curl, wrk and prometheus (for promtool): the admin server's test and
# benchmark, tests/e2e/admin_http.sh and scripts/bench_http.sh. systemd: its
# systemd-analyze and systemd-sysusers check the installed unit (procps: the
# kill its ExecReload runs),
# tests/install_test.sh.)
# Works as root or through sudo; does nothing when everything is already installed.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config ccache git
  librdkafka-dev librocksdb-dev libsimdjson-dev libtorch-dev libopenblas0-pthread libhnswlib-dev
  libboost-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libcli11-dev
  libsystemd-dev prometheus-cpp-dev nlohmann-json3-dev gnuplot-nox libeigen3-dev libxgboost-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 libclang-rt-14-dev
  maven default-jre-headless openssl curl wrk prometheus systemd procps
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "setup: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
# The prometheus package is here for promtool only: on a machine run by
# systemd its server starts with the install; stop it and keep it off.
if [[ " ${missing[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null &&
   systemctl is-enabled --quiet prometheus 2>/dev/null; then
  "${sudo[@]}" systemctl disable --now prometheus || true
fi
